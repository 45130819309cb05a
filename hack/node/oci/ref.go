// Package oci writes single-layer OCI image archives FROM scratch that
// `ctr -n k8s.io images import` accepts, so the test node runs images built
// here without Docker or a registry.
package oci

import (
	"fmt"
	"strings"
)

// Reference is an image name split the way containerd and kubelet see it.
type Reference struct {
	Full string // docker.io/library/name:tag: the name containerd stores and kubelet looks up
	Tag  string
}

// ParseReference normalises NAME:TAG the way the container runtime does when a
// pod names an image, so the imported image is found under the name a
// manifest uses: "probe:dev" is docker.io/library/probe:dev and
// "scalable-shop/cm-api:0.1.0" is docker.io/scalable-shop/cm-api:0.1.0, while
// a first component with a dot or a port ("ghcr.io/...", "localhost:5000/...")
// or "localhost" is a registry and kept.
func ParseReference(s string) (Reference, error) {
	if s == "" || strings.ContainsAny(s, " \t\n@") || s != strings.ToLower(s) {
		return Reference{}, fmt.Errorf("image name %q: want lower-case NAME:TAG without digest or spaces", s)
	}
	slash := strings.LastIndex(s, "/")
	colon := strings.LastIndex(s, ":")
	if colon <= slash || colon == len(s)-1 {
		return Reference{}, fmt.Errorf("image name %q has no tag: want NAME:TAG", s)
	}
	name, tag := s[:colon], s[colon+1:]
	if name == "" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return Reference{}, fmt.Errorf("image name %q: bad repository path", s)
	}
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	return Reference{Full: name + ":" + tag, Tag: tag}, nil
}
