package charts

import (
	"strings"
	"testing"
)

// Every chart passes helm lint --strict with its defaults and with each of its
// production-like ci values.
func TestLint(t *testing.T) {
	for _, c := range allCharts {
		for _, vs := range c.valueSets(t) {
			t.Run(c.name+"/"+vs.name, func(t *testing.T) {
				t.Parallel()
				args := append([]string{"lint", "--strict", c.path(), "--namespace", c.namespace}, vs.args...)
				out, err := helm.Run(args...)
				if err != nil {
					t.Fatalf("%v\n%s", err, out)
				}
			})
		}
	}
}

// Every rendered object decodes strictly into its API type, or validates against
// its CRD's schema; each chart renders the kinds it promises.
func TestRenderStrict(t *testing.T) {
	want := map[string][]string{
		"cm-server": {"ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy", "Pod"},
		"cm-api":    {"ServiceAccount", "ConfigMap", "Service", "Deployment", "PodDisruptionBudget", "NetworkPolicy", "Pod"},
		"kafka":     {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "Pod"},
		"mongodb":   {"MongoDBCommunity", "Pod"},
	}
	for _, c := range allCharts {
		for _, vs := range c.valueSets(t) {
			t.Run(c.name+"/"+vs.name, func(t *testing.T) {
				t.Parallel()
				objs := c.render(t, vs.args...)
				kinds := map[string]int{}
				for _, o := range objs {
					kinds[o.Kind]++
				}
				for _, k := range want[c.name] {
					if kinds[k] == 0 {
						t.Errorf("no %s rendered (got %v)", k, kinds)
					}
				}
				t.Logf("%d objects: %v", len(objs), kinds)
			})
		}
	}
}

// The optional objects render and validate when switched on.
func TestRenderOptionalObjects(t *testing.T) {
	cases := []struct {
		c    chart
		args []string
		want []string
	}{
		{cmServer, []string{"--set", "httpRoute.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"}, []string{"HTTPRoute", "ServiceMonitor", "Ingress", "HorizontalPodAutoscaler"}},
		{cmServer, []string{"--set", "pathPrefix=/shop", "--set", "httpRoute.enabled=true"}, []string{"HTTPRoute", "Ingress"}},
		{cmAPI, []string{"--set", "consumer.keda.enabled=true", "--set", "metrics.serviceMonitor.enabled=true"}, []string{"ScaledObject", "TriggerAuthentication", "ServiceMonitor", "HorizontalPodAutoscaler"}},
		{cmServer, []string{"--set", "prometheusRule.enabled=true", "--set", "dashboard.enabled=true"}, []string{"PrometheusRule", "ConfigMap"}},
		{cmAPI, []string{"--set", "prometheusRule.enabled=true"}, []string{"PrometheusRule"}},
		{kafka, []string{"--set", "users.kafkaUi.enabled=true", "--set", "metrics.kafkaExporter=true"}, []string{"KafkaUser"}},
	}
	for _, tc := range cases {
		t.Run(tc.c.name+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.c.required != "" {
				args = append([]string{"-f", tc.c.required}, args...)
			}
			objs := tc.c.render(t, args...)
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.Kind] = true
			}
			for _, k := range tc.want {
				if !kinds[k] {
					t.Errorf("no %s rendered", k)
				}
			}
		})
	}
}
