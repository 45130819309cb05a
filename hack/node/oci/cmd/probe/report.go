package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Report is what a container sees of its own restrictions; the smoke step
// compares it with the pod's securityContext and limits.
type Report struct {
	UID, GID     int
	CapEff       string // hex capability mask; all dropped is 0000000000000000
	Seccomp      int    // 0 disabled, 1 strict, 2 filter (RuntimeDefault)
	NoNewPrivs   int
	RootReadOnly bool  // writing to / fails with EROFS
	MemoryLimit  int64 // bytes, from the container's own memory cgroup; -1 unlimited
}

func report(stdout io.Writer) error {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	r := parseStatus(string(status))
	r.UID, r.GID = os.Getuid(), os.Getgid()
	f, err := os.Create("/.probe-write-test")
	if err == nil {
		f.Close()
		os.Remove(f.Name())
	}
	r.RootReadOnly = errors.Is(err, syscall.EROFS)
	r.MemoryLimit = memoryLimit(os.ReadFile)
	enc := json.NewEncoder(stdout)
	return enc.Encode(r)
}

// parseStatus reads the fields Report needs from /proc/self/status.
func parseStatus(s string) Report {
	var r Report
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "CapEff":
			r.CapEff = v
		case "Seccomp":
			r.Seccomp, _ = strconv.Atoi(v)
		case "NoNewPrivs":
			r.NoNewPrivs, _ = strconv.Atoi(v)
		}
	}
	return r
}

// memoryLimit reads the limit from cgroup v2 (memory.max) or v1
// (memory/memory.limit_in_bytes); v1 writes "unlimited" as a huge number.
func memoryLimit(read func(string) ([]byte, error)) int64 {
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := read(p)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return -1
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if n >= 1<<62 {
			return -1
		}
		return n
	}
	return -1
}
