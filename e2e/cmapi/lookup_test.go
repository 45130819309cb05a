package cmapi_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scalable-shop/shop/cm-api/app"
	serverapp "github.com/scalable-shop/shop/cm-server/app"
	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
	"github.com/scalable-shop/shop/platform/config"
)

// storeFreezer is a TCP proxy in front of the MongoDB-wire server. While frozen
// it holds back every find command, the look-ups' queries, and lets everything
// else through (heartbeats, pings, index builds): a store that is up but does
// not answer queries, as an overloaded one behaves. A held query goes on when
// the freezer thaws.
type storeFreezer struct {
	target string
	ln     net.Listener
	testenv.Gate
	held   atomic.Int64 // find commands waiting now
	closed chan struct{}
}

func startStoreFreezer(t *testing.T, target string) *storeFreezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &storeFreezer{target: target, ln: ln, closed: make(chan struct{})}
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, up)
			mu.Unlock()
			conns.Go(func() { _, _ = io.Copy(c, up); c.Close() })
			conns.Go(func() { f.forward(up, c); up.Close() })
		}
	}()
	t.Cleanup(func() {
		close(f.closed)
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	return f
}

// uri is base with its host replaced by the freezer's.
func (f *storeFreezer) uri(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = f.ln.Addr().String()
	return u.String()
}

// forward copies client messages to the server one wire message at a time,
// holding finds while frozen.
func (f *storeFreezer) forward(up net.Conn, client net.Conn) {
	r := bufio.NewReader(client)
	for {
		var size [4]byte
		if _, err := io.ReadFull(r, size[:]); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(size[:]))
		if n < 16 || n > 48<<20 {
			return
		}
		msg := make([]byte, n)
		copy(msg, size[:])
		if _, err := io.ReadFull(r, msg[4:]); err != nil {
			return
		}
		if command(msg) == "find" {
			if thaw := f.Wait(); thaw != nil {
				f.held.Add(1)
				select {
				case <-thaw:
				case <-f.closed:
				}
				f.held.Add(-1)
			}
		}
		if _, err := up.Write(msg); err != nil {
			return
		}
	}
}

// command is the name of an OP_MSG's command: the first key of its body
// section ("" for anything else).
func command(msg []byte) string {
	const opMsg = 2013
	if len(msg) < 27 || binary.LittleEndian.Uint32(msg[12:16]) != opMsg || msg[20] != 0 {
		return ""
	}
	key := msg[26:] // after header (16), flags (4), kind (1), length (4), type (1)
	if i := strings.IndexByte(string(key), 0); i >= 0 {
		return string(key[:i])
	}
	return ""
}

type answer struct {
	status     int
	retryAfter string
	body       contract.ErrorBody
}

// call asks url with the service token and a generous timeout: a test that
// hangs fails instead of waiting for ever, and no test depends on speed.
func call(t *testing.T, url string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+testenv.Token)
	res, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		if err := json.Unmarshal(b, &a.body); err != nil || a.body.Error.Code == "" {
			t.Errorf("GET %s: %d without a JSON error: %s", url, res.StatusCode, b)
		}
	}
	return a
}

func (a answer) isJSON503() bool {
	return a.status == http.StatusServiceUnavailable && a.retryAfter != "" && a.body.Error.Code == contract.EUnavailable
}

// startFrozenAPI runs cm-api in role api on FerretDB behind a freezer, with env,
// and waits until a look-up answers (its index built, its connections open).
func startFrozenAPI(t *testing.T, env map[string]string) (*testenv.Service, *storeFreezer) {
	t.Helper()
	m := testenv.StartMongo(t)
	u, err := url.Parse(m.URI)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(u.Host, ",") {
		t.Skip("MONGO_URI names a replica set; the freezer proxies one server")
	}
	f := startStoreFreezer(t, u.Host)
	api := testenv.RunAPI(t, testenv.Merge(m.APIEnv(), map[string]string{"CM_API_ROLE": "api", "CM_API_MONGO_URI": f.uri(t, m.URI)}, env))
	testenv.WaitFor(t, 30*time.Second, "a look-up through the freezer", func() bool {
		return call(t, api.URL+"/buyList/warm").status == http.StatusOK
	})
	return api, f
}

