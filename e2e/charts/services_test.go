package charts

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// What matters for running each service safely, checked on every value set.
func TestServiceCharts(t *testing.T) {
	for _, c := range serviceCharts {
		for _, vs := range c.valueSets(t) {
			t.Run(c.name+"/"+vs.name, func(t *testing.T) {
				t.Parallel()
				objs := c.render(t, vs.args...)
				checkServiceChart(t, c, objs)
			})
		}
	}
}

func report(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		t.Error(err)
	}
}

func checkServiceChart(t *testing.T, c chart, objs []Object) {
	deps := all[*appsv1.Deployment](objs)
	if len(deps) == 0 {
		t.Fatalf("no Deployment rendered")
	}
	cfg := serviceConfig(t, objs)
	for _, sa := range all[*corev1.ServiceAccount](objs) {
		if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
			t.Errorf("ServiceAccount %s mounts its token", sa.Name)
		}
	}
	for _, dep := range deps {
		checkServiceDeployment(t, c, objs, cfg, dep)
	}

	// The Service selects the pods of exactly one Deployment (cm-api: the api,
	// never the consumer) and lands on the container port. Headless Services
	// (no cluster IP: nothing load-balances to them) exist only for scraping.
	svc := mainService(t, objs, c)
	if svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type %s, want ClusterIP", svc.Spec.Type)
	}
	dep := servedDeployment(t, objs, svc)
	report(t, CheckServiceTargetsDeployment(svc, dep))
	for _, other := range all[*corev1.Service](objs) {
		if other.Name != svc.Name && other.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("Service %s: a second load-balanced Service", other.Name)
		}
	}
	pod := dep.Spec.Template
	ctr := mainContainer(t, dep, c.name)
	np := policyFor(t, objs, pod.Labels)

	// helm test pods: restricted too, and let in by the NetworkPolicy.
	tests := testPods(objs)
	if len(tests) == 0 {
		t.Errorf("no helm test pod")
	}
	for _, tp := range tests {
		report(t, CheckPodSecurity("test Pod "+tp.Name, tp.Spec))
		report(t, CheckNoKubeletExpansion("test Pod "+tp.Name, tp.Spec))
		if tp.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("test Pod %s restartPolicy %s, want Never", tp.Name, tp.Spec.RestartPolicy)
		}
		if !AdmittedBy(np, pod.Labels, tp.Labels, intstr.FromString("http"), ctr) {
			t.Errorf("the NetworkPolicy keeps the test Pod %s out", tp.Name)
		}
		if !strings.Contains(strings.Join(tp.Spec.Containers[0].Command, " "), svc.Name) &&
			!envMentions(tp.Spec.Containers[0], svc.Name) {
			t.Errorf("test Pod %s does not talk to Service %s", tp.Name, svc.Name)
		}
	}

	// Public exposure: only the public routes, never the probes or metrics.
	for _, ing := range all[*networkingv1.Ingress](objs) {
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
			t.Errorf("Ingress %s class %v, want nginx", ing.Name, ing.Spec.IngressClassName)
		}
		for _, r := range ing.Spec.Rules {
			for _, p := range r.HTTP.Paths {
				checkPublicPath(t, "Ingress "+ing.Name, p.Path, p.PathType == nil || *p.PathType != networkingv1.PathTypeExact)
				if p.Backend.Service == nil || p.Backend.Service.Name != svc.Name || !servicePortExists(svc, p.Backend.Service.Port) {
					t.Errorf("Ingress %s path %s does not go to Service %s", ing.Name, p.Path, svc.Name)
				}
			}
		}
	}
	for _, u := range all[*unstructured.Unstructured](objs) {
		if u.GetKind() != "HTTPRoute" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
		for _, r := range rules {
			rule := r.(map[string]any)
			matches, _, _ := unstructured.NestedSlice(rule, "matches")
			for _, m := range matches {
				v, _, _ := unstructured.NestedString(m.(map[string]any), "path", "value")
				typ, _, _ := unstructured.NestedString(m.(map[string]any), "path", "type")
				checkPublicPath(t, "HTTPRoute "+u.GetName(), v, typ != "Exact")
			}
			refs, _, _ := unstructured.NestedSlice(rule, "backendRefs")
			for _, ref := range refs {
				name, _, _ := unstructured.NestedString(ref.(map[string]any), "name")
				port, _, _ := unstructured.NestedInt64(ref.(map[string]any), "port")
				if name != svc.Name || !servicePortExists(svc, networkingv1.ServiceBackendPort{Number: int32(port)}) {
					t.Errorf("HTTPRoute %s sends to %s:%d, not Service %s", u.GetName(), name, port, svc.Name)
				}
			}
		}
	}
}

