package charts

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Namespaces and pods as the other charts and Kubernetes label them.
var (
	kubeSystem = map[string]string{"kubernetes.io/metadata.name": "kube-system"}
	kafkaNS    = map[string]string{"kubernetes.io/metadata.name": "kafka"}
	mongoNS    = map[string]string{"kubernetes.io/metadata.name": "mongodb"}
	otherNS    = map[string]string{"kubernetes.io/metadata.name": "other"}

	coreDNS      = map[string]string{"k8s-app": "kube-dns"}
	kafkaBroker  = map[string]string{"strimzi.io/cluster": "shop", "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true", "strimzi.io/controller-role": "false"}
	kafkaControl = map[string]string{"strimzi.io/cluster": "shop", "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "false", "strimzi.io/controller-role": "true"}
	otherBroker  = map[string]string{"strimzi.io/cluster": "other", "strimzi.io/kind": "Kafka", "strimzi.io/broker-role": "true"}
	mongoMember0 = map[string]string{"app": "shop-mongodb-svc", "statefulset.kubernetes.io/pod-name": "shop-mongodb-0"}
	mongoMember1 = map[string]string{"app": "shop-mongodb-svc", "statefulset.kubernetes.io/pod-name": "shop-mongodb-1"}
	mongoArbiter = map[string]string{"app": "shop-mongodb-svc", "statefulset.kubernetes.io/pod-name": "shop-mongodb-arb-0"}
)

type egressCase struct {
	name string
	d    Dest
	want bool
}

func pod(ns, labels map[string]string, port int32) Dest {
	return Dest{NamespaceLabels: ns, PodLabels: labels, Port: port}
}

func checkEgress(t *testing.T, np *networkingv1.NetworkPolicy, podLabels map[string]string, cases []egressCase) {
	t.Helper()
	report(t, CheckEgressClosed(np))
	for _, c := range cases {
		if got := EgressAllows(np, podLabels, c.d); got != c.want {
			t.Errorf("%s: %s allowed=%v, want %v", np.Name, c.name, got, c.want)
		}
	}
}

// dnsCases: DNS over UDP and TCP to CoreDNS only.
func dnsCases() []egressCase {
	udp := pod(kubeSystem, coreDNS, 53)
	udp.Protocol = corev1.ProtocolUDP
	return []egressCase{
		{"DNS over UDP", udp, true},
		{"DNS over TCP", pod(kubeSystem, coreDNS, 53), true},
		{"DNS-labelled pod in another namespace", pod(otherNS, coreDNS, 53), false},
		{"another kube-system pod on 53", pod(kubeSystem, map[string]string{"k8s-app": "metrics-server"}, 53), false},
		{"the internet", Dest{IP: "1.1.1.1", Port: 443}, false},
		{"the cloud metadata service", Dest{IP: "169.254.169.254", Port: 80}, false},
	}
}

// cm-server's pods may reach only DNS, the Kafka brokers and cm-api's pods.
func TestEgressDefaults(t *testing.T) {
	objs := cmServer.render(t, "-f", cmServer.required)
	srv := deployments(t, objs)["frontend"]
	apiDeps := deployments(t, cmAPI.render(t, "-f", cmAPI.required))
	api, consumer := apiDeps["api"], apiDeps["consumer"]
	np := policyFor(t, objs, srv.Spec.Template.Labels)
	checkEgress(t, np, srv.Spec.Template.Labels, append(dnsCases(),
		egressCase{"Kafka broker, plain listener", pod(kafkaNS, kafkaBroker, 9092), true},
		egressCase{"Kafka broker, TLS listener", pod(kafkaNS, kafkaBroker, 9093), true},
		egressCase{"Kafka broker, another port", pod(kafkaNS, kafkaBroker, 9091), false},
		egressCase{"KRaft controller", pod(kafkaNS, kafkaControl, 9090), false},
		egressCase{"another Strimzi cluster", pod(kafkaNS, otherBroker, 9092), false},
		egressCase{"cm-api's pods on their port", pod(nil, api.Spec.Template.Labels, 8081), true},
		egressCase{"cm-api's pods on the Service port", pod(nil, api.Spec.Template.Labels, 80), false},
		egressCase{"cm-api's consumer pods", pod(nil, consumer.Spec.Template.Labels, 8081), false},
		egressCase{"MongoDB", pod(mongoNS, mongoMember0, 27017), false},
	))
}

// Kafka outside the cluster: the CIDRs and ports of the values, and no longer
// the in-cluster pods.
func TestEgressExternalEndpoints(t *testing.T) {
	objs := cmServer.render(t, "-f", cmServer.required,
		"--set", "networkPolicy.egress.kafka.strimzi.enabled=false",
		"--set", "networkPolicy.egress.kafka.external[0].cidr=10.9.0.0/24",
		"--set", "networkPolicy.egress.kafka.external[0].except[0]=10.9.0.128/25",
		"--set", "networkPolicy.egress.kafka.external[0].ports[0]=19092")
	srv := deployments(t, objs)["frontend"]
	checkEgress(t, policyFor(t, objs, srv.Spec.Template.Labels), srv.Spec.Template.Labels, []egressCase{
		{"external broker", Dest{IP: "10.9.0.5", Port: 19092}, true},
		{"external broker, another port", Dest{IP: "10.9.0.5", Port: 9092}, false},
		{"excepted address", Dest{IP: "10.9.0.200", Port: 19092}, false},
		{"outside the CIDR", Dest{IP: "10.9.1.5", Port: 19092}, false},
		{"the Strimzi broker pods", pod(kafkaNS, kafkaBroker, 9092), false},
	})
	objs = cmServer.render(t, "-f", cmServer.required, "--set", "networkPolicy.egress.enabled=false")
	np := policyFor(t, objs, srv.Spec.Template.Labels)
	if len(np.Spec.Egress) > 0 || !EgressAllows(np, srv.Spec.Template.Labels, Dest{IP: "1.1.1.1", Port: 443}) {
		t.Errorf("networkPolicy.egress.enabled=false still limits egress")
	}
}

// The egress checks themselves must catch a broken policy.
func TestEgressChecksCatch(t *testing.T) {
	objs := cmServer.render(t, "-f", cmServer.required)
	srv := deployments(t, objs)["frontend"]
	good := policyFor(t, objs, srv.Spec.Template.Labels)
	open := good.DeepCopy()
	open.Spec.Egress = append(open.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
	if !anyContains(CheckEgressClosed(open), "allows any destination") {
		t.Errorf("a rule without peers passes")
	}
	if !EgressAllows(open, srv.Spec.Template.Labels, Dest{IP: "1.1.1.1", Port: 443}) {
		t.Errorf("EgressAllows misses an open rule")
	}
	noNS := good.DeepCopy()
	for i := range noNS.Spec.Egress {
		for j := range noNS.Spec.Egress[i].To {
			noNS.Spec.Egress[i].To[j].NamespaceSelector = nil
		}
	}
	if EgressAllows(noNS, srv.Spec.Template.Labels, pod(kafkaNS, kafkaBroker, 9092)) {
		t.Errorf("a peer without namespaceSelector matched a pod of another namespace")
	}
}

// A CoreDNS that listens on another port behind the kube-dns Service (policies
// see the pod's port): dnsPorts opens that one instead of 53.
func TestEgressDNSPorts(t *testing.T) {
	objs := cmServer.render(t, "-f", cmServer.required, "--set", "networkPolicy.egress.dnsPorts[0]=1053")
	srv := deployments(t, objs)["frontend"]
	np := policyFor(t, objs, srv.Spec.Template.Labels)
	udp := pod(kubeSystem, coreDNS, 1053)
	udp.Protocol = corev1.ProtocolUDP
	checkEgress(t, np, srv.Spec.Template.Labels, []egressCase{
		{"DNS over UDP on 1053", udp, true},
		{"DNS over TCP on 1053", pod(kubeSystem, coreDNS, 1053), true},
		{"DNS on 53", pod(kubeSystem, coreDNS, 53), false},
	})
}
