package charts

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func customResources(objs []Object, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range all[*unstructured.Unstructured](objs) {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

func nestedInt(t testing.TB, u *unstructured.Unstructured, path ...string) int64 {
	t.Helper()
	v, ok, err := unstructured.NestedInt64(u.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s %s: %s not set (%v)", u.GetKind(), u.GetName(), strings.Join(path, "."), err)
	}
	return v
}

func nestedString(u *unstructured.Unstructured, path ...string) string {
	v, _, _ := unstructured.NestedString(u.Object, path...)
	return v
}

// acl is one "type:name:operation" permission of a KafkaUser.
func acls(t testing.TB, u *unstructured.Unstructured) []string {
	t.Helper()
	list, _, err := unstructured.NestedSlice(u.Object, "spec", "authorization", "acls")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range list {
		m := a.(map[string]any)
		res := m["resource"].(map[string]any)
		if typ, _ := m["type"].(string); typ == "deny" {
			continue
		}
		ops, _ := m["operations"].([]any)
		for _, op := range ops {
			out = append(out, fmt.Sprintf("%v:%v:%v", res["type"], res["name"], op))
		}
	}
	sort.Strings(out)
	return out
}

// The Kafka chart: KRaft with 3 dedicated controllers and a broker pool, the two
// topics, and SCRAM users whose ACLs allow exactly what each service does.
func TestKafkaChart(t *testing.T) {
	for _, vs := range kafka.valueSets(t) {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			objs := kafka.render(t, vs.args...)
			k := customResources(objs, "Kafka")
			if len(k) != 1 {
				t.Fatalf("want one Kafka, got %d", len(k))
			}
			cluster := k[0].GetName()
			if a := nestedString(k[0], "spec", "kafka", "authorization", "type"); a != "simple" {
				t.Errorf("Kafka authorization %q: ACLs would not be enforced", a)
			}
			listeners, _, _ := unstructured.NestedSlice(k[0].Object, "spec", "kafka", "listeners")
			for _, l := range listeners {
				lm := l.(map[string]any)
				auth, _ := lm["authentication"].(map[string]any)
				if auth["type"] != "scram-sha-512" {
					t.Errorf("listener %v accepts clients without SCRAM-SHA-512", lm["name"])
				}
			}

			roles := map[string]int64{}
			for _, np := range customResources(objs, "KafkaNodePool") {
				rs, _, _ := unstructured.NestedStringSlice(np.Object, "spec", "roles")
				if len(rs) != 1 {
					t.Errorf("KafkaNodePool %s has roles %v: controllers and brokers are dedicated", np.GetName(), rs)
				}
				for _, r := range rs {
					roles[r] += nestedInt(t, np, "spec", "replicas")
				}
			}
			if roles["controller"] != 3 {
				t.Errorf("%d KRaft controllers, want 3", roles["controller"])
			}
			if roles["broker"] < 1 {
				t.Errorf("no broker")
			}

			topics := map[string]*unstructured.Unstructured{}
			for _, tp := range customResources(objs, "KafkaTopic") {
				topics[nestedString(tp, "spec", "topicName")] = tp
			}
			for _, name := range []string{"purchases", "purchases.dlq"} {
				tp, ok := topics[name]
				if !ok {
					t.Errorf("no KafkaTopic with topicName %s", name)
					continue
				}
				if rf := nestedInt(t, tp, "spec", "replicas"); rf > roles["broker"] {
					t.Errorf("topic %s replication factor %d > %d brokers", name, rf, roles["broker"])
				}
			}
			if vs.name == "defaults" {
				if p := nestedInt(t, topics["purchases"], "spec", "partitions"); p != 6 {
					t.Errorf("purchases has %d partitions by default, want 6", p)
				}
			}

			// Every resource belongs to this cluster, or Strimzi ignores it.
			for _, o := range all[*unstructured.Unstructured](objs) {
				if o.GetKind() != "Kafka" && o.GetLabels()["strimzi.io/cluster"] != cluster {
					t.Errorf("%s %s lacks strimzi.io/cluster=%s", o.GetKind(), o.GetName(), cluster)
				}
			}

			users := map[string]*unstructured.Unstructured{}
			for _, u := range customResources(objs, "KafkaUser") {
				users[u.GetName()] = u
				if typ := nestedString(u, "spec", "authentication", "type"); typ != "scram-sha-512" {
					t.Errorf("KafkaUser %s authenticates with %q, want scram-sha-512", u.GetName(), typ)
				}
			}
			want := map[string][]string{
				"cm-server": {"topic:purchases:Describe", "topic:purchases:Write"},
				"cm-api": {"group:cm-api-summaries:Read", "group:cm-api:Read", "topic:purchases.dlq:Describe", "topic:purchases.dlq:Write",
					"topic:purchases:Describe", "topic:purchases:Read"},
			}
			for name, w := range want {
				u, ok := users[name]
				if !ok {
					t.Errorf("no KafkaUser %s", name)
					continue
				}
				if got := acls(t, u); !slices.Equal(got, w) {
					t.Errorf("KafkaUser %s ACLs\n got %v\nwant %v (least privilege)", name, got, w)
				}
			}
			if u, ok := users["kafka-ui"]; ok {
				for _, a := range acls(t, u) {
					if strings.HasSuffix(a, ":Write") || strings.HasSuffix(a, ":Alter") || strings.HasSuffix(a, ":Delete") || strings.HasSuffix(a, ":All") {
						t.Errorf("kafka-ui user may %s; it should be read-only", a)
					}
				}
			}
			if len(testPods(objs)) == 0 {
				t.Errorf("no helm test pod")
			}
		})
	}
}

