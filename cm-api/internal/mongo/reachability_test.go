package mongo

import (
	"errors"
	"testing"
)

func TestUnreachableOnlyWhenEveryServerFailedItsLastHeartbeat(t *testing.T) {
	refused := errors.New("connection refused")
	cases := []struct {
		name    string
		servers map[string]error
		down    bool
	}{
		{"no heartbeat yet", map[string]error{}, false},
		{"one server answering", map[string]error{"a:27017": nil}, false},
		{"one of three answering", map[string]error{"a:27017": refused, "b:27017": nil, "c:27017": refused}, false},
		{"the only server failing", map[string]error{"a:27017": refused}, true},
		{"all failing", map[string]error{"a:27017": refused, "b:27017": refused}, true},
	}
	for _, c := range cases {
		err := unreachable(c.servers)
		if (err != nil) != c.down || (err != nil && !errors.Is(err, ErrUnreachable)) {
			t.Errorf("%s: %v, want down=%v", c.name, err, c.down)
		}
	}
}

func TestReachabilityFollowsHeartbeatsPerServer(t *testing.T) {
	r := newReachability()
	r.heartbeat("127.0.0.1:27017[-1]", errors.New("connection refused"))
	if r.check() == nil {
		t.Fatal("the only server failed: must be unreachable")
	}
	// A later heartbeat on another connection to the same server answers.
	r.heartbeat("127.0.0.1:27017[-2]", nil)
	if err := r.check(); err != nil {
		t.Fatalf("the server answered again: %v", err)
	}
	if got := serverAddr("db-0.mongo:27017[-12]"); got != "db-0.mongo:27017" {
		t.Fatalf("serverAddr = %q", got)
	}
}
