package charts

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// MongoDB's pods admit cm-api (both roles, from the shop namespace), the other
// members, the operator, the write-concern Job and the helm test pod, on mongod's
// port; nothing else.
func TestMongoDBNetworkPolicy(t *testing.T) {
	for _, vs := range mongodb.valueSets(t) {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			objs := mongodb.render(t, vs.args...)
			np := one[*networkingv1.NetworkPolicy](t, objs)
			report(t, CheckNetworkPolicyClosed(np))
			shop := map[string]string{"kubernetes.io/metadata.name": "shop"}
			apiDeps := deployments(t, cmAPI.render(t, "-f", cmAPI.required))
			srv := deployments(t, cmServer.render(t, "-f", cmServer.required))["frontend"]
			operator := map[string]string{"app.kubernetes.io/name": "mongodb-kubernetes-operator", "app.kubernetes.io/component": "controller"}
			var job map[string]string
			for _, p := range testPods(objs) {
				if IngressAllows(np, mongoMember0, Dest{PodLabels: p.Labels, Port: 27017}) != true {
					t.Errorf("the helm test pod %s is kept out", p.Name)
				}
			}
			for _, o := range objs {
				if o.Kind == "Job" {
					job = jobPodLabels(t, o)
				}
			}
			for _, target := range []map[string]string{mongoMember0, mongoMember1, mongoArbiter} {
				cases := []struct {
					name string
					from Dest
					want bool
				}{
					{"cm-api API pods", Dest{NamespaceLabels: shop, PodLabels: apiDeps["api"].Spec.Template.Labels, Port: 27017}, true},
					{"cm-api consumer pods", Dest{NamespaceLabels: shop, PodLabels: apiDeps["consumer"].Spec.Template.Labels, Port: 27017}, true},
					{"cm-api pods on another port", Dest{NamespaceLabels: shop, PodLabels: apiDeps["api"].Spec.Template.Labels, Port: 27018}, false},
					{"cm-api-labelled pods of another namespace", Dest{NamespaceLabels: otherNS, PodLabels: apiDeps["api"].Spec.Template.Labels, Port: 27017}, false},
					{"cm-server", Dest{NamespaceLabels: shop, PodLabels: srv.Spec.Template.Labels, Port: 27017}, false},
					{"another member", Dest{PodLabels: mongoMember1, Port: 27017}, true},
					{"the arbiter", Dest{PodLabels: mongoArbiter, Port: 27017}, true},
					{"the operator", Dest{PodLabels: operator, Port: 27017}, true},
					{"a debug pod of the namespace", Dest{PodLabels: map[string]string{"run": "debug"}, Port: 27017}, false},
				}
				if job != nil {
					cases = append(cases, struct {
						name string
						from Dest
						want bool
					}{"the write-concern Job", Dest{PodLabels: job, Port: 27017}, true})
				}
				for _, c := range cases {
					if got := IngressAllows(np, target, c.from); got != c.want {
						t.Errorf("to %s from %s: admitted=%v, want %v", target["statefulset.kubernetes.io/pod-name"], c.name, got, c.want)
					}
				}
			}
		})
	}
}

