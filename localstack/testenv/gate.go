package testenv

import "sync"

// Gate holds back what a test's proxy in front of a real server chooses to
// hold (a broker's fetches, a store's queries) while frozen, and lets it all
// go on when thawed: a server that is up but does not answer one kind of
// request. The zero Gate is thawed.
type Gate struct {
	mu     sync.Mutex
	thawed chan struct{} // nil while thawed; closed on thaw
}

// Freeze holds everything that asks Wait from now on, until Thaw.
func (g *Gate) Freeze() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.thawed == nil {
		g.thawed = make(chan struct{})
	}
}

// Thaw lets everything held go on. Thawing a thawed gate does nothing.
func (g *Gate) Thaw() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.thawed != nil {
		close(g.thawed)
		g.thawed = nil
	}
}

// Wait returns the channel to wait on before passing, nil to pass now.
func (g *Gate) Wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.thawed
}
