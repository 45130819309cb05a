package charts

import (
	"os"
	"path/filepath"
	"testing"
)

// Every value of every chart is described in values.yaml ("# --" comments),
// and the chart README's parameter table is generated from those comments.
// UPDATE_README=1 rewrites the tables.
func TestChartReadmes(t *testing.T) {
	for _, c := range allCharts {
		t.Run(c.name, func(t *testing.T) {
			params, undocumented, err := ChartParams(filepath.Join(c.path(), "values.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range undocumented {
				t.Errorf("values.yaml: %s has no \"# --\" comment (nor has any parent)", k)
			}
			readmePath := filepath.Join(c.path(), "README.md")
			raw, err := os.ReadFile(readmePath)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReplaceTable(string(raw), ParamTable(params))
			if err != nil {
				t.Fatal(err)
			}
			if want == string(raw) {
				return
			}
			if os.Getenv("UPDATE_README") != "" {
				if err := os.WriteFile(readmePath, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("updated %s", readmePath)
				return
			}
			t.Errorf("%s: the parameter table is out of date with values.yaml; run make test-charts UPDATE_README=1", readmePath)
		})
	}
}