// checkServiceDeployment checks one Deployment of a service chart: what
// matters for running its pods safely.
func checkServiceDeployment(t *testing.T, c chart, objs []Object, cfg map[string]any, dep *appsv1.Deployment) {
	t.Helper()
	pod := dep.Spec.Template
	ctr := mainContainer(t, dep, c.name)
	where := "Deployment " + dep.Name

	// Restricted security context, no service account token.
	report(t, CheckPodSecurity(where, pod.Spec))
	report(t, CheckNoKubeletExpansion(where, pod.Spec))
	for _, sa := range all[*corev1.ServiceAccount](objs) {
		if pod.Spec.ServiceAccountName != sa.Name {
			t.Errorf("%s: pods run as %q, the chart's ServiceAccount is %q", where, pod.Spec.ServiceAccountName, sa.Name)
		}
	}

	// Probes ask the service's own routes on the port it listens on.
	_, portStr, err := net.SplitHostPort(str(t, cfg, "http.addr"))
	if err != nil {
		t.Fatalf("config http.addr: %v", err)
	}
	listen, _ := strconv.Atoi(portStr)
	report(t, CheckProbes(where, ctr, int32(listen)))

	// Secrets only as files: *_FILE variables point into a mounted Secret.
	report(t, CheckNoSecretEnv(where, ctr))
	secretMounts := map[string]string{} // mount path -> Secret
	for _, v := range pod.Spec.Volumes {
		if v.Secret == nil {
			continue
		}
		for _, m := range ctr.VolumeMounts {
			if m.Name == v.Name {
				secretMounts[m.MountPath] = v.Secret.SecretName
				if !m.ReadOnly {
					t.Errorf("%s: Secret volume %s is mounted writable", where, v.Name)
				}
			}
		}
	}
	fileVars := 0
	for _, e := range ctr.Env {
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		fileVars++
		mounted := false
		for dir := range secretMounts {
			if strings.HasPrefix(e.Value, dir+"/") {
				mounted = true
			}
		}
		if !mounted {
			t.Errorf("%s: env %s=%s is not inside a mounted Secret (%v)", where, e.Name, e.Value, secretMounts)
		}
	}
	if fileVars == 0 {
		t.Errorf("%s: no *_FILE variable: where do the secrets come from?", where)
	}
	// The config file is the ConfigMap, and a change of it rolls the pods.
	if pod.Annotations["checksum/config"] == "" {
		t.Errorf("%s: pod template has no checksum/config annotation", where)
	}

	// A shutdown that fits in the grace period.
	drain, err1 := time.ParseDuration(str(t, cfg, "shutdown.drain_delay"))
	stop, err2 := time.ParseDuration(str(t, cfg, "shutdown.timeout"))
	if err1 != nil || err2 != nil {
		t.Fatalf("shutdown durations: %v %v", err1, err2)
	}
	grace := time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace <= drain+stop {
		t.Errorf("%s: terminationGracePeriodSeconds %s <= drain_delay %s + timeout %s", where, grace, drain, stop)
	}
	if !SelectorMatches(dep.Spec.Selector, pod.Labels) {
		t.Errorf("%s: selector does not select its own pod template", where)
	}
	// No other Deployment's selector takes these pods (two roles must not
	// fight over each other's pods).
	for _, other := range all[*appsv1.Deployment](objs) {
		if other.Name != dep.Name && SelectorMatches(other.Spec.Selector, pod.Labels) {
			t.Errorf("Deployment %s selects the pods of %s", other.Name, dep.Name)
		}
	}

	// Disruption budget, autoscaler and spread all aim at these pods: exactly
	// one PDB each, selecting no other Deployment's pods.
	pdbs := 0
	for _, pdb := range all[*policyv1.PodDisruptionBudget](objs) {
		if SelectorMatches(pdb.Spec.Selector, pod.Labels) {
			pdbs++
		}
	}
	if len(all[*policyv1.PodDisruptionBudget](objs)) > 0 && pdbs != 1 {
		t.Errorf("%s: %d PodDisruptionBudgets select its pods, want 1", where, pdbs)
	}
	for _, hpa := range all[*autoscalingv2.HorizontalPodAutoscaler](objs) {
		if hpa.Spec.ScaleTargetRef.Kind != "Deployment" {
			t.Errorf("HPA %s scales a %s", hpa.Name, hpa.Spec.ScaleTargetRef.Kind)
		}
		if hpa.Spec.ScaleTargetRef.Name == dep.Name && dep.Spec.Replicas != nil {
			t.Errorf("%s sets replicas although the HPA owns them (every upgrade would reset the scale)", where)
		}
	}
	if len(pod.Spec.TopologySpreadConstraints) == 0 {
		t.Errorf("%s: no topologySpreadConstraints", where)
	}
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		if !SelectorMatches(tsc.LabelSelector, pod.Labels) {
			t.Errorf("%s: topology spread on %s does not select the pods", where, tsc.TopologyKey)
		}
		for _, other := range all[*appsv1.Deployment](objs) {
			if other.Name != dep.Name && SelectorMatches(tsc.LabelSelector, other.Spec.Template.Labels) {
				t.Errorf("%s: topology spread on %s also counts the pods of %s", where, tsc.TopologyKey, other.Name)
			}
		}
	}

	// Exactly one NetworkPolicy covers the pods, with nothing open-ended.
	report(t, CheckNetworkPolicyClosed(policyFor(t, objs, pod.Labels)))
}

