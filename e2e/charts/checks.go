package charts

import (
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The checks below return every problem they find, so that a test can show all
// of them at once and a negative test can prove that a check bites.

// CheckPodSecurity checks the "restricted" Pod Security Standard essentials plus
// a read-only root filesystem and no service account token.
func CheckPodSecurity(where string, spec corev1.PodSpec) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(where+": "+format, args...)) }
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		bad("automountServiceAccountToken must be false")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		bad("host namespaces are shared")
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range all {
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		nonRoot := sc.RunAsNonRoot
		if nonRoot == nil {
			nonRoot = psc.RunAsNonRoot
		}
		if nonRoot == nil || !*nonRoot {
			bad("container %s: runAsNonRoot is not true", c.Name)
		}
		uid := sc.RunAsUser
		if uid == nil {
			uid = psc.RunAsUser
		}
		if uid != nil && *uid == 0 {
			bad("container %s: runAsUser is 0 (root)", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			bad("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			bad("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			bad("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !containsCap(sc.Capabilities.Drop, "ALL") {
			bad("container %s: capabilities do not drop ALL", c.Name)
		} else if len(sc.Capabilities.Add) > 0 {
			bad("container %s: adds capabilities %v", c.Name, sc.Capabilities.Add)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || (seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault && seccomp.Type != corev1.SeccompProfileTypeLocalhost) {
			bad("container %s: seccompProfile is not RuntimeDefault", c.Name)
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			bad("container %s: memory request and limit are required", c.Name)
		}
	}
	return errs
}

func containsCap(caps []corev1.Capability, want corev1.Capability) bool {
	for _, c := range caps {
		if c == want {
			return true
		}
	}
	return false
}

// ContainerPort resolves a probe's or Service's port (name or number) to a port
// the container declares.
func ContainerPort(c corev1.Container, port intstr.IntOrString) (int32, bool) {
	for _, p := range c.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

// CheckProbes checks that the startup and liveness probes ask /healthz and the
// readiness probe /readyz, all on the port the service listens on.
func CheckProbes(where string, c corev1.Container, listenPort int32) []error {
	var errs []error
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"startupProbe", c.StartupProbe, "/healthz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			errs = append(errs, fmt.Errorf("%s: container %s has no HTTP %s", where, c.Name, p.name))
			continue
		}
		g := p.probe.HTTPGet
		if g.Path != p.path {
			errs = append(errs, fmt.Errorf("%s: %s asks %q, want %q", where, p.name, g.Path, p.path))
		}
		port, ok := ContainerPort(c, g.Port)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %s port %s is not a port of container %s", where, p.name, g.Port.String(), c.Name))
		case port != listenPort:
			errs = append(errs, fmt.Errorf("%s: %s goes to port %d but the service listens on %d", where, p.name, port, listenPort))
		}
	}
	return errs
}

// CheckNoSecretEnv checks that no environment variable carries a secret: values
// that look secret must come as *_FILE paths, and no env reads a Secret.
func CheckNoSecretEnv(where string, c corev1.Container) []error {
	var errs []error
	for _, e := range c.Env {
		upper := strings.ToUpper(e.Name)
		secretish := strings.Contains(upper, "TOKEN") || strings.Contains(upper, "PASSWORD") || strings.Contains(upper, "SECRET")
		if secretish && !strings.HasSuffix(upper, "_FILE") {
			errs = append(errs, fmt.Errorf("%s: env %s looks like a secret in plain env; mount it and pass %s_FILE", where, e.Name, e.Name))
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			errs = append(errs, fmt.Errorf("%s: env %s reads Secret %s into the environment; mount it as a file", where, e.Name, e.ValueFrom.SecretKeyRef.Name))
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.SecretRef != nil {
			errs = append(errs, fmt.Errorf("%s: envFrom Secret %s puts secrets into the environment", where, ef.SecretRef.Name))
		}
	}
	return errs
}

// SelectorMatches reports whether a label selector selects a set of labels. An
// empty or nil selector selects nothing here: a chart should never mean "all".
func SelectorMatches(sel *metav1.LabelSelector, set map[string]string) bool {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(set))
}

// ServiceSelects reports whether the Service selects the Deployment's pods and
// every Service port lands on a container port.
func CheckServiceTargetsDeployment(svc *corev1.Service, dep *appsv1.Deployment) []error {
	var errs []error
	pod := dep.Spec.Template
	if !SelectorMatches(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, pod.Labels) {
		errs = append(errs, fmt.Errorf("Service %s selector %v does not select the pods of Deployment %s (labels %v)", svc.Name, svc.Spec.Selector, dep.Name, pod.Labels))
	}
	if !SelectorMatches(dep.Spec.Selector, pod.Labels) {
		errs = append(errs, fmt.Errorf("Deployment %s selector does not select its own pod template", dep.Name))
	}
	for _, p := range svc.Spec.Ports {
		target := p.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(p.Port)
		}
		found := false
		for _, c := range pod.Spec.Containers {
			if _, ok := ContainerPort(c, target); ok {
				found = true
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("Service %s port %s targets %s, which no container of %s declares", svc.Name, p.Name, target.String(), dep.Name))
		}
	}
	return errs
}

