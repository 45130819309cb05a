package oci

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// File is one regular file of the layer.
type File struct {
	Path string // absolute path inside the image
	Mode int64
	Data []byte
}

// epoch is every entry's time: the same inputs give the same layer digest, so
// importing an unchanged image again is a no-op for containerd.
var epoch = time.Unix(0, 0).UTC()

// Layer returns an uncompressed tar of files plus every parent directory and
// an empty /tmp (1777), owned by root. Entries are sorted so the bytes depend
// only on the inputs.
func Layer(files []File) ([]byte, error) {
	dirs := map[string]bool{"tmp": true}
	seen := map[string]bool{}
	for _, f := range files {
		p, err := clean(f.Path)
		if err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("file %s given twice", f.Path)
		}
		seen[p] = true
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	for p := range seen {
		if dirs[p] {
			return nil, fmt.Errorf("%s is both a file and a directory", p)
		}
	}
	var names []string
	for d := range dirs {
		names = append(names, d+"/")
	}
	byPath := map[string]File{}
	for _, f := range files {
		p, _ := clean(f.Path)
		byPath[p] = f
		names = append(names, p)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		hdr := &tar.Header{Name: n, ModTime: epoch, Format: tar.FormatPAX, Uname: "root", Gname: "root"}
		if strings.HasSuffix(n, "/") {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
			if n == "tmp/" {
				hdr.Mode = 0o1777
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
			continue
		}
		f := byPath[n]
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, f.Mode, int64(len(f.Data))
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := io.Copy(tw, bytes.NewReader(f.Data)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// clean turns an absolute image path into a tar entry name.
func clean(p string) (string, error) {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return "", fmt.Errorf("path %q inside the image: want a clean absolute file path", p)
	}
	return strings.TrimPrefix(p, "/"), nil
}
