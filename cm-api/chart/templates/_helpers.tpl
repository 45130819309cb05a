{{/*
The chart's name, or nameOverride.
*/}}
{{- define "cm-api.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified name of the release's objects. It is the release name when that
already contains the chart name (release "cm-api" gives "cm-api", not
"cm-api-cm-api"). Truncated to 63 characters, the limit of DNS labels.
*/}}
{{- define "cm-api.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "cm-api.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "cm-api.labels" -}}
helm.sh/chart: {{ include "cm-api.chart" . }}
{{ include "cm-api.selectorLabels" . }}
app.kubernetes.io/version: {{ include "cm-api.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/part-of: scalable-shop
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the release's pods. They never change after the first install
(a Deployment's selector is immutable).
*/}}
{{- define "cm-api.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cm-api.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the objects of one role (dict "root" $ "role" "api"|"consumer"): the
pods of the two Deployments differ by app.kubernetes.io/component.
*/}}
{{- define "cm-api.roleLabels" -}}
{{ include "cm-api.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{/*
Labels that select the pods of one role (dict "root" $ "role" ...). The Service
selects only the api pods; the consumer's have no Service.
*/}}
{{- define "cm-api.roleSelectorLabels" -}}
{{ include "cm-api.selectorLabels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end }}

{{/*
Name of the objects of one role: <fullname>-api, <fullname>-consumer.
*/}}
{{- define "cm-api.roleName" -}}
{{- printf "%s-%s" (include "cm-api.fullname" .root | trunc 54 | trimSuffix "-") .role }}
{{- end }}

{{/*
Labels of the helm test pods; the NetworkPolicy lets them in.
*/}}
{{- define "cm-api.testLabels" -}}
app.kubernetes.io/name: {{ include "cm-api.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/part-of: scalable-shop
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "cm-api.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cm-api.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image tag: image.tag, or the chart's appVersion.
*/}}
{{- define "cm-api.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
The image reference; a digest, when set, pins the image exactly.
*/}}
{{- define "cm-api.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "cm-api.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The Secret holding auth-token, kafka-password and mongo-password: existingSecret, or
the chart's own.
*/}}
{{- define "cm-api.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "cm-api.fullname" .) }}
{{- end }}

{{/*
Whether Kafka needs a SASL password.
*/}}
{{- define "cm-api.kafkaSASL" -}}
{{- if .Values.config.kafka.sasl.mechanism }}true{{ end }}
{{- end }}

{{/*
Whether MongoDB needs a password (a SCRAM user is configured).
*/}}
{{- define "cm-api.mongoAuth" -}}
{{- if .Values.config.mongo.username }}true{{ end }}
{{- end }}

{{/*
Seconds in a Go duration ("15s", "1m30s", "500ms"), as a float.
*/}}
{{- define "cm-api.durationSeconds" -}}
{{- $units := dict "ns" 0.000000001 "us" 0.000001 "µs" 0.000001 "ms" 0.001 "s" 1.0 "m" 60.0 "h" 3600.0 }}
{{- $total := 0.0 }}
{{- range regexFindAll "[0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h)" (toString .) -1 }}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" . | float64 }}
{{- $unit := regexReplaceAll "^[0-9]+(\\.[0-9]+)?" . "" }}
{{- $total = addf $total (mulf $num (get $units $unit)) }}
{{- end }}
{{- $total }}
{{- end }}

{{/*
Checks that span several values (the schema checks each value alone). Included by
the Deployment, so a bad combination fails the render with a readable message.
*/}}
{{- define "cm-api.validate" -}}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.authToken) }}
{{- fail "\n\ncm-api: the bearer token cm-server must present is missing. Set secrets.existingSecret to a Secret holding the key \"auth-token\" (and \"kafka-password\", \"mongo-password\"), or set secrets.authToken." }}
{{- end }}
{{- if and (include "cm-api.kafkaSASL" .) (not .Values.secrets.existingSecret) (not .Values.secrets.kafkaPassword) }}
{{- fail (printf "\n\ncm-api: config.kafka.sasl.mechanism is %q but no Kafka password is given. Set secrets.existingSecret to a Secret holding the key \"kafka-password\", or set secrets.kafkaPassword (or set config.kafka.sasl.mechanism to \"\")." .Values.config.kafka.sasl.mechanism) }}
{{- end }}
{{- if and (include "cm-api.kafkaSASL" .) (not .Values.config.kafka.sasl.username) }}
{{- fail "\n\ncm-api: config.kafka.sasl.username is empty while config.kafka.sasl.mechanism is set." }}
{{- end }}
{{- if and (include "cm-api.mongoAuth" .) (not .Values.secrets.existingSecret) (not .Values.secrets.mongoPassword) }}
{{- fail (printf "\n\ncm-api: config.mongo.username is %q but no MongoDB password is given. Set secrets.existingSecret to a Secret holding the key \"mongo-password\", or set secrets.mongoPassword." .Values.config.mongo.username) }}
{{- end }}
{{- $shutdown := addf (include "cm-api.durationSeconds" .Values.config.shutdown.drain_delay | float64) (include "cm-api.durationSeconds" .Values.config.shutdown.timeout | float64) }}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $shutdown }}
{{- fail (printf "\n\ncm-api: terminationGracePeriodSeconds (%d) must be longer than config.shutdown.drain_delay + config.shutdown.timeout (%s + %s), or the kubelet kills the pod in the middle of its shutdown." (int .Values.terminationGracePeriodSeconds) .Values.config.shutdown.drain_delay .Values.config.shutdown.timeout) }}
{{- end }}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.cursorKey) }}
{{- fail "\n\ncm-api: the cursor key is missing (the api pods sign page cursors with it). Set secrets.existingSecret to a Secret holding the key \"cursor-key\", or set secrets.cursorKey (e.g. openssl rand -hex 32)." }}
{{- end }}
{{- if and .Values.secrets.existingSecret .Values.secrets.previousCursorKey }}
{{- fail "\n\ncm-api: secrets.previousCursorKey is ignored with secrets.existingSecret; put the key \"previous-cursor-key\" into that Secret and set secrets.previousCursorKeyInExistingSecret=true instead." }}
{{- end }}
{{- if and (not .Values.secrets.existingSecret) .Values.secrets.previousCursorKeyInExistingSecret }}
{{- fail "\n\ncm-api: secrets.previousCursorKeyInExistingSecret is true but secrets.existingSecret is empty; set secrets.previousCursorKey instead (the chart's own Secret)." }}
{{- end }}
{{- $stall := include "cm-api.durationSeconds" (.Values.config.consumer.stall_timeout | default "0s") | float64 }}
{{- $session := include "cm-api.durationSeconds" .Values.config.kafka.session_timeout | float64 }}
{{- if and (gt $stall 0.0) (lt $stall (mulf 2.0 $session)) }}
{{- fail (printf "\n\ncm-api: config.consumer.stall_timeout (%s) must be 0s or at least twice config.kafka.session_timeout (%s), or a rebalance looks like a stall and the liveness probe restarts the consumer." .Values.config.consumer.stall_timeout .Values.config.kafka.session_timeout) }}
{{- end }}
{{- /* The api role scales on CPU; it reads no partitions. */}}
{{- $a := .Values.api.autoscaling }}
{{- if and $a.enabled (lt (int $a.maxReplicas) (int $a.minReplicas)) }}
{{- fail "\n\ncm-api: api.autoscaling.maxReplicas must not be smaller than api.autoscaling.minReplicas." }}
{{- end }}
{{- if and $a.enabled (not $a.targetCPUUtilizationPercentage) (not $a.targetMemoryUtilizationPercentage) }}
{{- fail "\n\ncm-api: api.autoscaling.enabled is true but both target utilisations are 0; set api.autoscaling.targetCPUUtilizationPercentage (or turn api.autoscaling.enabled off)." }}
{{- end }}
{{- /* More consumers than partitions sit idle: cap every consumer count. */}}
{{- $partitions := int .Values.kafkaPartitions }}
{{- $k := .Values.consumer.keda }}
{{- if and (not $k.enabled) (gt (int .Values.consumer.replicaCount) $partitions) }}
{{- fail (printf "\n\ncm-api: consumer.replicaCount (%d) is larger than kafkaPartitions (%d), the partition count of the purchases topic; the extra consumers would sit idle. Lower consumer.replicaCount or raise kafkaPartitions with the topic." (int .Values.consumer.replicaCount) $partitions) }}
{{- end }}
{{- if $k.enabled }}
{{- if gt (int $k.maxReplicaCount) $partitions }}
{{- fail (printf "\n\ncm-api: consumer.keda.maxReplicaCount (%d) is larger than kafkaPartitions (%d), the partition count of the purchases topic; the extra consumers would sit idle. Lower consumer.keda.maxReplicaCount or raise kafkaPartitions with the topic." (int $k.maxReplicaCount) $partitions) }}
{{- end }}
{{- if gt (int $k.minReplicaCount) (int $k.maxReplicaCount) }}
{{- fail "\n\ncm-api: consumer.keda.minReplicaCount must not be larger than consumer.keda.maxReplicaCount." }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Egress rule to the cluster DNS.
*/}}
{{- define "cm-api.dnsEgress" -}}
- to:
    {{- toYaml .Values.networkPolicy.egress.dns | nindent 4 }}
  ports:
    {{- range .Values.networkPolicy.egress.dnsPorts }}
    - port: {{ . }}
      protocol: UDP
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}