// mainService is the chart's Service (named as the release's objects).
func mainService(t testing.TB, objs []Object, c chart) *corev1.Service {
	t.Helper()
	var found []*corev1.Service
	for _, s := range all[*corev1.Service](objs) {
		if s.Spec.ClusterIP != corev1.ClusterIPNone {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d load-balanced Services, want 1", c.name, len(found))
	}
	return found[0]
}

// servedDeployment is the one Deployment whose pods the Service selects.
func servedDeployment(t testing.TB, objs []Object, svc *corev1.Service) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, d := range all[*appsv1.Deployment](objs) {
		if SelectorMatches(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d.Spec.Template.Labels) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("Service %s selects the pods of %d Deployments, want 1", svc.Name, len(found))
	}
	return found[0]
}

func envMentions(c corev1.Container, s string) bool {
	for _, e := range c.Env {
		if strings.Contains(e.Value, s) {
			return true
		}
	}
	return false
}

func checkPublicPath(t *testing.T, where, path string, prefix bool) {
	t.Helper()
	for _, internal := range []string{"/healthz", "/readyz", "/metrics"} {
		if strings.Contains(path, internal) {
			t.Errorf("%s publishes %s", where, path)
		}
	}
	if prefix && (path == "/" || path == "") {
		t.Errorf("%s publishes the prefix /, which includes /metrics and the probes", where)
	}
}

func servicePortExists(svc *corev1.Service, p networkingv1.ServiceBackendPort) bool {
	for _, sp := range svc.Spec.Ports {
		if (p.Name != "" && sp.Name == p.Name) || (p.Number != 0 && sp.Port == p.Number) {
			return true
		}
	}
	return false
}

// cm-api's NetworkPolicy lets in cm-server's pods (as the cm-server chart labels
// them) and keeps other pods of the namespace out.
func TestCmAPINetworkPolicySelectsCmServer(t *testing.T) {
	for _, vs := range cmAPI.valueSets(t) {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			apiObjs := cmAPI.render(t, vs.args...)
			deps := deployments(t, apiObjs)
			api, consumer := deps["api"], deps["consumer"]
			np := policyFor(t, apiObjs, api.Spec.Template.Labels)
			ctr := mainContainer(t, api, "cm-api")
			consumerNP := policyFor(t, apiObjs, consumer.Spec.Template.Labels)
			for _, release := range []string{"cm-server", "shop"} {
				server := cmServer
				server.release = release
				srv := one[*appsv1.Deployment](t, server.render(t, "-f", server.required))
				if !AdmittedBy(np, api.Spec.Template.Labels, srv.Spec.Template.Labels, intstr.FromString("http"), ctr) {
					t.Errorf("cm-server pods of release %q (labels %v) are not admitted by %s", release, srv.Spec.Template.Labels, np.Name)
				}
				// The consumer serves no look-ups: cm-server has no business there.
				if AdmittedBy(consumerNP, consumer.Spec.Template.Labels, srv.Spec.Template.Labels, intstr.FromString("http"), ctr) {
					t.Errorf("cm-server pods of release %q are admitted to the consumer pods by %s", release, consumerNP.Name)
				}
			}
			for _, other := range []map[string]string{
				{"app.kubernetes.io/name": "ingress-nginx"},
				{"app.kubernetes.io/name": "cm-api", "app.kubernetes.io/instance": "cm-api"},
				{"run": "debug"},
			} {
				if AdmittedBy(np, api.Spec.Template.Labels, other, intstr.FromString("http"), ctr) {
					t.Errorf("pods labelled %v are admitted to cm-api", other)
				}
			}
		})
	}
}

