package e2e

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// A consumer whose broker stops answering its fetches is stalled: it holds
// partitions with lag, and nothing it can do will move them. Its liveness
// (/healthz) answers 503 so that the kubelet restarts it, while readiness stays
// 200; once the broker answers again the reader gets going (the watchdog has
// made it rejoin the group by then), /healthz is 200 again, and everything
// produced meanwhile is stored once with the lag back to 0.
func TestAConsumerWhoseFetchesHangFailsLivenessUntilItMovesAgain(t *testing.T) {
	needLocal(t)
	freezer := newFetchFreezer()
	k, m := testenv.StartKafkaListening(t, freezer.listen), testenv.StartMongo(t)
	api := startProc(t, "cm-api", testenv.Merge(k.APIEnv(), m.APIEnv(), map[string]string{
		"CM_API_AUTH_TOKEN": testenv.Token, "CM_API_CURSOR_KEY": testenv.CursorKey,
		// The shortest the configuration allows beside a 6 s session timeout
		// (twice it); the rejoin watchdog acts after four session timeouts.
		"CM_API_KAFKA_SESSION_TIMEOUT": "6s", "CM_API_CONSUMER_STALL_TIMEOUT": "12s",
	}))
	user := uid("stall")
	produce := func(n, from int) {
		for i := range n {
			k.Produce(t, k.Topic, record(t, user, from+i))
		}
	}
	produce(2, 0)
	waitStoredOn(t, api.URL(), user, 2)
	testenv.WaitFor(t, 60*time.Second, "cm-api /readyz with every check ok", func() bool { return allUp(api.URL()) })

	freezer.Freeze()
	// A fetch the broker took before the freeze could still answer with records
	// produced after it: wait until each is answered and the next held back.
	testenv.WaitFor(t, 30*time.Second, "the broker to answer the fetches it has and hold back the next", func() bool {
		return freezer.held.Load() > 0 && freezer.answering.Load() == 0
	})
	// Records on every partition, so that whichever the member holds have lag.
	produce(12, 2)
	var live liveness
	testenv.WaitFor(t, 120*time.Second, "cm-api /healthz to answer 503 stalled", func() bool {
		live = healthz(t, api.URL())
		if live.code == http.StatusOK {
			return false
		}
		if live.code != http.StatusServiceUnavailable || live.Status != "stalled" || live.Consumer == "" {
			t.Fatalf("cm-api /healthz %d %+v while its fetches hang, want 503 stalled with the reason", live.code, live)
		}
		return true
	})
	if r := mustBeReady(t, "cm-api", api.URL()); r.Checks["consumer"] != live.Consumer {
		t.Errorf("cm-api /readyz consumer check %q while stalled, want the reason /healthz gives: %q", r.Checks["consumer"], live.Consumer)
	}
	// Before the broker answers again the watchdog replaces the reader: it
	// leaves the group and joins anew, whose fetches hang the same way.
	testenv.WaitFor(t, 120*time.Second, "the watchdog to make the reader rejoin", func() bool {
		return len(logLines(api.logs.String(), "rejoining the group")) > 0
	})
	if n := countStoredOn(t, api.URL(), user); n != 2 {
		t.Fatalf("%d purchases of %s stored while the broker held back every fetch, want the 2 from before", n, user)
	}
	if code := healthz(t, api.URL()).code; code != http.StatusServiceUnavailable {
		t.Fatalf("cm-api /healthz %d after the rejoin with fetches still hanging, want 503", code)
	}

	freezer.Thaw()
	testenv.WaitFor(t, 120*time.Second, "cm-api /healthz to answer 200 again", func() bool {
		return healthz(t, api.URL()).code == http.StatusOK
	})
	waitStoredOn(t, api.URL(), user, 14)
	if lag := waitGroupLag(t, k, 120*time.Second); lag != 0 {
		t.Fatalf("consumer lag %d after the broker answers again, want 0", lag)
	}
	if n := countStoredOn(t, api.URL(), user); n != 14 {
		t.Errorf("%d purchases of %s stored, want 14, each once", n, user)
	}
	if !api.alive() {
		t.Error("cm-api exited: it was to recover by itself (nothing here restarts it)")
	}
}

// liveness is a /healthz answer.
type liveness struct {
	code     int
	Status   string `json:"status"`
	Consumer string `json:"consumer"`
}

