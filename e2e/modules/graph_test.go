// Package modules holds the repository's module graph to one direction:
// contract ← platform ← services ← localstack/e2e. Test infrastructure (the
// embedded broker, FerretDB and its SQLite and PostgreSQL drivers) never flows
// into a service's go.mod: a service's users would build and audit it.
package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
)

const shop = "github.com/scalable-shop/shop/"

// layer of each workspace module: a module may require only modules of a lower
// layer.
var layer = map[string]int{"contract": 0, "platform": 1, "cm-server": 2, "cm-api": 2, "localstack": 3, "e2e": 4}

// testOnly are the modules (by path prefix) no module below localstack may
// require, directly or indirectly.
var testOnly = []string{
	"github.com/FerretDB/",
	"modernc.org/sqlite",
	"github.com/mattn/go-sqlite3",
	"github.com/jackc/pgx",
	"github.com/twmb/franz-go/pkg/kfake",
}

// violations lists what is wrong with the requirements of module name.
func violations(name string, f *modfile.File) []string {
	var out []string
	for _, r := range f.Require {
		p := r.Mod.Path
		if dep, ok := strings.CutPrefix(p, shop); ok {
			if l, known := layer[dep]; !known || l >= layer[name] {
				out = append(out, name+" requires "+dep+": only modules of a lower layer (contract ← platform ← cm-server, cm-api ← localstack ← e2e)")
			}
			continue
		}
		if layer[name] <= layer["cm-api"] {
			for _, t := range testOnly {
				if strings.HasPrefix(p, t) {
					out = append(out, name+" requires "+p+" (test infrastructure): start it as a process (platform/testinfra) or move the test to e2e")
				}
			}
		}
	}
	return out
}

func TestModuleGraphFlowsOneWay(t *testing.T) {
	for name := range layer {
		path := filepath.Join("..", "..", name, "go.mod")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := modfile.Parse(path, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range violations(name, f) {
			t.Error(v)
		}
	}
}

// TestViolationsAreFound keeps the check able to fail: the go.mod cm-server
// had before the graph was cut.
func TestViolationsAreFound(t *testing.T) {
	f, err := modfile.Parse("go.mod", []byte(`module github.com/scalable-shop/shop/cm-server
require (
	github.com/scalable-shop/shop/platform v0.0.0
	github.com/scalable-shop/shop/localstack v0.0.0
	github.com/FerretDB/FerretDB v1.24.2 // indirect
	modernc.org/sqlite v1.34.5 // indirect
)
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := violations("cm-server", f); len(got) != 3 {
		t.Fatalf("want 3 violations (localstack, FerretDB, SQLite), got %d: %q", len(got), got)
	}
	if got := violations("e2e", f); len(got) != 0 {
		t.Fatalf("e2e may require all of them, got %q", got)
	}
}
