package main

import (
	"errors"
	"testing"
)

func TestParseStatus(t *testing.T) {
	r := parseStatus("Name:\tprobe\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n")
	if r.CapEff != "0000000000000000" || r.Seccomp != 2 || r.NoNewPrivs != 1 {
		t.Errorf("parseStatus = %+v", r)
	}
}

func TestMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if v, ok := m[p]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	for name, c := range map[string]struct {
		files map[string]string
		want  int64
	}{
		"v1 limit":     {map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "33554432\n"}, 33554432},
		"v1 unlimited": {map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"}, -1},
		"v2 limit":     {map[string]string{"/sys/fs/cgroup/memory.max": "33554432\n"}, 33554432},
		"v2 max":       {map[string]string{"/sys/fs/cgroup/memory.max": "max\n"}, -1},
		"none":         {nil, -1},
	} {
		if got := memoryLimit(files(c.files)); got != c.want {
			t.Errorf("%s: memoryLimit = %d, want %d", name, got, c.want)
		}
	}
}
