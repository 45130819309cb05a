{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "shop-mongodb.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "shop-mongodb.labels" -}}
helm.sh/chart: {{ include "shop-mongodb.chart" . }}
app.kubernetes.io/name: shop-mongodb
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.version | quote }}
app.kubernetes.io/part-of: scalable-shop
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels of the helm test pod.
*/}}
{{- define "shop-mongodb.testLabels" -}}
app.kubernetes.io/name: shop-mongodb-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
app.kubernetes.io/part-of: scalable-shop
{{- end }}

{{/*
The Secret with cm-api's password.
*/}}
{{- define "shop-mongodb.cmApiSecret" -}}
{{- .Values.users.cmApi.existingSecret | default (printf "%s-%s-password" .Values.name .Values.users.cmApi.name) }}
{{- end }}

{{/*
Hosts of the data-bearing members, comma-separated (the arbiter never holds data).
*/}}
{{- define "shop-mongodb.hosts" -}}
{{- $hosts := list }}
{{- range $i := until (int .Values.members) }}
{{- $hosts = append $hosts (printf "%s-%d.%s-svc.%s.svc.cluster.local:27017" $.Values.name $i $.Values.name $.Release.Namespace) }}
{{- end }}
{{- join "," $hosts }}
{{- end }}

{{/*
Checks that span several values.
*/}}
{{- define "shop-mongodb.validate" -}}
{{- $voters := add (int .Values.members) (int .Values.arbiters) }}
{{- if eq (mod $voters 2) 0 }}
{{- fail (printf "\n\nshop-mongodb: members (%d) + arbiters (%d) is even; a replica set needs an odd number of voters to elect a primary after a split." (int .Values.members) (int .Values.arbiters)) }}
{{- end }}
{{- if gt (int .Values.arbiters) 1 }}
{{- fail "\n\nshop-mongodb: more than one arbiter is not supported by MongoDB's recommendations (and weakens majority writes)." }}
{{- end }}
{{- end }}

{{/*
Labels of the write-concern Job's pod; the NetworkPolicy lets it in.
*/}}
{{- define "shop-mongodb.jobLabels" -}}
app.kubernetes.io/name: shop-mongodb-write-concern
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: setup
app.kubernetes.io/part-of: scalable-shop
{{- end }}
