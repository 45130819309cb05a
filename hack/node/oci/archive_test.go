package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"testing"
)

// readArchive returns the archive's files and fails if a blob's name is not its digest.
func readArchive(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeDir {
			continue
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
	for name, data := range files {
		if len(name) > len("blobs/sha256/") && name[:len("blobs/sha256/")] == "blobs/sha256/" {
			if want := fmt.Sprintf("blobs/sha256/%x", sha256.Sum256(data)); name != want {
				t.Errorf("blob %s holds content of digest %s", name, want)
			}
		}
	}
	return files
}

func blobOf(t *testing.T, files map[string][]byte, digest string, v any) {
	t.Helper()
	data, ok := files["blobs/sha256/"+digest[len("sha256:"):]]
	if !ok {
		t.Fatalf("no blob %s", digest)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatal(err)
	}
}

func TestWriteIsAnImportableLayout(t *testing.T) {
	layer, _ := Layer([]File{{Path: "/usr/local/bin/probe", Mode: 0o755, Data: []byte("x")}})
	ref, _ := ParseReference("probe:dev")
	var buf bytes.Buffer
	err := Write(&buf, Image{Ref: ref, OS: "linux", Arch: "amd64", User: "65532:65532",
		Entrypoint: []string{"/usr/local/bin/probe"}, Ports: []int{8080}, Layer: layer})
	if err != nil {
		t.Fatal(err)
	}
	files := readArchive(t, buf.Bytes())
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %s", files["oci-layout"])
	}
	var index struct {
		Manifests []descriptor
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json %s: %v", files["index.json"], err)
	}
	m := index.Manifests[0]
	if m.Annotations["io.containerd.image.name"] != "docker.io/library/probe:dev" || m.Platform.OS != "linux" {
		t.Errorf("index entry %+v", m)
	}
	var man struct {
		Config descriptor
		Layers []descriptor
	}
	blobOf(t, files, m.Digest, &man)
	if len(man.Layers) != 1 || man.Layers[0].Digest != digest(layer) || man.Layers[0].MediaType != mediaLayer {
		t.Errorf("manifest layers %+v", man.Layers)
	}
	var cfg struct {
		Config struct {
			User         string
			Entrypoint   []string
			ExposedPorts map[string]struct{}
		}
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	blobOf(t, files, man.Config.Digest, &cfg)
	if cfg.Config.User != "65532:65532" || cfg.Config.Entrypoint[0] != "/usr/local/bin/probe" {
		t.Errorf("config %+v", cfg.Config)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("port 8080 not exposed: %v", cfg.Config.ExposedPorts)
	}
	if len(cfg.RootFS.DiffIDs) != 1 || cfg.RootFS.DiffIDs[0] != digest(layer) {
		t.Errorf("diff_ids %v, want the uncompressed layer's digest", cfg.RootFS.DiffIDs)
	}
}

func TestWriteRefusesBadImages(t *testing.T) {
	ref, _ := ParseReference("a:b")
	for _, img := range []Image{
		{Ref: ref, Entrypoint: nil},
		{Ref: ref, Entrypoint: []string{"/x"}, Ports: []int{0}},
		{Ref: ref, Entrypoint: []string{"/x"}, Ports: []int{70000}},
	} {
		if err := Write(io.Discard, img); err == nil {
			t.Errorf("Write(%+v) accepted it", img)
		}
	}
}
