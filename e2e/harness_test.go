package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scalable-shop/shop/contract"
	"github.com/scalable-shop/shop/localstack/testenv"
)

// runID keeps the users of one run apart from earlier runs against the same
// deployed shop.
var runID = fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)

// uid returns a user id unique to this run.
func uid(name string) string { return name + "-" + runID }

// bins holds the service binaries TestMain builds once for every test.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	flag.Parse()
	if deployed() != "" || testing.Short() {
		// Nothing to build: the shop is deployed, or -short skips every test
		// that would run it (startProc and testenv skip them).
		os.Exit(m.Run()) // nothing to build: the shop is deployed
	}
	dir, err := os.MkdirTemp("", "shop-e2e-bin")
	if err != nil {
		panic(err)
	}
	if bins, err = testenv.BuildServices(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a service running as a separate process.
type proc struct {
	t      *testing.T
	name   string
	prefix string
	addr   string
	env    map[string]string
	cmd    *exec.Cmd
	logs   *testenv.SyncBuffer
	exited chan error
}

// URL is the base URL of the process's HTTP server.
func (p *proc) URL() string { return "http://" + p.addr }

func startProc(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	testenv.SkipShort(t)
	prefix := map[string]string{"cm-server": "CM_SERVER", "cm-api": "CM_API"}[name]
	p := &proc{t: t, name: name, prefix: prefix, addr: testenv.FreeAddr(t), env: env, logs: &testenv.SyncBuffer{}}
	p.start()
	t.Cleanup(func() {
		p.kill()
		if dir := os.Getenv("SHOP_E2E_LOGDIR"); dir != "" {
			_ = os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"."+name+".log"), []byte(p.logs.String()), 0o644)
		}
		if t.Failed() {
			t.Logf("%s logs, request lines left out (last 8 KiB):\n%s", name, tail(withoutRequests(p.logs.String()), 8192))
		}
	})
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.cmd = exec.Command(bins[p.name])
	p.cmd.Env = append(os.Environ(), p.prefix+"_HTTP_ADDR="+p.addr, p.prefix+"_LOG_FORMAT=json")
	for k, v := range p.env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, ch chan error) { ch <- cmd.Wait() }(p.cmd, p.exited)
	testenv.WaitFor(p.t, 30*time.Second, p.name+" /healthz", func() bool {
		select {
		case err := <-p.exited:
			p.t.Fatalf("%s exited at start: %v\n%s", p.name, err, p.logs.String())
		default:
		}
		return status(p.URL()+"/healthz") == http.StatusOK
	})
}

// kill sends SIGKILL and waits: a crash at an arbitrary moment.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// term sends SIGTERM and returns the process's exit error.
func (p *proc) term(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.cmd = nil
		return err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not exit within %s of SIGTERM", p.name, timeout)
	}
}

// chaos kills and restarts a process on request, one kill at a time: a kill
// asked for while the previous restart is under way waits for it.
type chaos struct {
	p     *proc
	reqs  chan struct{}
	done  chan struct{}
	kills atomic.Int64
}

func newChaos(p *proc, downtime time.Duration) *chaos {
	c := &chaos{p: p, reqs: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for range c.reqs {
			c.p.kill()
			c.kills.Add(1)
			time.Sleep(downtime)
			c.p.start()
		}
	}()
	return c
}

// kill asks for a kill and restart; it returns once the kill is under way.
func (c *chaos) kill() { c.reqs <- struct{}{} }

// stop waits for the last restart and returns the number of kills.
func (c *chaos) stop() int {
	close(c.reqs)
	<-c.done
	return int(c.kills.Load())
}