{{/*
Egress rules to the Kafka brokers: a Strimzi cluster's broker pods and/or
external CIDRs. Same shape as in the cm-server chart.
*/}}
{{- define "cm-api.kafkaEgress" -}}
{{- $k := .Values.networkPolicy.egress.kafka }}
{{- if $k.strimzi.enabled }}
# The broker pods of the Strimzi cluster (the bootstrap Service and the per-broker
# addresses all land on them).
- to:
    - podSelector:
        matchLabels:
          strimzi.io/cluster: {{ $k.strimzi.cluster | quote }}
          strimzi.io/kind: Kafka
          strimzi.io/broker-role: "true"
      {{- with $k.strimzi.namespace }}
      namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ . | quote }}
      {{- end }}
  ports:
    {{- range $k.strimzi.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- include "cm-api.externalEgress" $k.external }}
{{- end }}

{{/*
Egress rules to MongoDB: the replica set's pods (members and arbiter: the driver
monitors every member it is told about) and/or external CIDRs.
*/}}
{{- define "cm-api.mongoEgress" -}}
{{- $m := .Values.networkPolicy.egress.mongodb }}
{{- if $m.inCluster.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- toYaml $m.inCluster.podLabels | nindent 10 }}
      {{- with $m.inCluster.namespace }}
      namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ . | quote }}
      {{- end }}
  ports:
    {{- range $m.inCluster.ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- include "cm-api.externalEgress" $m.external }}
{{- end }}

{{/*
Egress rules to CIDRs outside the cluster ([{cidr, except, ports}]).
*/}}
{{- define "cm-api.externalEgress" -}}
{{- range . }}
- to:
    - ipBlock:
        cidr: {{ .cidr | quote }}
        {{- with .except }}
        except:
          {{- toYaml . | nindent 10 }}
        {{- end }}
  ports:
    {{- range .ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- end }}
