{{/*
The Deployment of one role of cm-api (dict "root" $ "role" "api"|"consumer").
Both roles run the same image and config.yaml; CM_API_ROLE picks what the process
does. The api pods get the service token and the cursor keys; the consumer pods
get neither (they serve no look-ups).
*/}}
{{- define "cm-api.deployment" -}}
{{- $root := .root }}
{{- $role := .role }}
{{- $v := get $root.Values $role }}
{{- $V := $root.Values }}
{{- $api := eq $role "api" }}
{{- $scaled := false }}
{{- if $api }}{{ $scaled = $v.autoscaling.enabled }}{{ else }}{{ $scaled = $v.keda.enabled }}{{ end }}
{{- $previous := or $V.secrets.previousCursorKey $V.secrets.previousCursorKeyInExistingSecret }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "cm-api.roleName" . }}
  labels:
    {{- include "cm-api.roleLabels" . | nindent 4 }}
spec:
  {{- if not $scaled }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 0
      maxSurge: 25%
  selector:
    matchLabels:
      {{- include "cm-api.roleSelectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
        {{- if not $V.secrets.existingSecret }}
        checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
        {{- end }}
        {{- with $V.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      labels:
        {{- include "cm-api.roleLabels" . | nindent 8 }}
        {{- with $V.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- with $V.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      serviceAccountName: {{ include "cm-api.serviceAccountName" $root }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $V.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      securityContext:
        {{- toYaml $V.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $V.terminationGracePeriodSeconds }}
      containers:
        - name: cm-api
          image: {{ include "cm-api.image" $root | quote }}
          imagePullPolicy: {{ $V.image.pullPolicy }}
          securityContext:
            {{- toYaml $V.securityContext | nindent 12 }}
          ports:
            - name: http
              containerPort: {{ $V.containerPort }}
              protocol: TCP
          env:
            - name: CM_API_CONFIG
              value: /etc/cm-api/config.yaml
            - name: CM_API_ROLE
              value: {{ $role }}
            {{- if $api }}
            - name: CM_API_AUTH_TOKEN_FILE
              value: /var/run/secrets/cm-api/auth-token
            - name: CM_API_CURSOR_KEY_FILE
              value: /var/run/secrets/cm-api/cursor-key
            {{- if $previous }}
            - name: CM_API_CURSOR_PREVIOUS_KEY_FILE
              value: /var/run/secrets/cm-api/previous-cursor-key
            {{- end }}
            {{- end }}
            {{- /* The api role reads no topic: it holds no Kafka credentials. */}}
            {{- if and (not $api) (include "cm-api.kafkaSASL" $root) }}
            - name: CM_API_KAFKA_SASL_PASSWORD_FILE
              value: /var/run/secrets/cm-api/kafka-password
            {{- if and (not $api) $v.keda.enabled }}
            # Not needed by cm-api (config.yaml has it): KEDA's TriggerAuthentication
            # reads the SASL user from here.
            - name: CM_API_KAFKA_SASL_USERNAME
              value: {{ $V.config.kafka.sasl.username | quote }}
            {{- end }}
            {{- end }}
            {{- if include "cm-api.mongoAuth" $root }}
            - name: CM_API_MONGO_PASSWORD_FILE
              value: /var/run/secrets/cm-api/mongo-password
            {{- end }}
            - name: GOMEMLIMIT
              valueFrom:
                resourceFieldRef:
                  containerName: cm-api
                  resource: limits.memory
          startupProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $v.probes.startup | nindent 12 }}
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            {{- toYaml $v.probes.liveness | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            {{- toYaml $v.probes.readiness | nindent 12 }}
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          volumeMounts:
            - name: config
              mountPath: /etc/cm-api
              readOnly: true
            {{- if or $api (include "cm-api.kafkaSASL" $root) (include "cm-api.mongoAuth" $root) }}
            - name: secrets
              mountPath: /var/run/secrets/cm-api
              readOnly: true
            {{- end }}
            {{- if and (not $api) $V.kafkaTLS.caSecret.name }}
            - name: kafka-ca
              mountPath: /etc/kafka-ca
              readOnly: true
            {{- end }}
            {{- if $V.mongoTLS.caSecret.name }}
            - name: mongo-ca
              mountPath: /etc/mongo-ca
              readOnly: true
            {{- end }}
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: config
          configMap:
            name: {{ include "cm-api.fullname" $root }}
        {{- if or $api (include "cm-api.kafkaSASL" $root) (include "cm-api.mongoAuth" $root) }}
        - name: secrets
          secret:
            secretName: {{ include "cm-api.secretName" $root }}
            defaultMode: 288 # 0440: owner and fsGroup may read
            items:
              {{- if $api }}
              - key: auth-token
                path: auth-token
              - key: cursor-key
                path: cursor-key
              {{- if $previous }}
              - key: previous-cursor-key
                path: previous-cursor-key
              {{- end }}
              {{- end }}
              {{- if and (not $api) (include "cm-api.kafkaSASL" $root) }}
              - key: kafka-password
                path: kafka-password
              {{- end }}
              {{- if include "cm-api.mongoAuth" $root }}
              - key: mongo-password
                path: mongo-password
              {{- end }}
        {{- end }}
        {{- if and (not $api) $V.kafkaTLS.caSecret.name }}
        - name: kafka-ca
          secret:
            secretName: {{ $V.kafkaTLS.caSecret.name }}
            defaultMode: 292 # 0444
            items:
              - key: {{ $V.kafkaTLS.caSecret.key }}
                path: ca.crt
        {{- end }}
        {{- if $V.mongoTLS.caSecret.name }}
        - name: mongo-ca
          secret:
            secretName: {{ $V.mongoTLS.caSecret.name }}
            defaultMode: 292 # 0444
            items:
              - key: {{ $V.mongoTLS.caSecret.key }}
                path: ca.crt
        {{- end }}
        - name: tmp
          emptyDir:
            sizeLimit: 16Mi
      {{- with $V.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- range . }}
        - labelSelector:
            {{- if .labelSelector }}
            {{- toYaml .labelSelector | nindent 12 }}
            {{- else }}
            matchLabels:
              {{- include "cm-api.roleSelectorLabels" (dict "root" $root "role" $role) | nindent 14 }}
            {{- end }}
          matchLabelKeys:
            {{- toYaml (.matchLabelKeys | default (list "pod-template-hash")) | nindent 12 }}
          {{- toYaml (omit . "labelSelector" "matchLabelKeys") | nindent 10 }}
        {{- end }}
      {{- end }}
      {{- with $V.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $V.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $V.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
