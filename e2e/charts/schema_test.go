package charts

import (
	"strings"
	"testing"
)

const schemaRefusal = "values don't meet the specifications of the schema"

// values.schema.json refuses bad values before anything is rendered, with a
// message that names the value and what is wrong with it.
func TestSchemaRefusesBadValues(t *testing.T) {
	cases := []struct {
		c    chart
		set  []string
		want []string // every part must appear in helm's message
	}{
		// The three the issue names, for both services.
		{cmServer, []string{"replicaCount=two"}, []string{"/replicaCount", "got string, want integer"}},
		{cmServer, []string{"service.port=-1"}, []string{"/service/port", "minimum: got -1, want 1"}},
		{cmServer, []string{"image.repository=null"}, []string{"/image", "missing property 'repository'"}},
		{cmAPI, []string{"api.replicaCount=two"}, []string{"/api/replicaCount", "got string, want integer"}},
		{cmAPI, []string{"consumer.replicaCount=two"}, []string{"/consumer/replicaCount", "got string, want integer"}},
		{cmAPI, []string{"replicaCount=2"}, []string{"additional properties 'replicaCount' not allowed"}},
		{cmAPI, []string{"consumer.autoscaling.enabled=true"}, []string{"/consumer", "additional properties 'autoscaling' not allowed"}},
		{cmAPI, []string{"api.keda.enabled=true"}, []string{"/api", "additional properties 'keda' not allowed"}},
		{cmAPI, []string{"secrets.cursorkey=x"}, []string{"/secrets", "additional properties 'cursorkey' not allowed"}},
		{cmAPI, []string{"config.consumer.stall_timeout=2"}, []string{"/config/consumer/stall_timeout", "got number, want string"}},
		{cmAPI, []string{"networkPolicy.egress.mongodb.inCluster.ports[0]=0"}, []string{"/networkPolicy/egress/mongodb/inCluster/ports/0", "minimum"}},
		{cmAPI, []string{"networkPolicy.egress.mongodb.external[0].cidr=10.0.0.0/8"}, []string{"/networkPolicy/egress/mongodb/external/0", "missing property 'ports'"}},
		{cmServer, []string{"networkPolicy.egress.kafka.strimzi.ports[0]=0"}, []string{"/networkPolicy/egress/kafka/strimzi/ports/0", "minimum"}},
		{cmServer, []string{"networkPolicy.egress.kafka.external[0].cidr=10.0.0.1"}, []string{"/networkPolicy/egress/kafka/external/0", "missing property 'ports'"}},
		{cmServer, []string{"networkPolicy.egress.kafka.external[0].cidr=any", "networkPolicy.egress.kafka.external[0].ports[0]=9092"}, []string{"/networkPolicy/egress/kafka/external/0/cidr", "does not match pattern"}},
		{cmServer, []string{"networkPolicy.egress.dns[0].podSelector=kube-dns"}, []string{"/networkPolicy/egress/dns/0/podSelector", "got string, want object"}},
		{cmServer, []string{"cmapi.serviceName=Cm_Api"}, []string{"/cmapi/serviceName", "does not match pattern"}},
		{cmServer, []string{"cmapi.podLabels=null"}, []string{"/cmapi", "missing property 'podLabels'"}},
		{cmServer, []string{"config.cmapi.url=cm-api"}, []string{"/config/cmapi/url", "does not match pattern"}},
		{cmAPI, []string{"service.port=-1"}, []string{"/service/port", "minimum: got -1, want 1"}},
		{cmAPI, []string{"image.repository=null"}, []string{"/image", "missing property 'repository'"}},
		// Typos would otherwise do nothing.
		{cmServer, []string{"servce.port=80"}, []string{"additional properties 'servce' not allowed"}},
		{cmServer, []string{"config.kafka.sasl.mechanizm=plain"}, []string{"/config/kafka/sasl", "additional properties 'mechanizm' not allowed"}},
		{cmAPI, []string{"api.autoscaling.maxReplica=3"}, []string{"/api/autoscaling", "additional properties 'maxReplica' not allowed"}},
		{cmAPI, []string{"consumer.keda.maxReplica=3"}, []string{"/consumer/keda", "additional properties 'maxReplica' not allowed"}},
		{cmAPI, []string{"config.lookup.max_concurrent=-1"}, []string{"/config/lookup/max_concurrent", "minimum"}},
		{cmAPI, []string{"config.lookup.timeout=2"}, []string{"/config/lookup/timeout", "got number, want string"}},
		{cmAPI, []string{"config.lookup.queueWait=1s"}, []string{"/config/lookup", "additional properties 'queueWait' not allowed"}},
		{cmAPI, []string{"config.mongo.url=mongodb://x"}, []string{"/config/mongo", "additional properties 'url' not allowed"}},
		// Enums, patterns, ranges.
		{cmServer, []string{"config.log.level=verbose"}, []string{"/config/log/level", "value must be one of"}},
		{cmServer, []string{"config.auth.jwt.mode=rs256"}, []string{"/config/auth/jwt/mode", "value must be one of"}},
		{cmServer, []string{"config.trace.sample_ratio=2"}, []string{"/config/trace/sample_ratio", "maximum"}},
		{cmAPI, []string{"config.auth.tokenGrace=1m"}, []string{"/config/auth", "additional properties 'tokenGrace' not allowed"}},
		{cmServer, []string{"config.shutdown.timeout=15"}, []string{"/config/shutdown/timeout", "got number, want string"}},
		{cmServer, []string{"config.shutdown.timeout=15sec"}, []string{"/config/shutdown/timeout", "does not match pattern"}},
		{cmServer, []string{"image.pullPolicy=Sometimes"}, []string{"/image/pullPolicy", "value must be one of"}},
		{cmServer, []string{"containerPort=70000"}, []string{"/containerPort", "maximum"}},
		{cmServer, []string{"pathPrefix=shop"}, []string{"/pathPrefix", "does not match pattern"}},
		{cmAPI, []string{"service.type=LoadBalancer"}, []string{"/service/type", "value must be 'ClusterIP'"}},
		{cmAPI, []string{"kafkaPartitions=0"}, []string{"/kafkaPartitions", "minimum"}},
		{kafka, []string{"topics.purchases.partitions=many"}, []string{"/topics/purchases/partitions", "got string, want integer"}},
		{kafka, []string{"controllers.replicas=2"}, []string{"/controllers/replicas", "value must be one of"}},
		{kafka, []string{"brokers.storage.type=hostPath"}, []string{"/brokers/storage/type", "value must be one of"}},
		{kafka, []string{"topics.orders.partitions=3"}, []string{"additional properties 'orders' not allowed"}},
		{mongodb, []string{"members=two"}, []string{"/members", "got string, want integer"}},
		{mongodb, []string{"arbiters=2"}, []string{"/arbiters", "maximum"}},
		{mongodb, []string{"version=latest"}, []string{"/version", "does not match pattern"}},
	}
	for _, tc := range cases {
		t.Run(tc.c.name+" "+strings.Join(tc.set, " "), func(t *testing.T) {
			t.Parallel()
			var args []string
			if tc.c.required != "" {
				args = append(args, "-f", tc.c.required)
			}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := tc.c.template(args...)
			if err == nil {
				t.Fatalf("rendered; the schema should refuse %v", tc.set)
			}
			for _, w := range append([]string{schemaRefusal}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// Combinations the schema cannot see are refused by the templates with a
// message that says what to change.
func TestTemplatesRefuseBadCombinations(t *testing.T) {
	cases := []struct {
		c    chart
		args []string
		want string
	}{
		{cmServer, []string{"--set", "secrets.cmapiToken="}, "the bearer token for cm-api is missing"},
		{cmServer, []string{"--set", "secrets.kafkaPassword="}, "no Kafka password is given"},
		{cmServer, []string{"--set", "terminationGracePeriodSeconds=20"}, "terminationGracePeriodSeconds (20) must be longer than"},
		{cmServer, []string{"--set", "config.shutdown.timeout=1m", "--set", "terminationGracePeriodSeconds=60"}, "must be longer than"},
		{cmServer, []string{"--set", "autoscaling.minReplicas=5", "--set", "autoscaling.maxReplicas=3"}, "maxReplicas must not be smaller"},
		{cmServer, []string{"--set", "config.auth.jwt.mode=hs256"}, "config.auth.jwt.mode is hs256 but no secret is given"},
		{cmServer, []string{"--set", "config.auth.jwt.mode=hs256", "--set", "secrets.jwtSecret=short"}, "at least 32 bytes"},
		{cmServer, []string{"--set", "config.auth.jwt.mode=jwks"}, "jwks.configMap names no ConfigMap"},
		{cmAPI, []string{"--set", "secrets.authToken="}, "the bearer token cm-server must present is missing"},
		{cmAPI, []string{"--set", "secrets.mongoPassword="}, "no MongoDB password is given"},
		{cmAPI, []string{"--set", "secrets.cursorKey="}, "the cursor key is missing"},
		{cmAPI, []string{"--set", "secrets.existingSecret=mine", "--set", "secrets.previousCursorKey=old"}, "set secrets.previousCursorKeyInExistingSecret=true instead"},
		{cmAPI, []string{"--set", "secrets.previousCursorKeyInExistingSecret=true"}, "secrets.previousCursorKeyInExistingSecret is true but secrets.existingSecret is empty"},
		{cmAPI, []string{"--set", "consumer.replicaCount=7"}, "consumer.replicaCount (7) is larger than kafkaPartitions (6)"},
		{cmAPI, []string{"--set", "kafkaPartitions=12", "--set", "consumer.replicaCount=13"}, "consumer.replicaCount (13) is larger than kafkaPartitions (12)"},
		{cmAPI, []string{"--set", "consumer.keda.enabled=true", "--set", "consumer.keda.maxReplicaCount=7"}, "consumer.keda.maxReplicaCount (7) is larger than kafkaPartitions (6)"},
		{cmAPI, []string{"--set", "consumer.keda.enabled=true", "--set", "consumer.keda.minReplicaCount=4", "--set", "consumer.keda.maxReplicaCount=3"}, "consumer.keda.minReplicaCount must not be larger"},
		{cmAPI, []string{"--set", "api.autoscaling.minReplicas=5", "--set", "api.autoscaling.maxReplicas=3"}, "api.autoscaling.maxReplicas must not be smaller"},
		{cmAPI, []string{"--set", "api.autoscaling.targetCPUUtilizationPercentage=0"}, "both target utilisations are 0"},
		{cmAPI, []string{"--set", "config.consumer.stall_timeout=15s"}, "config.consumer.stall_timeout (15s) must be 0s or at least twice config.kafka.session_timeout (10s)"},
		{kafka, []string{"--set", "topics.purchases.replicas=3"}, "topics.purchases.replicas (3) is larger than brokers.replicas (1)"},
		{kafka, []string{"--set", "topics.purchases.config.min\\.insync\\.replicas=2"}, "every acks=all write would fail"},
		{kafka, []string{"--set", "kafka.config.default\\.replication\\.factor=3"}, "kafka.config.default.replication.factor (3) is larger than brokers.replicas (1)"},
		{mongodb, []string{"--set", "members=2", "--set", "arbiters=0"}, "is even"},
	}
	for _, tc := range cases {
		t.Run(tc.c.name+" "+strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if tc.c.required != "" {
				args = append([]string{"-f", tc.c.required}, args...)
			}
			_, err := tc.c.template(args...)
			if err == nil {
				t.Fatalf("rendered; want a refusal containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("message lacks %q:\n%v", tc.want, err)
			}
		})
	}
}

// Without their secrets the service charts refuse to render (a service without
// its token or passwords cannot start); with only the secrets they render.
func TestServiceChartsRequireSecrets(t *testing.T) {
	for _, c := range serviceCharts {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.template()
			if err == nil || !strings.Contains(err.Error(), "Set secrets.existingSecret") {
				t.Fatalf("pure defaults: want a refusal naming secrets.existingSecret, got %v", err)
			}
			c.render(t, "-f", c.required)
			c.render(t, "--set", "secrets.existingSecret=mine")
		})
	}
}
