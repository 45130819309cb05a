package mongo

import (
	"maps"
	"sync"
)

// What this process wrote, kept so that it need not read it back: the
// positions of the purchases SavePurchases inserted, which the projection
// in the same process (role all) then reads from memory rather than with one
// look-up by _id per purchase, and the summaries the projection wrote last,
// which the next window starts from instead of reading them again. On
// FerretDB each of those reads is a statement, and statements are what the
// projection's rate is made of.
//
// Both are hints that cannot make a result wrong: a purchase document never
// changes once inserted, and a remembered summary is written back only by
// the conditional replace on its version, which fails if any other writer
// (another replica, after a rebalance) changed it since; the conflict drops
// it and the store is read again. A miss, after a restart or an eviction, is
// a read.
type memo[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]V
	max int
}

func newMemo[K comparable, V any](size int) *memo[K, V] {
	return &memo[K, V]{m: map[K]V{}, max: size}
}

func (c *memo[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m { // an arbitrary one
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

// take returns k's value and forgets it.
func (c *memo[K, V]) take(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	delete(c.m, k)
	return v, ok
}

func (c *memo[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *memo[K, V]) drop(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// rememberedPositions and rememberedSummaries bound the two: a few windows'
// purchases, and the summaries of some ten thousand active users.
const (
	rememberedPositions = 100_000
	rememberedSummaries = 20_000
)

// clone copies what Fold changes in place, so that a remembered summary is
// not altered by a window whose write then fails.
func (d userDoc) clone() userDoc {
	d.Applied = maps.Clone(d.Applied)
	return d
}
