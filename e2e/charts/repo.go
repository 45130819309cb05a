package charts

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// RepoRoot finds the repository root: the nearest parent of the working
// directory holding go.work.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("charts: no go.work in any parent directory; run the tests inside the repository")
		}
		dir = parent
	}
}

// CRDDir is where the CustomResourceDefinitions are: $SHOP_CRDS_DIR, or the
// shared folder next to the repository.
func CRDDir(root string) string {
	if d := os.Getenv("SHOP_CRDS_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, "..", "shared", "crds")
}

// Helm runs the helm binary with its state in a private directory, so that a
// developer's repositories and plugins never change the result.
type Helm struct {
	Bin  string
	home string
}

var (
	helmOnce sync.Once
	helmBin  string
	helmErr  error
)

// NewHelm finds helm: $HELM, or hack/tools.sh helm (which builds it once into
// the cache). home holds helm's config, cache and data directories.
func NewHelm(root, home string) (*Helm, error) {
	helmOnce.Do(func() {
		if b := os.Getenv("HELM"); b != "" {
			helmBin = b
			return
		}
		cmd := exec.Command(filepath.Join(root, "hack", "tools.sh"), "helm")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			helmErr = fmt.Errorf("charts: hack/tools.sh helm: %v: %s", err, stderr.String())
			return
		}
		helmBin = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		return nil, helmErr
	}
	return &Helm{Bin: helmBin, home: home}, nil
}

// Run runs helm with args and returns its standard output, or an error holding
// its standard error.
func (h *Helm) Run(args ...string) (string, error) {
	cmd := exec.Command(h.Bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return stdout.String(), nil
}

// Template renders chart as release in namespace with extra helm arguments
// (-f FILE, --set K=V) and returns the manifest.
func (h *Helm) Template(chart, release, namespace string, args ...string) (string, error) {
	return h.Run(append([]string{"template", release, chart, "--namespace", namespace}, args...)...)
}