// With every slot held by look-ups the store does not answer, the next look-up
// is answered the JSON 503 with Retry-After at once, by cm-api and by cm-server
// in front of it, without reaching the store; the held look-ups finish when the
// store answers again, and their slots serve the next.
func TestLookupsBeyondTheBoundAnswer503WhileTheStoreHoldsTheOthers(t *testing.T) {
	// Deadlines far beyond the test's: only the bound can answer the next one.
	api, f := startFrozenAPI(t, map[string]string{
		"CM_API_LOOKUP_MAX_CONCURRENT": "1", "CM_API_LOOKUP_TIMEOUT": "10m", "CM_API_MONGO_TIMEOUT": "10m",
	})
	k := testenv.StartKafka(t)
	srv := testenv.RunServer(t, testenv.Merge(k.ServerEnv(), map[string]string{"CM_SERVER_CMAPI_URL": api.URL, "CM_SERVER_CMAPI_TIMEOUT": "10m"}))

	f.Freeze()
	held := make(chan answer, 1)
	go func() { held <- call(t, api.URL+"/buyList/ada") }()
	testenv.WaitFor(t, 30*time.Second, "the look-up to hold the one slot and wait for the store", func() bool {
		return f.held.Load() == 1 && testenv.Metric(t, api.URL, "cm_api_lookups_in_flight") == 1
	})

	for _, url := range []string{api.URL + "/buyList/bob", api.URL + "/users/bob", srv.URL + "/getAllUserBuys/bob", srv.URL + "/users/bob"} {
		got := make(chan answer, 1)
		go func() { got <- call(t, url) }()
		// Its answer, or it reached the store: then it was not bounded, and
		// would wait as long as the held one.
		var a answer
		testenv.WaitFor(t, time.Minute, "GET "+url+" to be answered", func() bool {
			select {
			case a = <-got:
				return true
			default:
			}
			if f.held.Load() > 1 {
				t.Fatalf("GET %s beyond the bound reached the store: %d queries wait there", url, f.held.Load())
			}
			return false
		})
		if !a.isJSON503() {
			t.Errorf("GET %s beyond the bound: %d, Retry-After %q, %+v; want the JSON 503 with Retry-After", url, a.status, a.retryAfter, a.body)
		}
	}
	select {
	case a := <-held:
		t.Fatalf("the held look-up answered %d before the store did", a.status)
	default:
	}
	if n := f.held.Load(); n != 1 {
		t.Errorf("%d queries wait at the store, want only the held look-up's: refused look-ups must not reach it", n)
	}
	if got := testenv.Metric(t, api.URL, "cm_api_lookups_shed_total"); got != 4 {
		t.Errorf("cm_api_lookups_shed_total = %v, want 4", got)
	}

	f.Thaw()
	if a := <-held; a.status != http.StatusOK {
		t.Errorf("the held look-up after the store answered: %d %+v, want 200", a.status, a.body)
	}
	if a := call(t, srv.URL+"/getAllUserBuys/bob"); a.status != http.StatusOK {
		t.Errorf("a look-up after the slot came free: %d %+v, want 200", a.status, a.body)
	}
	if got := testenv.Metric(t, api.URL, "cm_api_lookups_in_flight"); got != 0 {
		t.Errorf("cm_api_lookups_in_flight = %v with nothing in flight", got)
	}
}

// A look-up whose store does not answer ends at lookup.timeout with cm-api's
// JSON 503, although one MongoDB operation may take far longer (mongo.timeout):
// the look-up's deadline bounds its store calls.
func TestALookupEndsAtItsOwnDeadline(t *testing.T) {
	api, f := startFrozenAPI(t, map[string]string{"CM_API_LOOKUP_TIMEOUT": "1s", "CM_API_MONGO_TIMEOUT": "10m"})
	f.Freeze()
	defer f.Thaw()
	for _, path := range []string{"/buyList/ada", "/users/ada"} {
		if a := call(t, api.URL+path); !a.isJSON503() {
			t.Errorf("GET %s with the store holding its query: %d, Retry-After %q, %+v; want the JSON 503 with Retry-After", path, a.status, a.retryAfter, a.body)
		}
	}
}

// cm-api's look-up must end before cm-server's call to it does, so that the
// caller gets cm-api's answer (the JSON 503 with Retry-After) and cm-api does
// not keep working for a caller that left. The defaults hold it; so must any
// configuration (the charts' defaults are held to it in e2e/charts).
func TestLookupTimeoutDefaultsAgree(t *testing.T) {
	def := func(settings []config.Setting, key string) time.Duration {
		t.Helper()
		for _, s := range settings {
			if s.Key == key {
				d, err := time.ParseDuration(s.Default)
				if err != nil {
					t.Fatalf("default of %s: %v", key, err)
				}
				return d
			}
		}
		t.Fatalf("no setting %s", key)
		return 0
	}
	lookup, wait := def(app.Settings, "lookup.timeout"), def(app.Settings, "lookup.queue_wait")
	server := def(serverapp.Settings, "cmapi.timeout")
	if lookup >= server {
		t.Errorf("cm-api lookup.timeout %v is not below cm-server cmapi.timeout %v: cm-server would give up before cm-api answers", lookup, server)
	}
	if wait >= lookup {
		t.Errorf("cm-api lookup.queue_wait %v is not below lookup.timeout %v", wait, lookup)
	}
}
