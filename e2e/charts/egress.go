package charts

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Dest is where a pod connects to: another pod (its namespace's and its own
// labels) or an address outside the cluster.
type Dest struct {
	NamespaceLabels map[string]string // the pod's namespace; nil: the policy's own
	PodLabels       map[string]string // nil with IP set: not a pod
	IP              string
	Port            int32
	Protocol        corev1.Protocol // default TCP
}

// EgressAllows reports whether a NetworkPolicy that selects the pod lets it
// connect to d. A policy without Egress in its types restricts nothing. Peers
// are matched as the API defines them: a podSelector alone means the policy's
// namespace, a namespaceSelector alone every pod there, both together the pods
// of those namespaces; ipBlock an address outside the cluster.
func EgressAllows(np *networkingv1.NetworkPolicy, podLabels map[string]string, d Dest) bool {
	if !SelectorMatches(&np.Spec.PodSelector, podLabels) {
		return false
	}
	restricts := false
	for _, t := range np.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeEgress {
			restricts = true
		}
	}
	if !restricts {
		return true
	}
	proto := d.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, rule := range np.Spec.Egress {
		if !numericPortAllowed(rule.Ports, d.Port, proto) {
			continue
		}
		if len(rule.To) == 0 {
			return true
		}
		for _, peer := range rule.To {
			if peerMatches(peer, d) {
				return true
			}
		}
	}
	return false
}

func peerMatches(peer networkingv1.NetworkPolicyPeer, d Dest) bool {
	if peer.IPBlock != nil {
		if d.IP == "" {
			return false
		}
		ip, err := netip.ParseAddr(d.IP)
		if err != nil {
			return false
		}
		cidr, err := netip.ParsePrefix(peer.IPBlock.CIDR)
		if err != nil || !cidr.Contains(ip) {
			return false
		}
		for _, ex := range peer.IPBlock.Except {
			if p, err := netip.ParsePrefix(ex); err == nil && p.Contains(ip) {
				return false
			}
		}
		return true
	}
	if d.PodLabels == nil {
		return false
	}
	if peer.NamespaceSelector == nil {
		if d.NamespaceLabels != nil { // another namespace
			return false
		}
	} else if d.NamespaceLabels == nil || !SelectorMatches(peer.NamespaceSelector, d.NamespaceLabels) {
		// An empty namespaceSelector ({}) means every namespace; SelectorMatches
		// treats empty as nothing on purpose, so the charts never render one.
		return false
	}
	if peer.PodSelector == nil {
		return true
	}
	return SelectorMatches(peer.PodSelector, d.PodLabels)
}

func numericPortAllowed(ports []networkingv1.NetworkPolicyPort, port int32, proto corev1.Protocol) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.Int {
			end := p.Port.IntVal
			if p.EndPort != nil {
				end = *p.EndPort
			}
			if port >= p.Port.IntVal && port <= end {
				return true
			}
		}
	}
	return false
}

// CheckEgressClosed checks that no egress rule lets the pods reach anything: a
// rule without peers, an ipBlock of the whole internet, or every pod.
func CheckEgressClosed(np *networkingv1.NetworkPolicy) []error {
	var errs []error
	for i, rule := range np.Spec.Egress {
		if len(rule.To) == 0 {
			errs = append(errs, errorf("NetworkPolicy %s: egress rule %d allows any destination", np.Name, i))
		}
		if len(rule.Ports) == 0 {
			errs = append(errs, errorf("NetworkPolicy %s: egress rule %d allows every port", np.Name, i))
		}
		for j, peer := range rule.To {
			if peer.IPBlock != nil && (peer.IPBlock.CIDR == "0.0.0.0/0" || peer.IPBlock.CIDR == "::/0") {
				errs = append(errs, errorf("NetworkPolicy %s: egress rule %d peer %d allows %s", np.Name, i, j, peer.IPBlock.CIDR))
			}
			if peer.PodSelector != nil && len(peer.PodSelector.MatchLabels) == 0 && len(peer.PodSelector.MatchExpressions) == 0 {
				errs = append(errs, errorf("NetworkPolicy %s: egress rule %d peer %d allows every pod", np.Name, i, j))
			}
		}
	}
	return errs
}

// IngressAllows reports whether a NetworkPolicy that selects the target pods
// lets a connection from src (its namespace and pod labels) in on src.Port.
func IngressAllows(np *networkingv1.NetworkPolicy, targetLabels map[string]string, src Dest) bool {
	if !SelectorMatches(&np.Spec.PodSelector, targetLabels) {
		return false
	}
	proto := src.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, rule := range np.Spec.Ingress {
		if !numericPortAllowed(rule.Ports, src.Port, proto) {
			continue
		}
		if len(rule.From) == 0 {
			return true
		}
		for _, peer := range rule.From {
			if peerMatches(peer, src) {
				return true
			}
		}
	}
	return false
}
