{{/*
The chart's name, or nameOverride.
*/}}
{{- define "cm-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified name of the release's objects. It is the release name when that
already contains the chart name (release "cm-server" gives "cm-server", not
"cm-server-cm-server"). Truncated to 63 characters, the limit of DNS labels.
*/}}
{{- define "cm-server.fullname" -}}
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
{{- define "cm-server.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "cm-server.labels" -}}
helm.sh/chart: {{ include "cm-server.chart" . }}
{{ include "cm-server.selectorLabels" . }}
app.kubernetes.io/version: {{ include "cm-server.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: frontend
app.kubernetes.io/part-of: scalable-shop
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the release's pods. They never change after the first install
(a Deployment's selector is immutable).
*/}}
{{- define "cm-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cm-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of the helm test pods; the NetworkPolicy lets them in.
*/}}
{{- define "cm-server.testLabels" -}}
app.kubernetes.io/name: {{ include "cm-server.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/part-of: scalable-shop
{{- end }}

{{/*
The ServiceAccount the pods run as.
*/}}
{{- define "cm-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cm-server.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image tag: image.tag, or the chart's appVersion.
*/}}
{{- define "cm-server.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/*
The image reference; a digest, when set, pins the image exactly.
*/}}
{{- define "cm-server.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "cm-server.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The Secret holding cmapi-token and kafka-password: existingSecret, or the chart's own.
*/}}
{{- define "cm-server.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "cm-server.fullname" .) }}
{{- end }}

{{/*
Whether Kafka needs a SASL password.
*/}}
{{- define "cm-server.kafkaSASL" -}}
{{- if .Values.config.kafka.sasl.mechanism }}true{{ end }}
{{- end }}

{{/*
The end-user JWT mode ("off" when unset).
*/}}
{{- define "cm-server.jwtMode" -}}
{{- dig "auth" "jwt" "mode" "off" .Values.config }}
{{- end }}

{{/*
Seconds in a Go duration ("15s", "1m30s", "500ms"), as a float.
*/}}
{{- define "cm-server.durationSeconds" -}}
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
{{- define "cm-server.validate" -}}
{{- if and (not .Values.secrets.existingSecret) (not .Values.secrets.cmapiToken) }}
{{- fail "\n\ncm-server: the bearer token for cm-api is missing. Set secrets.existingSecret to a Secret holding the key \"cmapi-token\" (and \"kafka-password\"), or set secrets.cmapiToken." }}
{{- end }}
{{- if and (include "cm-server.kafkaSASL" .) (not .Values.secrets.existingSecret) (not .Values.secrets.kafkaPassword) }}
{{- fail (printf "\n\ncm-server: config.kafka.sasl.mechanism is %q but no Kafka password is given. Set secrets.existingSecret to a Secret holding the key \"kafka-password\", or set secrets.kafkaPassword (or set config.kafka.sasl.mechanism to \"\")." .Values.config.kafka.sasl.mechanism) }}
{{- end }}
{{- if and (include "cm-server.kafkaSASL" .) (not .Values.config.kafka.sasl.username) }}
{{- fail "\n\ncm-server: config.kafka.sasl.username is empty while config.kafka.sasl.mechanism is set." }}
{{- end }}
{{- $jwt := include "cm-server.jwtMode" . }}
{{- if and (eq $jwt "hs256") (not .Values.secrets.existingSecret) (not .Values.secrets.jwtSecret) }}
{{- fail "\n\ncm-server: config.auth.jwt.mode is hs256 but no secret is given. Set secrets.existingSecret to a Secret holding the key \"jwt-secret\", or set secrets.jwtSecret." }}
{{- end }}
{{- if and .Values.secrets.jwtSecret (lt (len .Values.secrets.jwtSecret) 32) }}
{{- fail "\n\ncm-server: secrets.jwtSecret must be at least 32 bytes long." }}
{{- end }}
{{- if and (eq $jwt "jwks") (not .Values.jwks.configMap) }}
{{- fail "\n\ncm-server: config.auth.jwt.mode is jwks but jwks.configMap names no ConfigMap with the issuer's keys." }}
{{- end }}
{{- $shutdown := addf (include "cm-server.durationSeconds" .Values.config.shutdown.drain_delay | float64) (include "cm-server.durationSeconds" .Values.config.shutdown.timeout | float64) }}
{{- if le (float64 .Values.terminationGracePeriodSeconds) $shutdown }}
{{- fail (printf "\n\ncm-server: terminationGracePeriodSeconds (%d) must be longer than config.shutdown.drain_delay + config.shutdown.timeout (%s + %s), or the kubelet kills the pod in the middle of its shutdown." (int .Values.terminationGracePeriodSeconds) .Values.config.shutdown.drain_delay .Values.config.shutdown.timeout) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "\n\ncm-server: autoscaling.maxReplicas must not be smaller than autoscaling.minReplicas." }}
{{- end }}
{{- end }}

{{/*
cm-api's base URL: config.cmapi.url, or its Service from the cmapi block (the
short name in the same namespace, the namespaced one across namespaces).
*/}}
{{- define "cm-server.cmapiURL" -}}
{{- $c := .Values.cmapi }}
{{- if .Values.config.cmapi.url }}
{{- .Values.config.cmapi.url }}
{{- else if and $c.namespace (ne $c.namespace .Release.Namespace) }}
{{- printf "http://%s.%s.svc:%d" $c.serviceName $c.namespace (int $c.port) }}
{{- else }}
{{- printf "http://%s:%d" $c.serviceName (int $c.port) }}
{{- end }}
{{- end }}

{{/*
Egress rules to the Kafka brokers: a Strimzi cluster's broker pods and/or
external CIDRs. Shared shape with the cm-api chart.
*/}}
{{- define "cm-server.kafkaEgress" -}}
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
{{- range $k.external }}
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

{{/*
Egress rule to the cluster DNS.
*/}}
{{- define "cm-server.dnsEgress" -}}
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
