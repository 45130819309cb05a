package oci

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// Image is everything an archive holds.
type Image struct {
	Ref        Reference
	OS, Arch   string
	User       string // UID:GID
	Entrypoint []string
	Cmd        []string
	Env        []string
	Ports      []int
	Layer      []byte // uncompressed tar, see Layer
}

const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int               `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type blob struct {
	data []byte
	desc descriptor
}

func newBlob(mediaType string, data []byte) blob {
	return blob{data: data, desc: descriptor{MediaType: mediaType, Digest: digest(data), Size: len(data)}}
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// Blobs returns the config, manifest and index documents of img, in the
// order the archive stores them.
func (img Image) blobs() (config, manifest blob, index []byte, err error) {
	exposed := map[string]struct{}{}
	for _, p := range img.Ports {
		if p < 1 || p > 65535 {
			return blob{}, blob{}, nil, fmt.Errorf("port %d: want 1-65535", p)
		}
		exposed[strconv.Itoa(p)+"/tcp"] = struct{}{}
	}
	if len(img.Entrypoint) == 0 {
		return blob{}, blob{}, nil, fmt.Errorf("image %s has no entrypoint", img.Ref.Full)
	}
	cfg := map[string]any{
		"architecture": img.Arch,
		"os":           img.OS,
		"config": map[string]any{
			"User":         img.User,
			"Entrypoint":   img.Entrypoint,
			"Cmd":          img.Cmd,
			"Env":          img.Env,
			"ExposedPorts": exposed,
			"WorkingDir":   "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{digest(img.Layer)}},
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return blob{}, blob{}, nil, err
	}
	config = newBlob(mediaConfig, cb)
	man := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        config.desc,
		"layers":        []descriptor{newBlob(mediaLayer, img.Layer).desc},
	}
	mb, err := json.Marshal(man)
	if err != nil {
		return blob{}, blob{}, nil, err
	}
	manifest = newBlob(mediaManifest, mb)
	d := manifest.desc
	d.Platform = &platform{Architecture: img.Arch, OS: img.OS}
	// containerd names the image after io.containerd.image.name; the OCI
	// ref.name keeps the archive readable by other OCI tools.
	d.Annotations = map[string]string{
		"io.containerd.image.name":          img.Ref.Full,
		"org.opencontainers.image.ref.name": img.Ref.Tag,
	}
	index, err = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests":     []descriptor{d},
	})
	return config, manifest, index, err
}

// Write writes img as an OCI image layout in a tar stream.
func Write(w io.Writer, img Image) error {
	config, manifest, index, err := img.blobs()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": index,
	}
	for _, b := range []blob{config, manifest, newBlob(mediaLayer, img.Layer)} {
		files["blobs/sha256/"+b.desc.Digest[len("sha256:"):]] = b.data
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(files[n])), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return err
		}
	}
	return tw.Close()
}
