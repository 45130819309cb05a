package charts

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

var (
	repoRoot  string
	helm      *Helm
	validator *Validator
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repoRoot, err = RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	home, err := os.MkdirTemp("", "chart-tests-helm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(home)
	if helm, err = NewHelm(repoRoot, home); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if validator, err = NewValidator(CRDDir(repoRoot)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// chart is one of the project's charts and how the tests install it.
type chart struct {
	name      string
	dir       string // relative to the repository root
	release   string
	namespace string
	// required is a values file (testdata/) with what an install must add to the
	// chart defaults (the secrets of the services); empty if nothing.
	required string
}

var (
	cmServer = chart{name: "cm-server", dir: "cm-server/chart", release: "cm-server", namespace: "shop", required: "testdata/cm-server-secrets.yaml"}
	cmAPI    = chart{name: "cm-api", dir: "cm-api/chart", release: "cm-api", namespace: "shop", required: "testdata/cm-api-secrets.yaml"}
	kafka    = chart{name: "kafka", dir: "kafka/chart", release: "kafka", namespace: "kafka"}
	mongodb  = chart{name: "mongodb", dir: "mongodb/chart", release: "mongodb", namespace: "mongodb"}

	allCharts     = []chart{cmServer, cmAPI, kafka, mongodb}
	serviceCharts = []chart{cmServer, cmAPI}
)

func (c chart) path() string { return filepath.Join(repoRoot, c.dir) }

// valueSet is a named list of helm value arguments.
type valueSet struct {
	name string
	args []string
}

// valueSets are the chart defaults (plus what an install requires), every
// ci/*-values.yaml of the chart (production-like, used on their own) and the
// values make deploy uses on kind (kind/<chart>-values.yaml).
func (c chart) valueSets(t testing.TB) []valueSet {
	t.Helper()
	sets := []valueSet{{name: "defaults"}}
	if c.required != "" {
		sets[0].args = []string{"-f", c.required}
	}
	files, err := filepath.Glob(filepath.Join(c.path(), "ci", "*-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("%s: no ci/*-values.yaml (production-like values) in %s", c.name, c.dir)
	}
	for _, f := range files {
		sets = append(sets, valueSet{name: "ci/" + filepath.Base(f), args: []string{"-f", f}})
	}
	kind := filepath.Join(repoRoot, "kind", c.name+"-values.yaml")
	if _, err := os.Stat(kind); err == nil {
		sets = append(sets, valueSet{name: "kind/" + filepath.Base(kind), args: []string{"-f", kind}})
	}
	return sets
}

// template renders the chart; it returns helm's error for tests that expect one.
func (c chart) template(args ...string) (string, error) {
	return helm.Template(c.path(), c.release, c.namespace, args...)
}

// render renders and strictly decodes every object, failing the test on any
// problem.
func (c chart) render(t testing.TB, args ...string) []Object {
	t.Helper()
	manifest, err := c.template(args...)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	objs, errs := validator.DecodeAll(manifest)
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	if len(objs) == 0 {
		t.Fatalf("%s rendered no objects", c.name)
	}
	return objs
}

// all returns the objects of type T.
func all[T any](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.Obj.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// one returns the only object of type T, failing the test otherwise.
func one[T any](t testing.TB, objs []Object) T {
	t.Helper()
	found := all[T](objs)
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, rendered %d", zero, len(found))
	}
	return found[0]
}

// testPods returns the helm test hook pods.
func testPods(objs []Object) []*corev1.Pod {
	var pods []*corev1.Pod
	for _, p := range all[*corev1.Pod](objs) {
		if p.Annotations["helm.sh/hook"] == "test" {
			pods = append(pods, p)
		}
	}
	return pods
}

// serviceConfig returns the service's config.yaml from its ConfigMap.
func serviceConfig(t testing.TB, objs []Object) map[string]any {
	t.Helper()
	cm := one[*corev1.ConfigMap](t, objs)
	raw, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cm.Name)
	}
	var cfg map[string]any
	if err := yaml.UnmarshalStrict([]byte(raw), &cfg); err != nil {
		t.Fatalf("ConfigMap %s config.yaml: %v", cm.Name, err)
	}
	return cfg
}

// lookup reads a dotted key from nested maps.
func lookup(m map[string]any, key string) (any, bool) {
	var cur any = m
	for _, part := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func str(t testing.TB, m map[string]any, key string) string {
	t.Helper()
	v, ok := lookup(m, key)
	if !ok {
		t.Fatalf("%s is not set", key)
	}
	return fmt.Sprint(v)
}

// deployments returns the Deployments by the role of their pods
// (app.kubernetes.io/component; cm-server's one is "frontend").
func deployments(t testing.TB, objs []Object) map[string]*appsv1.Deployment {
	t.Helper()
	out := map[string]*appsv1.Deployment{}
	for _, d := range all[*appsv1.Deployment](objs) {
		role := d.Spec.Template.Labels["app.kubernetes.io/component"]
		if _, dup := out[role]; dup {
			t.Fatalf("two Deployments with pods of component %q", role)
		}
		out[role] = d
	}
	return out
}

// policyFor returns the NetworkPolicy that selects the pod labels, failing the
// test unless exactly one does.
func policyFor(t testing.TB, objs []Object, podLabels map[string]string) *networkingv1.NetworkPolicy {
	t.Helper()
	var found []*networkingv1.NetworkPolicy
	for _, np := range all[*networkingv1.NetworkPolicy](objs) {
		if SelectorMatches(&np.Spec.PodSelector, podLabels) {
			found = append(found, np)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d NetworkPolicies select pods %v, want 1", len(found), podLabels)
	}
	return found[0]
}

// mainContainer returns the Deployment's container named after the chart.
func mainContainer(t testing.TB, dep *appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range dep.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container %s", dep.Name, name)
	return corev1.Container{}
}

// chartValues reads a chart's values.yaml.
func chartValues(t testing.TB, c chart) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.path(), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
