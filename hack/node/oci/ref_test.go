package oci

import "testing"

func TestParseReference(t *testing.T) {
	for in, want := range map[string]string{
		"probe:dev":                    "docker.io/library/probe:dev",
		"scalable-shop/cm-api:0.1.0":   "docker.io/scalable-shop/cm-api:0.1.0",
		"ghcr.io/scalable-shop/x:1":    "ghcr.io/scalable-shop/x:1",
		"localhost/pause:1":            "localhost/pause:1",
		"localhost:5000/a/b:c":         "localhost:5000/a/b:c",
		"docker.io/library/coredns:v1": "docker.io/library/coredns:v1",
	} {
		got, err := ParseReference(in)
		if err != nil || got.Full != want {
			t.Errorf("ParseReference(%q) = %q, %v; want %q", in, got.Full, err, want)
		}
	}
	for _, bad := range []string{"", "probe", "probe:", "localhost:5000/a", "Probe:dev", "a@sha256:x", "/a:b", "a//b:c"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) accepted it", bad)
		}
	}
	if r, _ := ParseReference("a/b:v1.2"); r.Tag != "v1.2" {
		t.Errorf("tag = %q, want v1.2", r.Tag)
	}
}

func TestParseUser(t *testing.T) {
	for in, want := range map[string]string{"65532": "65532:65532", "1000:2000": "1000:2000", "0": "0:0"} {
		if got, err := ParseUser(in); err != nil || got != want {
			t.Errorf("ParseUser(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "nonroot", "1:", ":1", "-1", "1:x"} {
		if _, err := ParseUser(bad); err == nil {
			t.Errorf("ParseUser(%q) accepted it", bad)
		}
	}
}
