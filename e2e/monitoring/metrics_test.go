package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

const repo = "../.."

// dashboardVars are Grafana's variables, replaced by plain values so that a
// query parses as PromQL.
var dashboardVars = strings.NewReplacer("$__rate_interval", "5m", "${namespace}", "shop", "$namespace", "shop")

// labelValues is the one Grafana query function the dashboard's variables use.
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

// selectedMetrics returns the metric names expr selects; a selector without a
// literal name (a regular expression on __name__) is an error: it could not be
// checked against what the services export.
func selectedMetrics(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName {
				if m.Type != labels.MatchEqual {
					bad = fmt.Errorf("%s: the metric name must be literal", vs)
				}
				name = m.Value
			}
		}
		if name == "" {
			bad = fmt.Errorf("%s: no metric name", vs)
		}
		names = append(names, name)
		return nil
	})
	return names, bad
}

type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// dashboardQueries are every PromQL query of the dashboard, by where they are.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repo, "cm-server/chart/dashboards/scalable-shop.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for i, tg := range p.Targets {
			out[fmt.Sprintf("panel %q query %d", p.Title, i)] = dashboardVars.Replace(tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatalf("variable %s: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
			continue
		}
		out["variable "+v.Name] = m[1]
	}
	return out
}

type rule struct {
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	Annotations map[string]string `json:"annotations"`
}

// ruleQueries renders each service chart's PrometheusRule with helm ($HELM).
func ruleQueries(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range renderedRules(t) {
		out["alert "+r.Alert] = r.Expr
	}
	return out
}

func renderedRules(t *testing.T) []rule {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run make test-alerts (it sets it to hack/tools.sh helm)")
	}
	var out []rule
	for _, c := range []string{"cm-server", "cm-api"} {
		cmd := exec.Command(helm, "template", c, filepath.Join(repo, c, "chart"), "-n", "shop", //nolint:gosec // the test's own helm
			"-f", filepath.Join(repo, "e2e/charts/testdata", c+"-secrets.yaml"),
			"--set", "prometheusRule.enabled=true", "-s", "templates/prometheusrule.yaml")
		b, err := cmd.Output()
		if err != nil {
			t.Fatalf("helm template %s: %v", c, err)
		}
		var pr struct {
			Spec struct {
				Groups []struct {
					Rules []rule `json:"rules"`
				} `json:"groups"`
			} `json:"spec"`
		}
		// The output starts with "---" and a "# Source" comment: one document.
		if err := yaml.Unmarshal([]byte(strings.TrimPrefix(string(b), "---\n")), &pr); err != nil {
			t.Fatalf("%s PrometheusRule: %v", c, err)
		}
		for _, g := range pr.Spec.Groups {
			out = append(out, g.Rules...)
		}
	}
	if len(out) == 0 {
		t.Fatal("no alert rendered")
	}
	return out
}

// The dashboard and the alerts select exactly the metrics listed in
// metrics.txt, which the e2e suite holds to the services' scrape.
// UPDATE_METRICS=1 rewrites the list.
func TestQueriesNameListedMetrics(t *testing.T) {
	used := map[string][]string{}
	for _, qs := range []map[string]string{dashboardQueries(t), ruleQueries(t)} {
		for where, q := range qs {
			names, err := selectedMetrics(q)
			if err != nil {
				t.Errorf("%s: %v\n%s", where, err, q)
			}
			for _, n := range names {
				used[n] = append(used[n], where)
			}
		}
	}
	var want []string
	for n := range used {
		want = append(want, n)
	}
	slices.Sort(want)
	path := "metrics.txt"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var header, listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.HasPrefix(line, "#") {
			header = append(header, line)
		} else if line != "" {
			listed = append(listed, line)
		}
	}
	if slices.Equal(listed, want) {
		return
	}
	if os.Getenv("UPDATE_METRICS") != "" {
		body := strings.Join(header, "\n") + "\n" + strings.Join(want, "\n") + "\n"
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil { //nolint:gosec // a checked-in text file
			t.Fatal(err)
		}
		return
	}
	for _, n := range want {
		if !slices.Contains(listed, n) {
			t.Errorf("%s is queried (%s) but not in %s", n, strings.Join(used[n], ", "), path)
		}
	}
	for _, n := range listed {
		if used[n] == nil {
			t.Errorf("%s is in %s but no query uses it", n, path)
		}
	}
	t.Log("run make test-alerts UPDATE_METRICS=1 to rewrite the list")
}

func TestSelectedMetrics(t *testing.T) {
	got, err := selectedMetrics(`sum(rate(a_total{x="1"}[5m])) / ignoring(y) b + on() {__name__="c"} and deriv(sum(d)[15m:1m])`)
	if want := []string{"a_total", "b", "c", "d"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if _, err := selectedMetrics(`{__name__=~"cm_.*"}`); err == nil {
		t.Error("a regular expression on the name was accepted")
	}
	if _, err := selectedMetrics(`sum(rate(x[5m])`); err == nil {
		t.Error("a syntax error was accepted")
	}
}

// Every alert links to its own section of RUNBOOK.md.
func TestEveryAlertHasARunbookSection(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repo, "RUNBOOK.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range renderedRules(t) {
		url := r.Annotations["runbook_url"]
		_, anchor, _ := strings.Cut(url, "#")
		if anchor != strings.ToLower(r.Alert) {
			t.Errorf("%s: runbook_url %q does not end in #%s", r.Alert, url, strings.ToLower(r.Alert))
		}
		if !strings.Contains(string(raw), "\n## "+r.Alert+"\n") {
			t.Errorf("%s: RUNBOOK.md has no section \"## %s\"", r.Alert, r.Alert)
		}
	}
}
