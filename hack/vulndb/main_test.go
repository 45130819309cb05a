package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestBuildsTheV1Layout(t *testing.T) {
	src, out := t.TempDir(), filepath.Join(t.TempDir(), "db")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("GO-2026-0001.json", `{"id":"GO-2026-0001","modified":"0001-01-01T00:00:00Z","aliases":["CVE-1"],
	  "affected":[{"package":{"name":"example.com/a","ecosystem":"Go"}},{"package":{"name":"example.com/a","ecosystem":"Go"}},
	              {"package":{"name":"stdlib","ecosystem":"Go"}}]}`)
	write("GO-2026-0002.json", `{"id":"GO-2026-0002","modified":"2026-02-01T00:00:00Z","affected":[{"package":{"name":"example.com/a","ecosystem":"Go"}}]}`)
	if err := run(src, out, "2026-01-01T00:00:00Z"); err != nil {
		t.Fatal(err)
	}
	var db map[string]string
	readJSON(t, filepath.Join(out, "index", "db.json"), &db)
	if db["modified"] != "2026-02-01T00:00:00Z" {
		t.Errorf("db.json: %v", db)
	}
	var mods []module
	readJSON(t, filepath.Join(out, "index", "modules.json"), &mods)
	if len(mods) != 2 || mods[0].Path != "example.com/a" || len(mods[0].Vulns) != 2 || mods[1].Path != "stdlib" ||
		mods[0].Vulns[0].Modified.Format("2006-01-02") != "2026-01-01" {
		t.Errorf("modules.json: %+v", mods)
	}
	if _, err := os.Stat(filepath.Join(out, "ID", "GO-2026-0001.json")); err != nil {
		t.Error(err)
	}

	write("GO-2026-0003.json", `{"id":"GO-2026-9999"}`)
	if err := run(src, out, ""); err == nil {
		t.Error("an entry under another file name was accepted")
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