func healthz(t *testing.T, base string) liveness {
	t.Helper()
	code, _, raw := send(t, "GET", base+"/healthz", "", "")
	l := liveness{code: code}
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatalf("/healthz of %s: %d without JSON: %s", base, code, raw)
	}
	return l
}

// alive reports whether the process still runs.
func (p *proc) alive() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		return false
	default:
		return true
	}
}

// record is a purchase event of user, the nth, as a Kafka record.
func record(t *testing.T, user string, n int) kafka.Message {
	t.Helper()
	now := time.Now().UTC()
	e := contract.NewEvent(uuid.Must(uuid.NewV7()).String(),
		contract.Purchase{UserID: user, Username: "Stall", PriceCents: int64(100 + n), Timestamp: now.Add(time.Duration(n) * time.Second)}, now)
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Key: []byte(user), Value: b}
}

func waitStoredOn(t *testing.T, api, user string, n int) {
	t.Helper()
	testenv.WaitFor(t, 120*time.Second, fmt.Sprintf("%d purchases of %s stored", n, user), func() bool {
		return countStoredOn(t, api, user) >= n
	})
}

func countStoredOn(t *testing.T, api, user string) int {
	t.Helper()
	return countStored(t, api+"/buyList/"+user+"?limit=100")
}

// fetchFreezer makes the embedded broker's listener stop answering fetches on
// request, as a broker does whose fetch path hangs: connections are accepted,
// and metadata, group membership, heartbeats, offsets, commits and produce are
// served, but while frozen the broker does not read a connection's Fetch
// request, nor anything after it on that connection, until thawed. It is the
// socket of a real broker process (kfake, in this test's process) that hangs;
// cm-api, a process of its own, is not touched.
type fetchFreezer struct {
	testenv.Gate
	held      atomic.Int64 // fetch requests held back so far
	answering atomic.Int64 // fetch requests the broker has and has not answered yet
}

func newFetchFreezer() *fetchFreezer { return &fetchFreezer{} }

// listen is net.Listen with every accepted connection passing through f.
func (f *fetchFreezer) listen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &freezingListener{Listener: l, f: f}, nil
}

type freezingListener struct {
	net.Listener
	f *fetchFreezer
}

func (l *freezingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &freezingConn{Conn: c, f: l.f, closed: make(chan struct{})}, nil
}

// fetchAPIKey is the Kafka protocol's API key of Fetch: a request is a 4-byte
// size, then the API key (int16), its version, the correlation id, ...
const fetchAPIKey = 1

// freezingConn hands the broker one whole request at a time, so that it can
// hold a Fetch back before the broker sees any of it, and counts the fetches
// the broker has not answered yet: it answers a connection's requests in order,
// each response in one write (a produce with acks=0 would get none, but the
// fetch connections of kafka-go carry only list-offsets and fetch requests).
type freezingConn struct {
	net.Conn
	f         *fetchFreezer
	pending   []byte // the rest of the request being read
	mu        sync.Mutex
	asked     []bool // per request handed over and not yet answered: is it a fetch
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *freezingConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		var size [4]byte
		if _, err := io.ReadFull(c.Conn, size[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(size[:])
		if n > 100<<20 {
			return 0, errors.New("kafka request larger than 100 MiB")
		}
		req := make([]byte, 4+n)
		copy(req, size[:])
		if _, err := io.ReadFull(c.Conn, req[4:]); err != nil {
			return 0, err
		}
		fetch := n >= 2 && binary.BigEndian.Uint16(req[4:6]) == fetchAPIKey
		if thawed := c.f.Wait(); fetch && thawed != nil {
			c.f.held.Add(1)
			select {
			case <-thawed:
			case <-c.closed:
				return 0, net.ErrClosed
			}
		}
		c.mu.Lock()
		c.asked = append(c.asked, fetch)
		if fetch {
			c.f.answering.Add(1)
		}
		c.mu.Unlock()
		c.pending = req
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func (c *freezingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	if len(c.asked) > 0 {
		if c.asked[0] {
			c.f.answering.Add(-1)
		}
		c.asked = c.asked[1:]
	}
	c.mu.Unlock()
	return n, err
}

// Close is the broker giving up the connection (the client went away, say after
// its own deadline): fetches it had not answered never will be.
func (c *freezingConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	err := c.Conn.Close()
	c.mu.Lock()
	for _, fetch := range c.asked {
		if fetch {
			c.f.answering.Add(-1)
		}
	}
	c.asked = nil
	c.mu.Unlock()
	return err
}
