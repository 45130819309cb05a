package app_test

import (
	"os"
	"strings"
	"testing"

	"github.com/scalable-shop/shop/cm-server/app"
)

// TestREADMEListsEverySetting keeps the configuration table honest: a setting
// added to the code without a line in the README fails here.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, s := range app.Settings {
		env := app.EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(s.Key, ".", "_"))
		if !strings.Contains(readme, "| `"+s.Key+"` | `"+env+"` |") {
			t.Errorf("README.md has no row for %s (%s)", s.Key, env)
		}
	}
}