// withoutRequests drops the one-line-per-request log lines, which bury the rest.
func withoutRequests(logs string) string {
	var b strings.Builder
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"msg":"request"`) {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// shop is both services as processes over the test's infrastructure, or, when
// SHOP_URL names a deployed shop (make e2e-kind), that shop's public URL only.
type shop struct {
	kafka  *testenv.Kafka
	mongo  *testenv.Mongo
	api    *proc
	server *proc
	url    string
}

// URL is cm-server's base URL.
func (s *shop) URL() string { return s.url }

// deployed returns the URL of a deployed shop named by the environment, or "".
func deployed() string { return strings.TrimRight(os.Getenv("SHOP_URL"), "/") }

// needLocal skips a test that kills, stops or reads the logs of the services:
// it runs only where the test started them.
func needLocal(t *testing.T) {
	t.Helper()
	if deployed() != "" {
		t.Skip("needs the services as local processes; SHOP_URL names a deployed shop")
	}
}

// startShop starts both services; extra environment (e.g. CM_API_LOG_LEVEL) goes
// to both, each taking the variables of its own prefix. With SHOP_URL set it
// starts nothing and points at that shop.
func startShop(t *testing.T, extra ...map[string]string) *shop {
	t.Helper()
	testenv.SkipShort(t)
	if url := deployed(); url != "" {
		// An ingress publishes neither /readyz nor /healthz: the shop is up
		// when cm-server's document comes back through it.
		testenv.WaitFor(t, 60*time.Second, url+"/openapi.json", func() bool { return status(url+"/openapi.json") == http.StatusOK })
		return &shop{url: url}
	}
	k, m := testenv.StartKafka(t), testenv.StartMongo(t)
	s := &shop{kafka: k, mongo: m}
	s.api = startProc(t, "cm-api", testenv.Merge(append([]map[string]string{k.APIEnv(), m.APIEnv(), {"CM_API_AUTH_TOKEN": testenv.Token, "CM_API_CURSOR_KEY": testenv.CursorKey}}, extra...)...))
	s.server = startProc(t, "cm-server", testenv.Merge(append([]map[string]string{k.ServerEnv(), {
		"CM_SERVER_CMAPI_URL": s.api.URL(), "CM_SERVER_CMAPI_TOKEN": testenv.Token, "CM_SERVER_KAFKA_WRITE_TIMEOUT": "3s",
	}}, extra...)...))
	s.url = s.server.URL()
	testenv.WaitFor(t, 30*time.Second, "cm-server /readyz with Kafka and cm-api up", func() bool { return allUp(s.url) })
	return s
}

// allUp reports whether a service's /readyz answers 200 and every dependency
// it reports is up: readiness itself stays 200 while one is down.
func allUp(base string) bool {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(base + "/readyz")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	var body struct {
		Status string `json:"status"`
	}
	return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&body) == nil && body.Status == "ok"
}

func status(url string) int {
	c := http.Client{Timeout: 5 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// buyResult is what a client saw for one buy.
type buyResult struct {
	Status     int
	ID         string
	RetryAfter string
	Err        error
}

var client = &http.Client{Timeout: 15 * time.Second}

func buy(base, userID, username, price string, ts time.Time, key string) buyResult {
	body := map[string]string{"userid": userID, "username": username, "price": price}
	if !ts.IsZero() {
		body["timestamp"] = ts.Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", base+"/buy", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := client.Do(req)
	if err != nil {
		return buyResult{Err: err}
	}
	defer res.Body.Close()
	out := buyResult{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusAccepted {
		var acc contract.BuyAccepted
		if err := json.Unmarshal(raw, &acc); err != nil || !contract.ValidPurchaseID(acc.ID) {
			out.Err = fmt.Errorf("202 with body %s", raw)
		}
		out.ID = acc.ID
	}
	return out
}

// history reads every page of a user's purchases through cm-server.
func history(t *testing.T, base, userID string) []contract.PurchaseView {
	t.Helper()
	all, err := tryHistory(base, userID)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// tryHistory is history that reports a failed call instead of failing the test:
// while cm-api restarts, cm-server rightly answers 503.
func tryHistory(base, userID string) ([]contract.PurchaseView, error) {
	var all []contract.PurchaseView
	cursor := ""
	for {
		url := base + "/getAllUserBuys/" + userID + "?limit=100"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		res, err := client.Get(url)
		if err != nil {
			return nil, err
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("getAllUserBuys/%s: %d %s", userID, res.StatusCode, raw)
		}
		var page contract.PurchasePage
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("getAllUserBuys/%s: %v in %s", userID, err, raw)
		}
		all = append(all, page.Purchases...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}

// waitHistory waits until a user has at least n purchases and returns them.
func waitHistory(t *testing.T, base, userID string, n int, timeout time.Duration) []contract.PurchaseView {
	t.Helper()
	var got []contract.PurchaseView
	deadline := time.Now().Add(timeout)
	for {
		var err error
		got, err = tryHistory(base, userID)
		if err == nil && len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
