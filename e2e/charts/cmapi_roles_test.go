package charts

import (
	"os"
	"path"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// envValue returns the value of the container's variable name, or "".
func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

// secretKeyAt returns the Secret and key whose file the pod mounts at file, so
// that a *_FILE variable can be traced to the Secret key it reads.
func secretKeyAt(dep *appsv1.Deployment, ctr corev1.Container, file string) (secret, key string, ok bool) {
	for _, m := range ctr.VolumeMounts {
		if !strings.HasPrefix(file, m.MountPath+"/") {
			continue
		}
		rel := strings.TrimPrefix(file, m.MountPath+"/")
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			if len(v.Secret.Items) == 0 {
				return v.Secret.SecretName, rel, true
			}
			for _, it := range v.Secret.Items {
				if path.Clean(it.Path) == rel {
					return v.Secret.SecretName, it.Key, true
				}
			}
		}
	}
	return "", "", false
}

// mountedKeys lists the Secret keys the Deployment's pods can read.
func mountedKeys(dep *appsv1.Deployment) map[string]bool {
	keys := map[string]bool{}
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			for _, it := range v.Secret.Items {
				keys[it.Key] = true
			}
		}
	}
	return keys
}

// cm-api deploys as two roles of one binary: the api with the service token and
// the cursor key (CM_API_*_FILE into the Secret's keys), the consumer with the
// Kafka password instead, neither with the other's, each told its role; the HPA scales the api, KEDA the consumer, and
// the consumer never runs more pods than the topic has partitions.
func TestCmAPIRoles(t *testing.T) {
	for _, vs := range cmAPI.valueSets(t) {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			objs := cmAPI.render(t, vs.args...)
			deps := deployments(t, objs)
			api, consumer := deps["api"], deps["consumer"]
			if api == nil || consumer == nil || len(deps) != 2 {
				t.Fatalf("want Deployments of components api and consumer, got %v", keys(deps))
			}
			if api.Name != "cm-api-api" || consumer.Name != "cm-api-consumer" {
				t.Errorf("Deployments %s and %s, want cm-api-api and cm-api-consumer", api.Name, consumer.Name)
			}
			apiCtr, consCtr := mainContainer(t, api, "cm-api"), mainContainer(t, consumer, "cm-api")
			if r := envValue(apiCtr, "CM_API_ROLE"); r != "api" {
				t.Errorf("%s: CM_API_ROLE=%q, want api", api.Name, r)
			}
			if r := envValue(consCtr, "CM_API_ROLE"); r != "consumer" {
				t.Errorf("%s: CM_API_ROLE=%q, want consumer", consumer.Name, r)
			}

			// The api reads the token and the cursor key from the Secret's keys.
			for env, want := range map[string]string{"CM_API_AUTH_TOKEN_FILE": "auth-token", "CM_API_CURSOR_KEY_FILE": "cursor-key"} {
				file := envValue(apiCtr, env)
				if file == "" {
					t.Errorf("%s: no %s", api.Name, env)
					continue
				}
				if _, key, ok := secretKeyAt(api, apiCtr, file); !ok || key != want {
					t.Errorf("%s: %s=%s reads Secret key %q (mounted: %v), want %q", api.Name, env, file, key, ok, want)
				}
			}
			// The consumer signs no cursors and serves no look-ups.
			for _, env := range []string{"CM_API_AUTH_TOKEN_FILE", "CM_API_CURSOR_KEY_FILE", "CM_API_CURSOR_PREVIOUS_KEY_FILE"} {
				if envValue(consCtr, env) != "" {
					t.Errorf("%s: sets %s", consumer.Name, env)
				}
			}
			for _, key := range []string{"auth-token", "cursor-key", "previous-cursor-key"} {
				if mountedKeys(consumer)[key] {
					t.Errorf("%s mounts the Secret key %s, which the consumer does not use", consumer.Name, key)
				}
			}

			// The api reads no topic, so it holds no Kafka credentials.
			if envValue(apiCtr, "CM_API_KAFKA_SASL_PASSWORD_FILE") != "" || mountedKeys(api)["kafka-password"] {
				t.Errorf("%s is given the Kafka password, which the look-up API does not use", api.Name)
			}
			if envValue(consCtr, "CM_API_KAFKA_SASL_PASSWORD_FILE") != "" && !mountedKeys(consumer)["kafka-password"] {
				t.Errorf("%s reads the Kafka password from a file it does not mount (the Secret key kafka-password)", consumer.Name)
			}

			// Scaling: the HPA on the api only, KEDA on the consumer only, the
			// consumer capped at the partitions.
			partitions := int32(lookupInt(t, chartValuesWith(t, vs), "kafkaPartitions"))
			for _, hpa := range all[*autoscalingv2.HorizontalPodAutoscaler](objs) {
				if hpa.Spec.ScaleTargetRef.Name != api.Name {
					t.Errorf("HPA %s scales %s, want only %s", hpa.Name, hpa.Spec.ScaleTargetRef.Name, api.Name)
				}
			}
			var scaled *ScaledObject
			for _, o := range objs {
				if so, ok := o.Obj.(*ScaledObject); ok {
					scaled = so
				}
			}
			if scaled != nil {
				if scaled.Spec.ScaleTargetRef.Name != consumer.Name {
					t.Errorf("ScaledObject %s scales %s, want %s", scaled.Name, scaled.Spec.ScaleTargetRef.Name, consumer.Name)
				}
				if scaled.Spec.MaxReplicaCount == nil || *scaled.Spec.MaxReplicaCount > partitions {
					t.Errorf("ScaledObject maxReplicaCount %v, want at most %d partitions", scaled.Spec.MaxReplicaCount, partitions)
				}
				if consumer.Spec.Replicas != nil {
					t.Errorf("%s sets replicas although KEDA owns them", consumer.Name)
				}
				if envValue(consCtr, "CM_API_KAFKA_SASL_USERNAME") == "" && scaled.Spec.Triggers[0].AuthenticationRef != nil {
					t.Errorf("%s lacks CM_API_KAFKA_SASL_USERNAME, which the TriggerAuthentication reads", consumer.Name)
				}
			} else if consumer.Spec.Replicas == nil || *consumer.Spec.Replicas > partitions || *consumer.Spec.Replicas < 1 {
				t.Errorf("%s replicas %v, want 1..%d (kafkaPartitions)", consumer.Name, consumer.Spec.Replicas, partitions)
			}

			// With a ServiceMonitor, both roles are scraped: it selects a Service of
			// each role's pods, and each has the port it scrapes.
			for _, o := range objs {
				sm, ok := o.Obj.(*ServiceMonitor)
				if !ok {
					continue
				}
				for _, d := range []*appsv1.Deployment{api, consumer} {
					found := false
					for _, svc := range all[*corev1.Service](objs) {
						if !SelectorMatches(&sm.Spec.Selector, svc.Labels) || !SelectorMatches(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, d.Spec.Template.Labels) {
							continue
						}
						for _, p := range svc.Spec.Ports {
							for _, e := range sm.Spec.Endpoints {
								if p.Name == e.Port {
									found = true
								}
							}
						}
					}
					if !found {
						t.Errorf("ServiceMonitor %s scrapes no Service of the pods of %s", sm.Name, d.Name)
					}
				}
			}

			// The consumer's NetworkPolicy lets in the metrics scraper only.
			np := policyFor(t, objs, consumer.Spec.Template.Labels)
			if AdmittedBy(np, consumer.Spec.Template.Labels, map[string]string{"app.kubernetes.io/name": "cm-server"}, intstr.FromString("http"), consCtr) {
				t.Errorf("%s admits cm-server to the consumer", np.Name)
			}
			for _, tp := range testPods(objs) {
				if AdmittedBy(np, consumer.Spec.Template.Labels, tp.Labels, intstr.FromString("http"), consCtr) {
					t.Errorf("%s admits the test pod %s to the consumer", np.Name, tp.Name)
				}
			}
		})
	}
}

