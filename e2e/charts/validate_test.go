package charts

import (
	"strings"
	"testing"
)

// The validator must refuse what the API server (or the operator behind a
// custom resource) would refuse or silently drop; otherwise the render tests
// prove nothing.
func TestValidatorCatches(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string // part of the error
	}{
		{"unknown field in a Deployment", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  replica: 2
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec: {containers: [{name: c, image: i}]}
`, `unknown field "spec.replica"`},
		{"misspelt container field", `
apiVersion: v1
kind: Pod
metadata: {name: x}
spec:
  containers: [{name: c, image: i, readinessprobe: {}}]
`, `unknown field "spec.containers[0].readinessprobe"`},
		{"duplicate key", `
apiVersion: v1
kind: ConfigMap
metadata: {name: x}
data:
  a: "1"
  a: "2"
`, `key "a" already set`},
		{"wrong type", `
apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  ports: [{port: "eighty"}]
`, `port`},
		{"unknown kind", `
apiVersion: example.com/v1
kind: Widget
metadata: {name: x}
`, `unknown apiVersion/kind`},
		{"beta API", `
apiVersion: batch/v1beta1
kind: CronJob
metadata: {name: x}
spec: {schedule: "* * * * *", jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: i}]}}}}}
`, `pre-GA`},
		{"API version removed from Kubernetes", `
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: {name: x}
spec: {scaleTargetRef: {kind: Deployment, name: x}, maxReplicas: 2}
`, `unknown apiVersion/kind`},
		{"invalid label value", `
apiVersion: v1
kind: ConfigMap
metadata: {name: x, labels: {app: "not a label value"}}
`, `metadata.labels`},
		{"Service name that is no DNS label", `
apiVersion: v1
kind: Service
metadata: {name: cm.api}
spec: {ports: [{port: 80}]}
`, `metadata.name`},
		{"KafkaTopic unknown field", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: t, labels: {strimzi.io/cluster: shop}}
spec: {partitons: 6}
`, `spec.partitons: Invalid value: "": unknown field`},
		{"KafkaTopic 0 partitions", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: t}
spec: {partitions: 0}
`, `spec.partitions: Invalid value: 0: spec.partitions in body should be greater than or equal to 1`},
		{"Strimzi version the CRD does not serve", `
apiVersion: kafka.strimzi.io/v1beta2
kind: KafkaTopic
metadata: {name: t}
spec: {partitions: 1}
`, `not served by the CRD`},
		{"KafkaUser unknown authentication type", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata: {name: u}
spec: {authentication: {type: kerberos}}
`, `spec.authentication.type: Unsupported value: "kerberos"`},
		{"KafkaUser ACL with the v1beta2 'operation' field", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaUser
metadata: {name: u}
spec:
  authentication: {type: scram-sha-512}
  authorization:
    type: simple
    acls: [{resource: {type: topic, name: t}, operation: Read}]
`, `operation`},
		{"MongoDBCommunity sharded", `
apiVersion: mongodbcommunity.mongodb.com/v1
kind: MongoDBCommunity
metadata: {name: m}
spec:
  type: Sharded
  members: 1
  security: {authentication: {modes: [SCRAM]}}
  users: []
`, `spec.type: Unsupported value: "Sharded"`},
		{"HTTPRoute bad hostname (pattern)", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  hostnames: ["-not a hostname-"]
`, `spec.hostnames[0]`},
		{"HTTPRoute rewrite rule the CEL rules forbid", `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
    - matches: [{path: {type: Exact, value: /buy}}]
      filters:
        - type: URLRewrite
          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}
`, `exactly one PathPrefix match must be specified`},
		{"unknown metadata field of a custom resource", `
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: t, label: {a: b}}
spec: {partitions: 1}
`, `unknown field "label"`},
		{"ServiceMonitor misspelt field", `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: s}
spec:
  selector: {matchLabels: {a: b}}
  endpoint: [{port: http}]
`, `unknown field "endpoint"`},
		{"ServiceMonitor timeout longer than interval", `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: s}
spec:
  selector: {matchLabels: {a: b}}
  endpoints: [{port: http, interval: 10s, scrapeTimeout: 30s}]
`, `scrapeTimeout`},
		{"ScaledObject metadata value that is not a string", `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: s}
spec:
  scaleTargetRef: {name: d}
  triggers: [{type: kafka, metadata: {allowIdleConsumers: false}}]
`, `cannot unmarshal bool`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			docs, err := SplitManifest(tc.yaml)
			if err != nil {
				if strings.Contains(err.Error(), tc.want) {
					return
				}
				t.Fatal(err)
			}
			if len(docs) != 1 {
				t.Fatalf("want one document, got %d", len(docs))
			}
			_, err = validator.Decode(docs[0])
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// A correct object of each CRD-backed kind passes, so the cases above fail for
// the reason they name.
func TestValidatorAccepts(t *testing.T) {
	for _, y := range []string{`
apiVersion: kafka.strimzi.io/v1
kind: KafkaTopic
metadata: {name: t, labels: {strimzi.io/cluster: shop}}
spec: {partitions: 6, replicas: 1, config: {retention.ms: 1000}}
`, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  hostnames: [shop.example.com]
  rules:
    - matches: [{path: {type: PathPrefix, value: /shop/buy}}]
      filters:
        - type: URLRewrite
          urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /buy}}
      backendRefs: [{name: cm-server, port: 80}]
`} {
		docs, err := SplitManifest(y)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := validator.Decode(docs[0]); err != nil {
			t.Error(err)
		}
	}
}