func jobPodLabels(t testing.TB, o Object) map[string]string {
	t.Helper()
	raw, err := yaml.Marshal(o.Obj)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Spec struct {
			Template struct {
				Metadata struct {
					Labels map[string]string `json:"labels"`
				} `json:"metadata"`
			} `json:"template"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	return j.Spec.Template.Metadata.Labels
}

// PSA: the Job that sets the cluster-wide default write concern comes with an
// arbiter (MongoDB 5.0+ refuses to add one without it) and not without.
func TestMongoDBWriteConcernJob(t *testing.T) {
	jobs := func(args ...string) []Object {
		var out []Object
		for _, o := range mongodb.render(t, args...) {
			if o.Kind == "Job" {
				out = append(out, o)
			}
		}
		return out
	}
	psa := jobs()
	if len(psa) != 1 {
		t.Fatalf("PSA defaults: %d write-concern Jobs, want 1", len(psa))
	}
	manifest, err := mongodb.template()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"setDefaultRWConcern", "shop-mongodb-agent-password", "isWritablePrimary"} {
		if !strings.Contains(manifest, want) {
			t.Errorf("the Job lacks %q", want)
		}
	}
	if n := len(jobs("--set", "members=3", "--set", "arbiters=0")); n != 0 {
		t.Errorf("PSS: %d write-concern Jobs, want none", n)
	}
	if a, b := psa[0].Name, jobs("--set", "writeConcern.w=1")[0].Name; a == b {
		t.Errorf("a changed write concern keeps the Job name %s (Job templates are immutable)", a)
	}
}

// The production Kafka values keep the listeners closed to all but the shop,
// kafka-ui and KEDA (which reads cm-api's consumer lag).
func TestKafkaListenersAdmitKEDA(t *testing.T) {
	objs := kafka.render(t, "-f", filepath.Join(kafka.path(), "ci", "production-values.yaml"))
	k := customResources(objs, "Kafka")[0]
	listeners, _, _ := unstructured.NestedSlice(k.Object, "spec", "kafka", "listeners")
	keda := Dest{NamespaceLabels: map[string]string{"kubernetes.io/metadata.name": "keda"}, PodLabels: map[string]string{"app": "keda-operator"}, Port: 9093}
	other := Dest{NamespaceLabels: otherNS, PodLabels: map[string]string{"app": "keda-operator"}, Port: 9093}
	for _, l := range listeners {
		lm := l.(map[string]any)
		raw, _ := yaml.Marshal(map[string]any{"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"strimzi.io/broker-role": "true"}},
			"policyTypes": []string{"Ingress"},
			"ingress":     []any{map[string]any{"from": lm["networkPolicyPeers"]}}}})
		var np networkingv1.NetworkPolicy
		if err := yaml.UnmarshalStrict(raw, &np); err != nil {
			t.Fatal(err)
		}
		np.Name = "listener " + lm["name"].(string)
		broker := map[string]string{"strimzi.io/broker-role": "true"}
		if !IngressAllows(&np, broker, keda) {
			t.Errorf("%s keeps KEDA's operator out", np.Name)
		}
		if IngressAllows(&np, broker, other) {
			t.Errorf("%s lets in a keda-operator-labelled pod of another namespace", np.Name)
		}
	}
}

// The user of `cm-api users rebuild` may write purchases and read the group's
// offsets, nothing more; cm-api's own user still may not write purchases.
func TestKafkaRebuildUser(t *testing.T) {
	objs := kafka.render(t)
	for _, u := range customResources(objs, "KafkaUser") {
		got := acls(t, u)
		switch u.GetName() {
		case "cm-api-rebuild":
			want := []string{"group:cm-api-summaries:Describe", "group:cm-api:Describe", "topic:purchases:Describe", "topic:purchases:Write"}
			if !slices.Equal(got, want) {
				t.Errorf("cm-api-rebuild ACLs %v, want %v", got, want)
			}
			return
		}
	}
	t.Errorf("no KafkaUser cm-api-rebuild")
}

// The Gateway of the README (ingress-nginx/README.md) has the listener every
// ci values file's HTTPRoute names in sectionName: a name it lacks leaves the
// route unattached.
func TestGatewayExampleListeners(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "ingress-nginx", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var gw struct {
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			Listeners []struct {
				Name     string
				Hostname string
			}
		}
	}
	found := false
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(raw), -1) {
		if strings.Contains(m[1], "kind: Gateway\n") {
			if err := yaml.Unmarshal([]byte(m[1]), &gw); err != nil {
				t.Fatal(err)
			}
			found = true
		}
	}
	if !found {
		t.Fatal("no Gateway example in ingress-nginx/README.md")
	}
	files, _ := filepath.Glob(filepath.Join(cmServer.path(), "ci", "*-values.yaml"))
	for _, f := range files {
		objs := cmServer.render(t, "-f", f)
		for _, r := range customResources(objs, "HTTPRoute") {
			parents, _, _ := unstructured.NestedSlice(r.Object, "spec", "parentRefs")
			hosts, _, _ := unstructured.NestedStringSlice(r.Object, "spec", "hostnames")
			for _, p := range parents {
				pm := p.(map[string]any)
				if pm["name"] != gw.Metadata.Name || (pm["namespace"] != nil && pm["namespace"] != gw.Metadata.Namespace) {
					continue
				}
				section, _ := pm["sectionName"].(string)
				ok := section == ""
				for _, l := range gw.Spec.Listeners {
					if l.Name == section && (l.Hostname == "" || len(hosts) == 0 || slices.Contains(hosts, l.Hostname)) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s: HTTPRoute %s names sectionName %q, which the README's Gateway %s has no (matching) listener for", filepath.Base(f), r.GetName(), section, gw.Metadata.Name)
				}
			}
		}
	}
}