// chartValuesWith returns values.yaml merged with the first -f file of the
// value set (enough for the top-level values the tests read).
func chartValuesWith(t testing.TB, vs valueSet) map[string]any {
	t.Helper()
	v := chartValues(t, cmAPI)
	for i := 0; i+1 < len(vs.args); i++ {
		if vs.args[i] == "-f" {
			for k, val := range readValues(t, vs.args[i+1]) {
				v[k] = val
			}
		}
	}
	return v
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The previous cursor key is mounted and passed only when there is one: from
// the chart's Secret (secrets.previousCursorKey) or from existingSecret
// (previousCursorKeyInExistingSecret).
func TestCmAPIPreviousCursorKey(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		want     bool
		inSecret bool // the chart's Secret holds previous-cursor-key
	}{
		{"none", nil, false, false},
		{"chart Secret", []string{"--set", "secrets.previousCursorKey=old"}, true, true},
		{"existingSecret", []string{"--set", "secrets.existingSecret=mine", "--set", "secrets.previousCursorKeyInExistingSecret=true"}, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := cmAPI.render(t, append([]string{"-f", cmAPI.required}, tc.args...)...)
			api := deployments(t, objs)["api"]
			ctr := mainContainer(t, api, "cm-api")
			file := envValue(ctr, "CM_API_CURSOR_PREVIOUS_KEY_FILE")
			if (file != "") != tc.want {
				t.Fatalf("CM_API_CURSOR_PREVIOUS_KEY_FILE=%q, want set=%v", file, tc.want)
			}
			if tc.want {
				if _, key, ok := secretKeyAt(api, ctr, file); !ok || key != "previous-cursor-key" {
					t.Errorf("CM_API_CURSOR_PREVIOUS_KEY_FILE=%s reads key %q (mounted: %v), want previous-cursor-key", file, key, ok)
				}
			} else if mountedKeys(api)["previous-cursor-key"] {
				t.Errorf("previous-cursor-key mounted without a previous key")
			}
			var own *corev1.Secret
			for _, s := range all[*corev1.Secret](objs) {
				own = s
			}
			if own != nil {
				if _, ok := own.Data["cursor-key"]; !ok {
					t.Errorf("Secret %s has no cursor-key", own.Name)
				}
				if _, ok := own.Data["previous-cursor-key"]; ok != tc.inSecret {
					t.Errorf("Secret %s has previous-cursor-key=%v, want %v", own.Name, ok, tc.inSecret)
				}
			} else if tc.inSecret {
				t.Errorf("no Secret rendered")
			}
		})
	}
}

