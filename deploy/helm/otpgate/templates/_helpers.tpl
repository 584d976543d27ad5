{{/* Names: the release's, unless it already holds the chart's name. */}}
{{- define "otpgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "otpgate.fullname" -}}
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

{{- define "otpgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "otpgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "otpgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "otpgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* An image reference from {repository, tag, digest}; tag defaults to $default. */}}
{{- define "otpgate.imageRef" -}}
{{- $img := index . 0 }}{{ $default := index . 1 }}
{{- $tag := default $default $img.tag }}
{{- $ref := $img.repository }}
{{- if $tag }}{{ $ref = printf "%s:%s" $ref $tag }}{{ end }}
{{- if $img.digest }}{{ $ref = printf "%s@%s" $ref $img.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/* OTPGATE_PATH_PREFIX as otpgate reads it: probes and URLs live under it. */}}
{{- define "otpgate.prefix" -}}
{{- get .Values.settings "OTPGATE_PATH_PREFIX" | default "/otpgate/" }}
{{- end }}

{{/* The Service's address inside the cluster. */}}
{{- define "otpgate.serviceURL" -}}
{{- printf "http://%s.%s.svc.cluster.local:%v" (include "otpgate.fullname" .) .Release.Namespace .Values.service.port }}
{{- end }}

{{/* The identity headers otpgate answers forward-auth with, comma-separated. */}}
{{- define "otpgate.identityHeaders" -}}
{{- $s := .Values.settings }}
{{- $hs := list }}
{{- $defaults := dict "USER" "Remote-User" "NAME" "Remote-Name" "EMAIL" "Remote-Email" "GROUPS" "Remote-Groups" "AUTH_LEVEL" "Remote-Auth-Level" }}
{{- range $name := list "USER" "NAME" "EMAIL" "GROUPS" "AUTH_LEVEL" }}
{{- range splitList "," (get $s (printf "OTPGATE_IDENTITY_HEADER_%s" $name) | default (get $defaults $name)) }}
{{- if trim . }}{{ $hs = append $hs (trim .) }}{{ end }}
{{- end }}
{{- end }}
{{- join "," $hs }}
{{- end }}

{{/* The session cookie's name as the browser stores it. */}}
{{- define "otpgate.cookieName" -}}
{{- $name := get .Values.settings "OTPGATE_COOKIE_NAME" | default "otpgate" }}
{{- if get .Values.settings "OTPGATE_COOKIE_DOMAIN" }}__Secure-{{ $name }}{{ else }}__Host-{{ $name }}{{ end }}
{{- end }}

{{/* Where secretFiles are mounted. */}}
{{- define "otpgate.secretsDir" -}}/run/secrets/otpgate{{- end }}

{{/*
The files otpgate reads from Secrets, as JSON: the variable naming the file
(OTPGATE_COOKIE_SECRET_FILE, OTPGATE_REDIS_CA_FILE, ...) -> {secretName,
key}. From secretFiles, and with store: redis from the redis keys.
*/}}
{{- define "otpgate.files" -}}
{{- $v := .Values }}
{{- $files := dict }}
{{- range $name, $ref := $v.secretFiles }}
{{- if $ref }}
{{- $_ := set $files (printf "%s_FILE" $name) (dict "secretName" (default $v.existingSecret (get $ref "secretName")) "key" (get $ref "key")) }}
{{- end }}
{{- end }}
{{- if eq $v.store "redis" }}
{{- $secret := default $v.existingSecret $v.redis.existingSecret }}
{{- $keys := dict "OTPGATE_REDIS_PASSWORD_FILE" $v.redis.passwordKey "OTPGATE_REDIS_CA_FILE" $v.redis.caKey "OTPGATE_REDIS_CERT_FILE" $v.redis.certKey "OTPGATE_REDIS_KEY_FILE" $v.redis.keyKey "OTPGATE_REDIS_SENTINEL_PASSWORD_FILE" $v.redis.sentinel.passwordKey }}
{{- range $name, $key := $keys }}
{{- if $key }}
{{- $_ := set $files $name (dict "secretName" $secret "key" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{/*
The checks the schema cannot express. Each fails the install with what to
change; otpgate itself checks the settings' values when it starts.
*/}}
{{- define "otpgate.validate" -}}
{{- $v := .Values }}
{{- if not (has $v.mode (list "forwardAuth" "sidecar")) }}
{{- fail (printf "mode: got %q, want forwardAuth or sidecar" (toString $v.mode)) }}
{{- end }}
{{- if not (has $v.store (list "memory" "redis")) }}
{{- fail (printf "store: got %q, want memory or redis" (toString $v.store)) }}
{{- end }}
{{- $r := $v.redis }}
{{- if eq $v.store "memory" }}
{{- if gt (int $v.replicaCount) 1 }}
{{- fail (printf "replicaCount: got %v, want 1 while store is memory: pending sign-ins are kept in one process's memory, so another replica would not know them; to run several, set store: redis and redis.url" $v.replicaCount) }}
{{- end }}
{{- if or $r.url $r.sentinel.master $r.sentinel.addrs }}
{{- fail "redis: set, but store is memory; set store: redis to keep the state in Redis" }}
{{- end }}
{{- else }}
{{- if and (not $r.url) (not $r.sentinel.master) }}
{{- fail "redis.url: required with store: redis, like redis://redis.otpgate.svc.cluster.local:6379/0 or rediss://redis.example.internal:6380/0 (or redis.sentinel.master and redis.sentinel.addrs)" }}
{{- end }}
{{- if and $r.sentinel.master (not $r.sentinel.addrs) }}
{{- fail "redis.sentinel.addrs: required with redis.sentinel.master: the sentinels' host:port" }}
{{- end }}
{{- if and $r.sentinel.addrs (not $r.sentinel.master) }}
{{- fail "redis.sentinel.master: required with redis.sentinel.addrs: the master name the sentinels monitor" }}
{{- end }}
{{- range $value, $key := dict "passwordKey" $r.passwordKey "caKey" $r.caKey "certKey" $r.certKey "keyKey" $r.keyKey "sentinel.passwordKey" $r.sentinel.passwordKey }}
{{- if and $key (not (default $v.existingSecret $r.existingSecret)) }}
{{- fail (printf "redis.%s: no Secret named: set redis.existingSecret (or existingSecret) to a Secret you created, holding key %q" $value $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- $owned := dict "OTPGATE_LISTEN_ADDR" "port" "OTPGATE_METRICS_ADDR" "metrics.enabled and metrics.port" "OTPGATE_UPSTREAM_URL" "mode: sidecar and app.port" "OTPGATE_STORE" "store" "OTPGATE_REDIS_URL" "redis.url" "OTPGATE_REDIS_USERNAME" "redis.username" "OTPGATE_REDIS_CA_FILE" "redis.caKey" "OTPGATE_REDIS_CERT_FILE" "redis.certKey" "OTPGATE_REDIS_KEY_FILE" "redis.keyKey" "OTPGATE_REDIS_SENTINEL_MASTER" "redis.sentinel.master" "OTPGATE_REDIS_SENTINEL_ADDRS" "redis.sentinel.addrs" "OTPGATE_REDIS_KEY_PREFIX" "redis.keyPrefix" }}
{{- $secret := list "OTPGATE_COOKIE_SECRET" "OTPGATE_LDAP_BIND_PASSWORD" "OTPGATE_SMS_HEADERS" "OTPGATE_SMS2_HEADERS" "OTPGATE_TWILIO_AUTH_TOKEN" "OTPGATE_REDIS_PASSWORD" "OTPGATE_REDIS_SENTINEL_PASSWORD" }}
{{- $redisSecrets := dict "OTPGATE_REDIS_PASSWORD" "redis.passwordKey" "OTPGATE_REDIS_SENTINEL_PASSWORD" "redis.sentinel.passwordKey" }}
{{- range $name, $value := $v.settings }}
{{- if hasKey $owned $name }}
{{- fail (printf "settings.%s: the chart sets it from %s; remove it from settings" $name (get $owned $name)) }}
{{- end }}
{{- if hasKey $redisSecrets (trimSuffix "_FILE" $name) }}
{{- fail (printf "settings.%s: a secret is never a value; put it in a Secret and name its key in %s (and the Secret in redis.existingSecret)" $name (get $redisSecrets (trimSuffix "_FILE" $name))) }}
{{- end }}
{{- if has (trimSuffix "_FILE" $name) $secret }}
{{- fail (printf "settings.%s: a secret is never a value; put it in a Secret and name it in secretFiles.%s (key, and existingSecret or secretName)" $name (trimSuffix "_FILE" $name)) }}
{{- end }}
{{- end }}
{{- range $name, $ref := $v.secretFiles }}
{{- if hasKey $redisSecrets $name }}
{{- fail (printf "secretFiles.%s: Redis's secrets go in %s (and redis.existingSecret)" $name (get $redisSecrets $name)) }}
{{- end }}
{{- if hasSuffix "_FILE" $name }}
{{- fail (printf "secretFiles.%s: name the variable without _FILE (the chart sets %s to the file)" $name $name) }}
{{- end }}
{{- if $ref }}
{{- if not (default $v.existingSecret (get $ref "secretName")) }}
{{- fail (printf "secretFiles.%s: no Secret named: set existingSecret (or secretFiles.%s.secretName) to a Secret you created, holding key %q" $name $name (toString (get $ref "key"))) }}
{{- end }}
{{- end }}
{{- end }}
{{- $cookie := get $v.secretFiles "OTPGATE_COOKIE_SECRET" }}
{{- if not (and $cookie (get $cookie "key") (default $v.existingSecret (get $cookie "secretName"))) }}
{{- fail "secretFiles.OTPGATE_COOKIE_SECRET: required: create a Secret with kubectl create secret generic otpgate --from-literal=cookie-secret=\"$(openssl rand -base64 32)\" and set existingSecret: otpgate" }}
{{- end }}
{{- if eq $v.mode "forwardAuth" }}
{{- if not (get $v.settings "OTPGATE_PUBLIC_URL") }}
{{- fail "settings.OTPGATE_PUBLIC_URL: required in forwardAuth mode: the portal's https:// URL, where ingress-nginx and Traefik send users to sign in" }}
{{- end }}
{{- end }}
{{- if eq $v.mode "sidecar" }}
{{- if not $v.app.image.repository }}
{{- fail "app.image.repository: required in sidecar mode: the image of the app otpgate runs in front of" }}
{{- end }}
{{- if not (or $v.app.image.tag $v.app.image.digest) }}
{{- fail "app.image: set tag or digest: the app's image is never taken as latest" }}
{{- end }}
{{- if eq (int $v.app.port) (int $v.port) }}
{{- fail (printf "app.port: got %v, want a port other than otpgate's (port)" $v.app.port) }}
{{- end }}
{{- if $v.traefik.middleware.enabled }}
{{- fail "traefik.middleware.enabled: forwardAuth mode only; in sidecar mode otpgate is the app's own front" }}
{{- end }}
{{- end }}
{{- if and $v.ingress.enabled (not (get $v.settings "OTPGATE_PUBLIC_URL")) }}
{{- fail "ingress.enabled: needs settings.OTPGATE_PUBLIC_URL, whose host the Ingress routes" }}
{{- end }}
{{- if and $v.metrics.enabled (eq (int $v.metrics.port) (int $v.port)) }}
{{- fail (printf "metrics.port: got %v, want a port other than otpgate's (port)" $v.metrics.port) }}
{{- end }}
{{- end }}