// AdmittedBy reports whether a NetworkPolicy that selects the target pods lets
// in a pod with the given labels from the same namespace, on port.
func AdmittedBy(np *networkingv1.NetworkPolicy, targetLabels, clientLabels map[string]string, port intstr.IntOrString, container corev1.Container) bool {
	if !SelectorMatches(&np.Spec.PodSelector, targetLabels) {
		return false
	}
	for _, rule := range np.Spec.Ingress {
		if !portAllowed(rule.Ports, port, container) {
			continue
		}
		if len(rule.From) == 0 {
			return true // from anywhere
		}
		for _, peer := range rule.From {
			if peer.NamespaceSelector == nil && peer.IPBlock == nil && peer.PodSelector != nil && SelectorMatches(peer.PodSelector, clientLabels) {
				return true
			}
		}
	}
	return false
}

func portAllowed(ports []networkingv1.NetworkPolicyPort, port intstr.IntOrString, c corev1.Container) bool {
	if len(ports) == 0 {
		return true
	}
	want, _ := ContainerPort(c, port)
	for _, p := range ports {
		if p.Port == nil {
			return true
		}
		if got, ok := ContainerPort(c, *p.Port); ok && got == want {
			return true
		}
	}
	return false
}

// CheckNetworkPolicyClosed checks that no ingress rule admits every source.
func CheckNetworkPolicyClosed(np *networkingv1.NetworkPolicy) []error {
	var errs []error
	for i, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			errs = append(errs, fmt.Errorf("NetworkPolicy %s: ingress rule %d admits any source", np.Name, i))
		}
		for j, peer := range rule.From {
			if peer.IPBlock != nil && peer.IPBlock.CIDR == "0.0.0.0/0" {
				errs = append(errs, fmt.Errorf("NetworkPolicy %s: ingress rule %d peer %d admits 0.0.0.0/0", np.Name, i, j))
			}
			if peer.PodSelector != nil && len(peer.PodSelector.MatchLabels) == 0 && len(peer.PodSelector.MatchExpressions) == 0 && peer.NamespaceSelector == nil {
				errs = append(errs, fmt.Errorf("NetworkPolicy %s: ingress rule %d peer %d admits every pod of the namespace", np.Name, i, j))
			}
		}
	}
	return errs
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// kubeletRef is what the kubelet expands in a container's command and args: a
// doubled dollar (to one) and $(NAME) of a variable the container defines.
var kubeletRef = regexp.MustCompile(`\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// CheckNoKubeletExpansion checks that no command or argument holds what the
// kubelet would rewrite before the shell sees it: "$$" becomes "$" (so a
// shell's PID variable silently turns into a literal dollar), and $(VAR) of
// a defined variable is replaced (the shell meant a command substitution).
func CheckNoKubeletExpansion(where string, spec corev1.PodSpec) []error {
	var errs []error
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		defined := map[string]bool{}
		for _, e := range c.Env {
			defined[e.Name] = true
		}
		for _, part := range append(append([]string{}, c.Command...), c.Args...) {
			for _, m := range kubeletRef.FindAllStringSubmatch(part, -1) {
				if m[0] == "$$" {
					errs = append(errs, fmt.Errorf("%s: container %s: the kubelet turns \"$$\" in a command into \"$\"; the shell never sees it", where, c.Name))
				} else if defined[m[1]] {
					errs = append(errs, fmt.Errorf("%s: container %s: the kubelet replaces %s with the variable's value before the shell runs", where, c.Name, m[0]))
				}
			}
		}
	}
	return errs
}
