package faults

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scalable-shop/shop/localstack/testenv"
)

// bins holds the service binaries TestMain builds when the fault test runs.
var bins = map[string]string{}

func TestMain(m *testing.M) {
	if os.Getenv("SHOP_FAULTS") == "" {
		os.Exit(m.Run()) // every test skips; nothing to build
	}
	dir, err := os.MkdirTemp("", "shop-faults-bin")
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

// proc is a service run as a process, again and again on the same address; its
// logs collect every incarnation's output.
type proc struct {
	t      *testing.T
	name   string
	addr   string
	env    []string
	logs   *testenv.SyncBuffer
	out    io.Writer // logs, and the file under SHOP_FAULTS_LOGDIR
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan error
	starts int
}

func newProc(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	prefix := map[string]string{"cm-server": "CM_SERVER", "cm-api": "CM_API"}[name]
	p := &proc{t: t, name: name, addr: testenv.FreeAddr(t), logs: &testenv.SyncBuffer{}}
	p.out = p.logs
	if dir := os.Getenv("SHOP_FAULTS_LOGDIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		p.out = io.MultiWriter(p.logs, f)
	}
	p.env = append(os.Environ(), prefix+"_HTTP_ADDR="+p.addr, prefix+"_LOG_FORMAT=json")
	for k, v := range env {
		p.env = append(p.env, k+"="+v)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			logs := p.logs.String()
			if len(logs) > 8192 {
				logs = logs[len(logs)-8192:]
			}
			t.Logf("%s logs (last 8 KiB):\n%s", name, logs)
		}
	})
	return p
}

func (p *proc) URL() string { return "http://" + p.addr }

// start runs a new incarnation and waits until it serves /healthz.
func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	p.starts++
	cmd := exec.Command(bins[p.name])
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		p.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second)
	for status(p.URL()+"/healthz") != http.StatusOK {
		select {
		case err := <-exited:
			p.t.Fatalf("%s exited at start: %v", p.name, err)
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not serve /healthz within 30 s", p.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL (a crash at an arbitrary moment) and waits for the exit.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.cmd = nil
}

// alive reports whether the current incarnation still runs.
func (p *proc) alive() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
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

var probe = &http.Client{Timeout: 5 * time.Second}

// allUp reports whether /readyz answers 200 with status "ok".
func allUp(base string) bool {
	res, err := probe.Get(base + "/readyz")
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
	res, err := probe.Get(url)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}
