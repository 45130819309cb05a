package oci

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
)

func entries(t *testing.T, layer []byte) map[string]*tar.Header {
	t.Helper()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = h
	}
}

func TestLayerHasParentsAndTmp(t *testing.T) {
	l, err := Layer([]File{{Path: "/usr/local/bin/x", Mode: 0o755, Data: []byte("bin")}, {Path: "/etc/x.conf", Mode: 0o644}})
	if err != nil {
		t.Fatal(err)
	}
	got := entries(t, l)
	for _, d := range []string{"usr/", "usr/local/", "usr/local/bin/", "etc/", "tmp/"} {
		if h := got[d]; h == nil || h.Typeflag != tar.TypeDir {
			t.Errorf("no directory %s in %v", d, got)
		}
	}
	if h := got["tmp/"]; h != nil && h.Mode != 0o1777 {
		t.Errorf("/tmp mode %o, want 1777", h.Mode)
	}
	if h := got["usr/local/bin/x"]; h == nil || h.Mode != 0o755 || h.Size != 3 || h.Uid != 0 {
		t.Errorf("binary entry %+v", h)
	}
}

func TestLayerIsReproducible(t *testing.T) {
	files := []File{{Path: "/b", Mode: 0o644, Data: []byte("1")}, {Path: "/a/c", Mode: 0o644, Data: []byte("2")}}
	one, _ := Layer(files)
	two, _ := Layer([]File{files[1], files[0]})
	if !bytes.Equal(one, two) {
		t.Error("the same files in another order gave another layer")
	}
}

func TestLayerRefusesBadPaths(t *testing.T) {
	for _, files := range [][]File{
		{{Path: "relative"}},
		{{Path: "/a/../b"}},
		{{Path: "/"}},
		{{Path: "/a"}, {Path: "/a"}},
		{{Path: "/a"}, {Path: "/a/b"}},
	} {
		if _, err := Layer(files); err == nil {
			t.Errorf("Layer(%v) accepted it", files)
		}
	}
}
