package charts

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Each check must fail on a broken object: start from the rendered cm-server
// Deployment (which passes), break one thing, and expect the check to say so.
func TestChecksCatchBrokenObjects(t *testing.T) {
	objs := cmServer.render(t, "-f", cmServer.required)
	good := one[*appsv1.Deployment](t, objs)
	svc := one[*corev1.Service](t, objs)
	np := one[*networkingv1.NetworkPolicy](t, objs)
	if errs := CheckPodSecurity("good", good.Spec.Template.Spec); len(errs) > 0 {
		t.Fatalf("the rendered Deployment fails already: %v", errs)
	}

	breakPod := []struct {
		name  string
		edit  func(*corev1.PodSpec)
		check func(corev1.PodSpec) []error
		want  string
	}{
		{"writable root filesystem", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.ReadOnlyRootFilesystem = ptr.To(false) },
			podSecurity, "readOnlyRootFilesystem"},
		{"root user", func(s *corev1.PodSpec) {
			s.SecurityContext.RunAsNonRoot = nil
			s.Containers[0].SecurityContext.RunAsNonRoot = nil
		}, podSecurity, "runAsNonRoot"},
		{"uid 0", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.RunAsUser = ptr.To(int64(0)) }, podSecurity, "runAsUser is 0"},
		{"privilege escalation", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.AllowPrivilegeEscalation = nil }, podSecurity, "allowPrivilegeEscalation"},
		{"capabilities kept", func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Capabilities.Drop = nil }, podSecurity, "drop ALL"},
		{"no seccomp", func(s *corev1.PodSpec) {
			s.SecurityContext.SeccompProfile = nil
			s.Containers[0].SecurityContext.SeccompProfile = nil
		}, podSecurity, "seccompProfile"},
		{"token mounted", func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = nil }, podSecurity, "automountServiceAccountToken"},
		{"readiness on /healthz", func(s *corev1.PodSpec) { s.Containers[0].ReadinessProbe.HTTPGet.Path = "/healthz" }, probes, `asks "/healthz", want "/readyz"`},
		{"liveness on a port the container lacks", func(s *corev1.PodSpec) { s.Containers[0].LivenessProbe.HTTPGet.Port = intstr.FromString("admin") }, probes, "is not a port of container"},
		{"probe on another port", func(s *corev1.PodSpec) { s.Containers[0].StartupProbe.HTTPGet.Port = intstr.FromInt32(9999) }, probes, "is not a port of container"},
		{"no startup probe", func(s *corev1.PodSpec) { s.Containers[0].StartupProbe = nil }, probes, "no HTTP startupProbe"},
		{"token in env", func(s *corev1.PodSpec) {
			s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "CM_SERVER_CMAPI_TOKEN", Value: "hunter2"})
		}, secretEnv, "looks like a secret"},
		{"Secret read into env", func(s *corev1.PodSpec) {
			s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}})
		}, secretEnv, "reads Secret"},
	}
	for _, tc := range breakPod {
		t.Run(tc.name, func(t *testing.T) {
			dep := good.DeepCopy()
			tc.edit(&dep.Spec.Template.Spec)
			errs := tc.check(dep.Spec.Template.Spec)
			if !anyContains(errs, tc.want) {
				t.Fatalf("want an error containing %q, got %v", tc.want, errs)
			}
		})
	}

	t.Run("Service selects other pods", func(t *testing.T) {
		s := svc.DeepCopy()
		s.Spec.Selector = map[string]string{"app.kubernetes.io/name": "cm-api"}
		if errs := CheckServiceTargetsDeployment(s, good); !anyContains(errs, "does not select the pods") {
			t.Fatalf("got %v", errs)
		}
	})
	t.Run("Service targets a missing port", func(t *testing.T) {
		s := svc.DeepCopy()
		s.Spec.Ports[0].TargetPort = intstr.FromString("web")
		if errs := CheckServiceTargetsDeployment(s, good); !anyContains(errs, "which no container") {
			t.Fatalf("got %v", errs)
		}
	})
	t.Run("NetworkPolicy open to all", func(t *testing.T) {
		n := np.DeepCopy()
		n.Spec.Ingress = append(n.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{})
		if errs := CheckNetworkPolicyClosed(n); !anyContains(errs, "admits any source") {
			t.Fatalf("got %v", errs)
		}
		n = np.DeepCopy()
		n.Spec.Ingress[0].From = append(n.Spec.Ingress[0].From, networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}})
		if errs := CheckNetworkPolicyClosed(n); !anyContains(errs, "every pod of the namespace") {
			t.Fatalf("got %v", errs)
		}
	})
	t.Run("NetworkPolicy admission", func(t *testing.T) {
		ctr := good.Spec.Template.Spec.Containers[0]
		labels := good.Spec.Template.Labels
		if AdmittedBy(np, labels, map[string]string{"run": "debug"}, intstr.FromString("http"), ctr) {
			t.Fatal("a random pod is admitted")
		}
		n := np.DeepCopy()
		n.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "other"}}
		test := testPods(objs)[0]
		if AdmittedBy(n, labels, test.Labels, intstr.FromString("http"), ctr) {
			t.Fatal("a policy selecting other pods counts as admitting")
		}
	})
	t.Run("empty selector selects nothing", func(t *testing.T) {
		if SelectorMatches(&metav1.LabelSelector{}, map[string]string{"a": "b"}) || SelectorMatches(nil, nil) {
			t.Fatal("an empty selector matched")
		}
	})
}

func podSecurity(s corev1.PodSpec) []error { return CheckPodSecurity("broken", s) }
func probes(s corev1.PodSpec) []error      { return CheckProbes("broken", s.Containers[0], 8080) }
func secretEnv(s corev1.PodSpec) []error   { return CheckNoSecretEnv("broken", s.Containers[0]) }

func anyContains(errs []error, want string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), want) {
			return true
		}
	}
	return false
}
