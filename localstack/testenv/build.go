package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildServices builds cm-server and cm-api from their mains into dir, for tests
// that run them as processes, and returns each binary's path by name. The go
// command's output goes to stderr.
func BuildServices(dir string) (map[string]string, error) {
	bins := map[string]string{}
	for _, name := range []string{"cm-server", "cm-api"} {
		out := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", out, "github.com/scalable-shop/shop/"+name+"/cmd/"+name)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("building %s: %w", name, err)
		}
		bins[name] = out
	}
	return bins, nil
}
