{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "shop-kafka.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object. Strimzi's operators pick up node pools, topics and users by
the strimzi.io/cluster label.
*/}}
{{- define "shop-kafka.labels" -}}
helm.sh/chart: {{ include "shop-kafka.chart" . }}
app.kubernetes.io/name: shop-kafka
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: scalable-shop
app.kubernetes.io/managed-by: {{ .Release.Service }}
strimzi.io/cluster: {{ .Values.clusterName }}
{{- end }}

{{/*
Labels of the helm test pod.
*/}}
{{- define "shop-kafka.testLabels" -}}
app.kubernetes.io/name: shop-kafka-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/part-of: scalable-shop
{{- end }}

{{/*
A node pool's storage: the values, without an empty class.
*/}}
{{- define "shop-kafka.storage" -}}
{{- $s := deepCopy . }}
{{- if not $s.class }}{{ $_ := unset $s "class" }}{{ end }}
{{- if ne $s.type "persistent-claim" }}{{ $_ := unset $s "deleteClaim" }}{{ end }}
{{- toYaml $s }}
{{- end }}

{{/*
Checks that span several values. A replication factor above the broker count
leaves a topic without leaders; min.insync.replicas above the replication factor
makes every acks=all write fail.
*/}}
{{- define "shop-kafka.validate" -}}
{{- $brokers := int .Values.brokers.replicas }}
{{- range $key, $t := .Values.topics }}
{{- if gt (int $t.replicas) $brokers }}
{{- fail (printf "\n\nshop-kafka: topics.%s.replicas (%d) is larger than brokers.replicas (%d)." $key (int $t.replicas) $brokers) }}
{{- end }}
{{- $isr := index ($t.config | default dict) "min.insync.replicas" | default 1 | int }}
{{- if gt $isr (int $t.replicas) }}
{{- fail (printf "\n\nshop-kafka: topics.%s.config.min.insync.replicas (%d) is larger than topics.%s.replicas (%d): every acks=all write would fail." $key $isr $key (int $t.replicas)) }}
{{- end }}
{{- end }}
{{- range $k := list "default.replication.factor" "offsets.topic.replication.factor" "transaction.state.log.replication.factor" }}
{{- $v := index $.Values.kafka.config $k | default 1 | int }}
{{- if gt $v $brokers }}
{{- fail (printf "\n\nshop-kafka: kafka.config.%s (%d) is larger than brokers.replicas (%d)." $k $v $brokers) }}
{{- end }}
{{- end }}
{{- end }}
