package mongo

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/event"
)

// ErrUnreachable is returned at once, without a round trip, while every server
// of the deployment failed its last heartbeat: a look-up then answers 503 in
// microseconds instead of holding a connection for mongo.timeout.
var ErrUnreachable = errors.New("mongodb unreachable")

// reachability follows the driver's heartbeats: per server, whether the last one
// failed. The driver keeps checking in the background (every heartbeatInterval),
// so recovery is seen without any request having to try.
type reachability struct {
	mu      sync.Mutex
	servers map[string]error // last heartbeat per server address; nil: it answered
}

func newReachability() *reachability { return &reachability{servers: map[string]error{}} }

func (r *reachability) monitor() *event.ServerMonitor {
	return &event.ServerMonitor{
		ServerHeartbeatSucceeded: func(e *event.ServerHeartbeatSucceededEvent) { r.heartbeat(e.ConnectionID, nil) },
		ServerHeartbeatFailed:    func(e *event.ServerHeartbeatFailedEvent) { r.heartbeat(e.ConnectionID, e.Failure) },
		ServerClosed: func(e *event.ServerClosedEvent) {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.servers, e.Address.String())
		},
	}
}

func (r *reachability) heartbeat(connectionID string, err error) {
	addr := serverAddr(connectionID)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.servers[addr] = err
}

// serverAddr is the server part of a driver connection id, "host:port[-7]".
func serverAddr(connectionID string) string {
	addr, _, _ := strings.Cut(connectionID, "[-")
	return addr
}

// check returns nil unless every server known so far failed its last heartbeat.
func (r *reachability) check() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return unreachable(r.servers)
}

// unreachable decides from the last heartbeat per server. No heartbeat yet (just
// started) is not an outage: the operation tries and fails on its own timeout.
func unreachable(servers map[string]error) error {
	var last error
	for _, err := range servers {
		if err == nil {
			return nil
		}
		last = err
	}
	if last == nil {
		return nil
	}
	return fmt.Errorf("%w (every server failed its last check: %v); retry later", ErrUnreachable, last)
}