// Both roles may reach DNS and MongoDB's pods; only the consumer the Kafka
// brokers; neither anything else.
func TestCmAPIEgress(t *testing.T) {
	objs := cmAPI.render(t, "-f", cmAPI.required)
	deps := deployments(t, objs)
	srv := deployments(t, cmServer.render(t, "-f", cmServer.required))["frontend"]
	shop := map[string]string{"kubernetes.io/metadata.name": "shop"}
	for role, kafkaWanted := range map[string]bool{"api": false, "consumer": true} {
		labels := deps[role].Spec.Template.Labels
		checkEgress(t, policyFor(t, objs, labels), labels, append(dnsCases(),
			egressCase{role + ": MongoDB member 0", pod(mongoNS, mongoMember0, 27017), true},
			egressCase{role + ": MongoDB member 1", pod(mongoNS, mongoMember1, 27017), true},
			egressCase{role + ": MongoDB on another port", pod(mongoNS, mongoMember0, 27018), false},
			egressCase{role + ": MongoDB-labelled pod of another namespace", pod(otherNS, mongoMember0, 27017), false},
			egressCase{role + ": Kafka broker, plain listener", pod(kafkaNS, kafkaBroker, 9092), kafkaWanted},
			egressCase{role + ": Kafka broker, TLS listener", pod(kafkaNS, kafkaBroker, 9093), kafkaWanted},
			egressCase{role + ": KRaft controller", pod(kafkaNS, kafkaControl, 9090), false},
			egressCase{role + ": another Strimzi cluster", pod(kafkaNS, otherBroker, 9092), false},
			egressCase{role + ": cm-server", pod(shop, srv.Spec.Template.Labels, 8080), false},
		))
	}

	// MongoDB and Kafka outside the cluster: the CIDRs of the values only.
	objs = cmAPI.render(t, "-f", cmAPI.required,
		"--set", "networkPolicy.egress.mongodb.inCluster.enabled=false",
		"--set", "networkPolicy.egress.mongodb.external[0].cidr=10.8.0.0/24",
		"--set", "networkPolicy.egress.mongodb.external[0].ports[0]=27017",
		"--set", "networkPolicy.egress.kafka.strimzi.enabled=false",
		"--set", "networkPolicy.egress.kafka.external[0].cidr=10.9.0.0/24",
		"--set", "networkPolicy.egress.kafka.external[0].ports[0]=19092")
	deps = deployments(t, objs)
	for role, kafkaWanted := range map[string]bool{"api": false, "consumer": true} {
		labels := deps[role].Spec.Template.Labels
		checkEgress(t, policyFor(t, objs, labels), labels, []egressCase{
			{role + ": external MongoDB", Dest{IP: "10.8.0.5", Port: 27017}, true},
			{role + ": external MongoDB, another port", Dest{IP: "10.8.0.5", Port: 27018}, false},
			{role + ": in-cluster MongoDB", pod(mongoNS, mongoMember0, 27017), false},
			{role + ": external broker", Dest{IP: "10.9.0.5", Port: 19092}, kafkaWanted},
			{role + ": the Strimzi broker pods", pod(kafkaNS, kafkaBroker, 9092), false},
		})
	}

	objs = cmAPI.render(t, "-f", cmAPI.required, "--set", "networkPolicy.egress.enabled=false")
	for role, d := range deployments(t, objs) {
		np := policyFor(t, objs, d.Spec.Template.Labels)
		if len(np.Spec.Egress) > 0 || !EgressAllows(np, d.Spec.Template.Labels, Dest{IP: "1.1.1.1", Port: 443}) {
			t.Errorf("%s: networkPolicy.egress.enabled=false still limits egress", role)
		}
	}
}

// readValues reads a values file given to helm with -f.
func readValues(t testing.TB, file string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