// A change of the configuration changes the pod template (the pods roll); the
// same values render the same template (upgrades without changes roll nothing).
func TestConfigChangeRollsPods(t *testing.T) {
	for _, c := range serviceCharts {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// Every Deployment's: both cm-api roles read the same ConfigMap and Secret.
			checksum := func(args ...string) (string, string) {
				var cfg, sec []string
				for _, dep := range all[*appsv1.Deployment](c.render(t, append([]string{"-f", c.required}, args...)...)) {
					cfg = append(cfg, dep.Name+"="+dep.Spec.Template.Annotations["checksum/config"])
					sec = append(sec, dep.Name+"="+dep.Spec.Template.Annotations["checksum/secret"])
				}
				return strings.Join(cfg, " "), strings.Join(sec, " ")
			}
			baseCfg, baseSecret := checksum()
			againCfg, againSecret := checksum()
			if baseCfg != againCfg || baseSecret != againSecret {
				t.Errorf("the same values render different checksums")
			}
			changed := func(a, b string) bool { // every Deployment's checksum changed
				as, bs := strings.Fields(a), strings.Fields(b)
				for i := range as {
					if as[i] == bs[i] {
						return false
					}
				}
				return len(as) > 0 && len(as) == len(bs)
			}
			if cfg, _ := checksum("--set", "config.log.level=debug"); !changed(cfg, baseCfg) {
				t.Errorf("config.log.level=debug does not change checksum/config of every Deployment (%s -> %s)", baseCfg, cfg)
			}
			secretKey := map[string]string{"cm-server": "secrets.cmapiToken", "cm-api": "secrets.authToken"}[c.name]
			if _, sec := checksum("--set", secretKey+"=rotated"); !changed(sec, baseSecret) {
				t.Errorf("%s=rotated does not change checksum/secret of every Deployment", secretKey)
			}
			if c.name == "cm-api" {
				if _, sec := checksum("--set", "secrets.cursorKey=rotated"); !changed(sec, baseSecret) {
					t.Errorf("secrets.cursorKey=rotated does not change checksum/secret of every Deployment")
				}
			}
		})
	}
}

// settingKey finds the keys in a service's Settings list (app/config.go).
var settingKey = regexp.MustCompile(`\{Key: "([a-z0-9_.]+)"[^}]*?(Secret: true)?\}`)

// knownSettings reads the setting names a service accepts from its source, so
// that the chart never renders a key the service would refuse at start-up.
func knownSettings(t testing.TB, service string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, service, "app", "config.go"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, m := range settingKey.FindAllStringSubmatch(string(src), -1) {
		known[m[1]] = true
		if m[2] != "" {
			known[m[1]+"_file"] = true
		}
	}
	if len(known) < 10 {
		t.Fatalf("found only %d settings in %s/app/config.go; has the Settings list moved?", len(known), service)
	}
	return known
}

func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if mm, ok := v.(map[string]any); ok {
			flatten(key, mm, out)
		} else {
			out[key] = v
		}
	}
}

// Every key of the rendered config.yaml and every CM_* variable is a setting the
// service knows (it refuses unknown ones at start-up).
func TestConfigKeysAreKnownSettings(t *testing.T) {
	for _, c := range serviceCharts {
		known := knownSettings(t, c.name)
		prefix := map[string]string{"cm-server": "CM_SERVER_", "cm-api": "CM_API_"}[c.name]
		for _, vs := range c.valueSets(t) {
			t.Run(c.name+"/"+vs.name, func(t *testing.T) {
				t.Parallel()
				objs := c.render(t, vs.args...)
				flat := map[string]any{}
				flatten("", serviceConfig(t, objs), flat)
				for k := range flat {
					if !known[k] {
						t.Errorf("config.yaml sets %q, which %s does not know", k, c.name)
					}
				}
				var env []corev1.EnvVar
				for _, dep := range all[*appsv1.Deployment](objs) {
					env = append(env, mainContainer(t, dep, c.name).Env...)
				}
				for _, e := range env {
					name, ok := strings.CutPrefix(e.Name, prefix)
					if !ok || name == "CONFIG" {
						continue
					}
					found := false
					for k := range known {
						if strings.ToUpper(strings.NewReplacer(".", "_").Replace(k)) == name {
							found = true
						}
					}
					if !found {
						t.Errorf("env %s is no setting of %s", e.Name, c.name)
					}
				}
			})
		}
	}
}
