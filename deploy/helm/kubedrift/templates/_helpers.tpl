{{/* The release's base name: the release name, with the chart's appended unless it already holds it. */}}
{{- define "kubedrift.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kubedrift.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: agent
{{- end -}}

{{- define "kubedrift.labels" -}}
{{ include "kubedrift.selectorLabels" . }}
app.kubernetes.io/part-of: kubedrift
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "kubedrift.tokenSecret" -}}
{{- .Values.token.existingSecret | default (printf "%s-token" (include "kubedrift.fullname" .)) -}}
{{- end -}}

{{- define "kubedrift.scheme" -}}
{{- if .Values.tls.secretName }}https{{ else }}http{{ end -}}
{{- end -}}

{{/* kubedrift.yaml: the user's config with agent.allowWrites following writes.enabled. */}}
{{- define "kubedrift.config" -}}
{{- $config := deepCopy (.Values.config | default dict) -}}
{{- $agent := deepCopy (get $config "agent" | default dict) -}}
{{- $_ := set $agent "allowWrites" .Values.writes.enabled -}}
{{- $_ := set $config "agent" $agent -}}
{{- toYaml $config -}}
{{- end -}}
