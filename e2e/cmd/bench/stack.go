package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process whose output goes to a log file.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan error
	last   usage // read just before it was stopped
}

func startProc(name, bin string, args, env []string, logDir string) (*proc, error) {
	p := &proc{name: name, log: filepath.Join(logDir, name+".log"), exited: make(chan error, 1)}
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	// Its own process group: a Ctrl-C of bench reaches bench, which stops children
	// in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.exited <- p.cmd.Wait(); f.Close() }()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM and waits (SIGKILL after the timeout), keeping the last usage.
func (p *proc) stop(timeout time.Duration) error {
	if p == nil || p.cmd == nil {
		return nil
	}
	if u, err := readUsage(p.pid()); err == nil {
		p.last = u
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.cmd = nil
		return err
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		exit := <-p.exited
		p.cmd = nil
		return fmt.Errorf("%s did not stop within %s of SIGTERM (killed: %v)", p.name, timeout, exit)
	}
}

// alive reports an early exit as an error naming the log.
func (p *proc) alive() error {
	select {
	case err := <-p.exited:
		p.exited <- err
		return fmt.Errorf("%s exited (%v); see %s", p.name, err, p.log)
	default:
		return nil
	}
}

// usage is what /proc says of a process: peak resident set and CPU time so far.
type usage struct {
	HWM  int64         // VmHWM, bytes
	RSS  int64         // VmRSS, bytes
	CPU  time.Duration // utime + stime
	Live bool
}

// clkTck is USER_HZ, 100 on every Linux this runs on.
const clkTck = 100

func readUsage(pid int) (usage, error) {
	var u usage
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			u.HWM = n << 10
		case "VmRSS":
			u.RSS = n << 10
		}
	}
	cpu, _, err := cpuAndParent(pid)
	u.CPU, u.Live = cpu, err == nil
	return u, err
}

// cpuAndParent reads utime+stime and the parent pid from /proc/<pid>/stat.
func cpuAndParent(pid int) (time.Duration, int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name is in parentheses and may hold spaces: split after it.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("odd /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clkTck, ppid, nil
}

// treeCPU is the CPU time of pid and all its children, live (PostgreSQL's
// backends are children of the postmaster) and exited (cutime+cstime).
func treeCPU(pid int) time.Duration {
	total, _, err := cpuAndParent(pid)
	if err != nil {
		return 0
	}
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(stat)
		if f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]); len(f) >= 15 {
			cut, _ := strconv.ParseInt(f[13], 10, 64)
			cst, _ := strconv.ParseInt(f[14], 10, 64)
			total += time.Duration(cut+cst) * time.Second / clkTck
		}
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if cpu, ppid, err := cpuAndParent(child); err == nil && ppid == pid {
			total += cpu
		}
	}
	return total
}

// pidFromFile reads the first line of a PID file (Kafka's, PostgreSQL's
// postmaster.pid).
func pidFromFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHTTP waits until url answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, p *proc) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		res, err := c.Get(url)
		if err == nil {
			// /readyz answers 200 with a dependency down and says so in its
			// status: wait until it says "ok".
			var body struct {
				Status string `json:"status"`
			}
			decoded := json.NewDecoder(res.Body).Decode(&body) == nil
			res.Body.Close()
			if res.StatusCode == http.StatusOK && (!decoded || body.Status == "" || body.Status == "ok") {
				return nil
			}
		}
		if p != nil {
			if err := p.alive(); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %s", url, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string, timeout time.Duration, p *proc) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not listen on %s within %s", p.name, addr, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
