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
app.kubernetes.io/component: backend
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
{{- /* More consumers than partitions sit idle: cap every replica count. */}}
{{- $partitions := int .Values.kafkaPartitions }}
{{- if and (not .Values.autoscaling.enabled) (not .Values.keda.enabled) (gt (int .Values.replicaCount) $partitions) }}
{{- fail (printf "\n\ncm-api: replicaCount (%d) is larger than kafkaPartitions (%d), the partition count of the purchases topic; the extra consumers would sit idle." (int .Values.replicaCount) $partitions) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) $partitions) }}
{{- fail (printf "\n\ncm-api: autoscaling.maxReplicas (%d) is larger than kafkaPartitions (%d), the partition count of the purchases topic; the extra consumers would sit idle." (int .Values.autoscaling.maxReplicas) $partitions) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "\n\ncm-api: autoscaling.maxReplicas must not be smaller than autoscaling.minReplicas." }}
{{- end }}
{{- if .Values.keda.enabled }}
{{- if .Values.autoscaling.enabled }}
{{- fail "\n\ncm-api: keda.enabled and autoscaling.enabled are both true; KEDA creates its own HPA, so turn autoscaling.enabled off." }}
{{- end }}
{{- if gt (int .Values.keda.maxReplicaCount) $partitions }}
{{- fail (printf "\n\ncm-api: keda.maxReplicaCount (%d) is larger than kafkaPartitions (%d), the partition count of the purchases topic; the extra consumers would sit idle." (int .Values.keda.maxReplicaCount) $partitions) }}
{{- end }}
{{- if gt (int .Values.keda.minReplicaCount) (int .Values.keda.maxReplicaCount) }}
{{- fail "\n\ncm-api: keda.minReplicaCount must not be larger than keda.maxReplicaCount." }}
{{- end }}
{{- end }}
{{- end }}
