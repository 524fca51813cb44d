{{- define "meshroute.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "meshroute.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "meshroute.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "meshroute.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "meshroute.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules for GatewayRoutes and their Events: exactly the calls meshroute makes. */}}
{{- define "meshroute.watchRules" -}}
- apiGroups: ["meshroute.io"]
  resources: ["gatewayroutes"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["meshroute.io"]
  resources: ["gatewayroutes/status"]
  verbs: ["patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- if .Values.gatewayAPI.serve }}
# The Gateway API backend: the HTTPRoutes and GRPCRoutes it writes (server-side apply), watches
# (its label only) and deletes.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "grpcroutes"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
# Whether a Gateway routes wait on exists, to say so when it does not.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["gateways"]
  verbs: ["get"]
{{- end }}
{{- end -}}

{{/*
The Gateway API serving rules as one comma-separated string: gatewayAPI.serve may be a list or
the string `--set gatewayAPI.serve=apps/gw=gateway-api:infra/gw` gives. Each rule is checked
here, with a sentence, rather than by a pattern in values.schema.json.
*/}}
{{- define "meshroute.serveRules" -}}
{{- $rules := .Values.gatewayAPI.serve -}}
{{- if kindIs "string" $rules -}}
{{- $rules = splitList "," $rules -}}
{{- end -}}
{{- $checked := list -}}
{{- range $rules -}}
{{- $rule := trim . -}}
{{- if $rule -}}
{{- if not (regexMatch "^[^/=]+/[^/=]+=(app-mesh|(gateway-api|both):[^/]+/[^/]+(/[^/]+)?)$" $rule) -}}
{{- fail (printf "gatewayAPI.serve: %q is not a rule: write MESH/VIRTUAL_GATEWAY=BACKEND, where VIRTUAL_GATEWAY may be * and BACKEND is app-mesh, gateway-api:NAMESPACE/GATEWAY[/LISTENER] or both:NAMESPACE/GATEWAY[/LISTENER]" $rule) -}}
{{- end -}}
{{- $checked = append $checked $rule -}}
{{- end -}}
{{- end -}}
{{- join "," $checked -}}
{{- end -}}