// The MongoDB chart: a PSA replica set with SCRAM, and a cm-api user that may
// read and write the shop database only.
func TestMongoDBChart(t *testing.T) {
	for _, vs := range mongodb.valueSets(t) {
		t.Run(vs.name, func(t *testing.T) {
			t.Parallel()
			objs := mongodb.render(t, vs.args...)
			m := customResources(objs, "MongoDBCommunity")
			if len(m) != 1 {
				t.Fatalf("want one MongoDBCommunity, got %d", len(m))
			}
			rs := m[0]
			members, arbiters := nestedInt(t, rs, "spec", "members"), nestedInt(t, rs, "spec", "arbiters")
			if vs.name == "defaults" && (members != 2 || arbiters != 1) {
				t.Errorf("defaults: %d members + %d arbiters, want the PSA set 2 + 1", members, arbiters)
			}
			if (members+arbiters)%2 == 0 {
				t.Errorf("%d voters: even", members+arbiters)
			}
			modes, _, _ := unstructured.NestedStringSlice(rs.Object, "spec", "security", "authentication", "modes")
			if !slices.Contains(modes, "SCRAM") {
				t.Errorf("authentication modes %v: SCRAM is off", modes)
			}
			users, _, _ := unstructured.NestedSlice(rs.Object, "spec", "users")
			if len(users) != 1 {
				t.Fatalf("want exactly the cm-api user, got %d users", len(users))
			}
			u := users[0].(map[string]any)
			db := u["db"]
			roles := u["roles"].([]any)
			if len(roles) != 1 {
				t.Errorf("cm-api user has %d roles, want readWrite only", len(roles))
			}
			for _, r := range roles {
				rm := r.(map[string]any)
				if rm["name"] != "readWrite" || rm["db"] != db {
					t.Errorf("cm-api user role %v on %v; want readWrite on its own database %v", rm["name"], rm["db"], db)
				}
			}
			// The password Secret is rendered, or named by existingSecret.
			ref := u["passwordSecretRef"].(map[string]any)
			secretName := ref["name"].(string)
			rendered := false
			for _, s := range all[*corev1.Secret](objs) {
				if s.Name == secretName {
					rendered = true
					if _, ok := s.Data[ref["key"].(string)]; !ok {
						t.Errorf("Secret %s has no key %v", s.Name, ref["key"])
					}
				}
			}
			// Without existingSecret the chart must create the Secret it names.
			chartMade := fmt.Sprintf("%s-%s-password", rs.GetName(), u["name"])
			if !rendered && secretName == chartMade {
				t.Errorf("the chart renders no Secret %s for the password", secretName)
			}
			if len(testPods(objs)) == 0 {
				t.Errorf("no helm test pod")
			}
		})
	}
}

// The charts' defaults fit together: the services find the Kafka bootstrap
// Service, topics, users and group of the Kafka chart, and the MongoDB replica
// set, database and user of the MongoDB chart; cm-api's replica cap is the
// partition count.
func TestChartDefaultsAgree(t *testing.T) {
	kv, mv := chartValues(t, kafka), chartValues(t, mongodb)
	sv := serviceConfig(t, cmServer.render(t, "-f", cmServer.required))
	av := serviceConfig(t, cmAPI.render(t, "-f", cmAPI.required))
	apiValues := chartValues(t, cmAPI)

	get := func(m map[string]any, key string) string {
		v, ok := lookup(m, key)
		if !ok {
			t.Fatalf("%s not set", key)
		}
		return fmt.Sprint(v)
	}
	bootstrap := fmt.Sprintf("%s-kafka-bootstrap.%s.svc:%s", get(kv, "clusterName"), kafka.namespace, get(kv, "kafka.listeners.plain.port"))
	eq := func(what, got, want string) {
		if got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	eq("cm-server kafka.brokers", get(sv, "kafka.brokers"), bootstrap)
	eq("cm-api kafka.brokers", get(av, "kafka.brokers"), bootstrap)
	eq("cm-server kafka.topic", get(sv, "kafka.topic"), get(kv, "topics.purchases.name"))
	eq("cm-api kafka.topic", get(av, "kafka.topic"), get(kv, "topics.purchases.name"))
	eq("cm-api kafka.dlq_topic", get(av, "kafka.dlq_topic"), get(kv, "topics.dlq.name"))
	eq("cm-server kafka user", get(sv, "kafka.sasl.username"), get(kv, "users.cmServer.name"))
	eq("cm-api kafka user", get(av, "kafka.sasl.username"), get(kv, "users.cmApi.name"))
	eq("cm-api kafka group", get(av, "kafka.group"), get(kv, "users.cmApi.group"))
	eq("cm-api kafkaPartitions", get(apiValues, "kafkaPartitions"), get(kv, "topics.purchases.partitions"))
	// cm-server finds cm-api's Service and its pods as the cm-api chart names them.
	apiObjs := cmAPI.render(t, "-f", cmAPI.required)
	apiSvc := mainService(t, apiObjs, cmAPI)
	eq("cm-server cmapi.url", get(sv, "cmapi.url"), fmt.Sprintf("http://%s:%d", apiSvc.Name, apiSvc.Spec.Ports[0].Port))
	srvValues := chartValues(t, cmServer)
	eq("cm-server cmapi.targetPort", get(srvValues, "cmapi.targetPort"), get(apiValues, "containerPort"))
	// ... and its look-up API pods only, not the consumer's.
	apiDeps := deployments(t, apiObjs)
	srvPodLabels := map[string]string{}
	for k, v := range srvValues["cmapi"].(map[string]any)["podLabels"].(map[string]any) {
		srvPodLabels[k] = fmt.Sprint(v)
	}
	if !SelectorMatches(&metav1.LabelSelector{MatchLabels: srvPodLabels}, apiDeps["api"].Spec.Template.Labels) {
		t.Errorf("cm-server cmapi.podLabels %v do not select cm-api's api pods %v", srvPodLabels, apiDeps["api"].Spec.Template.Labels)
	}
	if SelectorMatches(&metav1.LabelSelector{MatchLabels: srvPodLabels}, apiDeps["consumer"].Spec.Template.Labels) {
		t.Errorf("cm-server cmapi.podLabels %v also select cm-api's consumer pods", srvPodLabels)
	}
	// cm-api's look-up ends before cm-server's call to it does, so that
	// cm-server passes on cm-api's JSON 503 instead of timing out itself.
	dur := func(m map[string]any, key string) time.Duration {
		d, err := time.ParseDuration(get(m, key))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		return d
	}
	if l, c := dur(av, "lookup.timeout"), dur(sv, "cmapi.timeout"); l >= c {
		t.Errorf("cm-api lookup.timeout %v is not below cm-server cmapi.timeout %v", l, c)
	}
	eq("egress strimzi cluster", get(srvValues, "networkPolicy.egress.kafka.strimzi.cluster"), get(kv, "clusterName"))
	eq("egress strimzi namespace", get(srvValues, "networkPolicy.egress.kafka.strimzi.namespace"), kafka.namespace)

	eq("cm-api mongo.database", get(av, "mongo.database"), get(mv, "database"))
	eq("cm-api mongo.username", get(av, "mongo.username"), get(mv, "users.cmApi.name"))
	u, err := url.Parse(get(av, "mongo.uri"))
	if err != nil {
		t.Fatal(err)
	}
	eq("cm-api mongo.uri replicaSet", u.Query().Get("replicaSet"), get(mv, "name"))
	eq("cm-api mongo.uri write concern", u.Query().Get("w"), "majority")
	var want []string
	for i := 0; i < int(lookupInt(t, mv, "members")); i++ {
		want = append(want, fmt.Sprintf("%s-%d.%s-svc.%s.svc.cluster.local:27017", get(mv, "name"), i, get(mv, "name"), mongodb.namespace))
	}
	eq("cm-api mongo.uri hosts", u.Host, strings.Join(want, ","))
}

func lookupInt(t testing.TB, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := lookup(m, key)
	if !ok {
		t.Fatalf("%s not set", key)
	}
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%s is %T, not a number", key, v)
	}
	return f
}
