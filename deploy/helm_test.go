package deploy

// The Helm chart (deploy/helm/otpgate), rendered as `helm install` would
// (values merged, values.schema.json checked, templates executed) through
// Helm's Go module, for a table of values sets. Every rendered object is
// decoded strictly into its k8s.io/api type and put through the same
// checks as deploy/kubernetes; the ingress-nginx annotations NOTES.txt
// prints become an app's Ingress and are checked as such.

import (
	"context"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const (
	chartDir         = "helm/otpgate"
	chartExamples    = "helm/examples"
	releaseName      = "otpgate"
	releaseNamespace = "otpgate"
	notesFile        = "otpgate/templates/NOTES.txt"
)

// chartValues is one values set: files (-f, from deploy/) then set (--set).
type chartValues struct {
	files []string
	set   map[string]any
}

func (v chartValues) String() string {
	s := strings.Join(v.files, " ")
	if len(v.set) > 0 {
		j, _ := yaml.Marshal(v.set)
		s += " " + strings.ReplaceAll(strings.TrimSpace(string(j)), "\n", "; ")
	}
	return s
}

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load %s: %v", chartDir, err)
	}
	return ch
}

// render renders the chart as `helm install -n otpgate otpgate` would
// with these values: the files of the templates by name, or the error
// helm would stop at. Strict: a template reading a value the chart does
// not define fails too.
func render(t *testing.T, ch *chart.Chart, vals chartValues) (map[string]string, error) {
	t.Helper()
	user := map[string]any{}
	for _, f := range vals.files {
		v, err := common.ReadValuesFile(f)
		if err != nil {
			t.Fatalf("values %s: %v", f, err)
		}
		user = loader.MergeMaps(user, v)
	}
	// --set replaces what the files say; a copy, so the table is unchanged.
	set, err := yaml.Marshal(vals.set)
	if err != nil {
		t.Fatal(err)
	}
	var over map[string]any
	if err := yaml.Unmarshal(set, &over); err != nil {
		t.Fatal(err)
	}
	user = loader.MergeMaps(user, over)
	top, err := chartutil.ToRenderValues(ch, user, common.ReleaseOptions{Name: releaseName, Namespace: releaseNamespace, IsInstall: true}, nil)
	if err != nil {
		return nil, err
	}
	return engine.Engine{Strict: true}.RenderWithContext(context.Background(), ch, top)
}

// renderCluster renders vals, decodes every object strictly and returns
// the cluster they make, with an Ingress for each host NOTES.txt prints
// ingress-nginx annotations for.
func renderCluster(t *testing.T, ch *chart.Chart, vals chartValues) (*cluster, string) {
	t.Helper()
	files, err := render(t, ch, vals)
	if err != nil {
		t.Fatalf("values %s: got %v, want the chart rendered", vals, err)
	}
	var docs []*doc
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if path.Ext(name) != ".yaml" {
			continue
		}
		docs = append(docs, splitYAML("deploy/helm/"+name, []byte(files[name]))...)
	}
	notes := files[notesFile]
	docs = append(docs, notesIngresses(t, notes)...)
	return newCluster(t, "deploy/helm/otpgate with "+vals.String(), decodeDocs(t, docs)), notes
}

// notesIngresses makes, for each "# host: H" block of NOTES.txt, the
// Ingress of an app at H (Service app, port 80, namespace apps) with the
// annotations printed below it.
func notesIngresses(t *testing.T, notes string) []*doc {
	t.Helper()
	var docs []*doc
	var cur *networkingv1.Ingress
	lines := strings.Split(notes, "\n")
	flush := func(n int) {
		if cur == nil {
			return
		}
		raw, err := yaml.Marshal(cur)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, &doc{file: "deploy/helm/" + notesFile, line: n, raw: raw})
		cur = nil
	}
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if host, ok := strings.CutPrefix(trimmed, "# host: "); ok {
			flush(i)
			pathType := networkingv1.PathTypePrefix
			cur = &networkingv1.Ingress{
				TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
				ObjectMeta: metav1.ObjectMeta{Name: "app-" + host, Namespace: "apps", Annotations: map[string]string{}},
				Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &pathType, Backend: networkingv1.IngressBackend{
						Service: &networkingv1.IngressServiceBackend{Name: "app", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}}}}}},
			}
			continue
		}
		if cur != nil && strings.HasPrefix(trimmed, "nginx.ingress.kubernetes.io/") {
			var kv map[string]string
			if err := yaml.UnmarshalStrict([]byte(trimmed), &kv); err != nil {
				t.Fatalf("deploy/helm/%s:%d: %q is no YAML annotation: %v", notesFile, i+1, trimmed, err)
			}
			maps.Copy(cur.Annotations, kv)
		}
	}
	flush(len(lines))
	return docs
}

// forwardAuthValues and sidecarValues are the examples' values files.
var (
	forwardAuthValues = filepath.Join(chartExamples, "forward-auth.yaml")
	sidecarValues     = filepath.Join(chartExamples, "sidecar.yaml")
	redisValues       = filepath.Join(chartExamples, "redis.yaml")
)

// wantEnvAndFiles checks the otpgate container's variables (value "" for
// one that must be absent) and, for the secret files among them, the
// Secret and key mounted at each ("Secret/key").
func wantEnvAndFiles(env, files map[string]string) func(t *testing.T, c *cluster) {
	return func(t *testing.T, c *cluster) {
		w := c.workloads[0]
		for _, name := range slices.Sorted(maps.Keys(env)) {
			got, ok := w.env[name]
			if want := env[name]; got != want || (want == "" && ok) {
				t.Errorf("%s: %s: got %q (set %v), want %q", w, name, got, ok, want)
			}
		}
		mounted := map[string]string{} // path in the volume -> Secret/key
		for _, v := range w.pod.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, src := range v.Projected.Sources {
				if src.Secret != nil {
					for _, it := range src.Secret.Items {
						mounted[it.Path] = src.Secret.Name + "/" + it.Key
					}
				}
			}
		}
		for _, name := range slices.Sorted(maps.Keys(files)) {
			file := w.env[name]
			if got := mounted[strings.TrimPrefix(file, "/run/secrets/otpgate/")]; got != files[name] {
				t.Errorf("%s: %s=%q: got Secret/key %q mounted there, want %q", w, name, file, got, files[name])
			}
		}
	}
}

// TestHelmChart renders the chart for each values set and checks what it
// renders as the manifests are checked, and what each set is for.
func TestHelmChart(t *testing.T) {
	ch := loadChart(t)
	appVersion := ch.Metadata.AppVersion
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name   string
		values chartValues
		// kinds rendered, by "apiVersion kind", beyond Deployment and Service
		want []string
		// image of the otpgate container
		image string
		// an Ingress with auth-url (from NOTES.txt), a Traefik Middleware
		nginxAuth, middleware bool
		check                 func(t *testing.T, c *cluster)
	}{
		{
			name:   "forward-auth example",
			values: chartValues{files: []string{forwardAuthValues}},
			want:   []string{"networking.k8s.io/v1 Ingress", "traefik.io/v1alpha1 Middleware", "policy/v1 PodDisruptionBudget"},
			image:  "ghcr.io/otpgate/otpgate:" + appVersion, nginxAuth: true, middleware: true,
		},
		{
			name: "forward-auth, least values, no ingress",
			values: chartValues{set: map[string]any{"existingSecret": "otpgate", "settings": map[string]any{
				"OTPGATE_PUBLIC_URL":      "https://auth.example.com",
				"OTPGATE_TRUSTED_PROXIES": "10.0.0.0/8",
				"OTPGATE_LDAP_URL":        "ldaps://ldap.example.org",
				"OTPGATE_LDAP_BIND_DN":    "cn=otpgate,dc=example,dc=org",
			}}},
			want:  []string{"policy/v1 PodDisruptionBudget"},
			image: "ghcr.io/otpgate/otpgate:" + appVersion,
		},
		{
			name:   "sidecar example",
			values: chartValues{files: []string{sidecarValues}},
			want:   []string{"networking.k8s.io/v1 Ingress", "policy/v1 PodDisruptionBudget"},
			image:  "ghcr.io/otpgate/otpgate:" + appVersion,
			check: func(t *testing.T, c *cluster) {
				w := c.workloads[0]
				if got, want := w.env["OTPGATE_UPSTREAM_URL"], "http://127.0.0.1:3000"; got != want {
					t.Errorf("%s: OTPGATE_UPSTREAM_URL: got %q, want %q (the app on the pod's loopback)", w, got, want)
				}
				var app *corev1.Container
				for i := range w.pod.Containers {
					if w.pod.Containers[i].Name == "app" {
						app = &w.pod.Containers[i]
					}
				}
				switch {
				case app == nil:
					t.Errorf("%s: got no container named app, want the app beside otpgate", w)
				case app.Image != "ghcr.io/example/legacy-app:1.0":
					t.Errorf("%s: app image: got %q, want %q", w, app.Image, "ghcr.io/example/legacy-app:1.0")
				case len(app.Ports) > 0:
					t.Errorf("%s: app ports: got %v, want none (only otpgate, in the pod, reaches the app)", w, app.Ports)
				}
			},
		},
		{
			name: "secrets from several existing Secrets",
			values: chartValues{files: []string{forwardAuthValues}, set: map[string]any{
				"existingSecret": "",
				"secretFiles": map[string]any{
					"OTPGATE_COOKIE_SECRET":      map[string]any{"secretName": "otpgate-cookie", "key": "secret"},
					"OTPGATE_LDAP_BIND_PASSWORD": map[string]any{"secretName": "ldap-service-account", "key": "password"},
					"OTPGATE_SMS_HEADERS":        map[string]any{"secretName": "sms-gateway", "key": "headers"},
				},
			}},
			want:  []string{"networking.k8s.io/v1 Ingress", "traefik.io/v1alpha1 Middleware", "policy/v1 PodDisruptionBudget"},
			image: "ghcr.io/otpgate/otpgate:" + appVersion, nginxAuth: true, middleware: true,
			check: func(t *testing.T, c *cluster) {
				w := c.workloads[0]
				want := map[string]string{
					"OTPGATE_COOKIE_SECRET_FILE":      "otpgate-cookie/secret",
					"OTPGATE_LDAP_BIND_PASSWORD_FILE": "ldap-service-account/password",
					"OTPGATE_SMS_HEADERS_FILE":        "sms-gateway/headers",
				}
				got := map[string]string{}
				for _, v := range w.pod.Volumes {
					if v.Projected == nil {
						continue
					}
					for _, src := range v.Projected.Sources {
						if src.Secret != nil {
							for _, it := range src.Secret.Items {
								got[it.Path] = src.Secret.Name + "/" + it.Key
							}
						}
					}
				}
				for name, ref := range want {
					file := w.env[name]
					if gotRef := got[strings.TrimPrefix(file, "/run/secrets/otpgate/")]; gotRef != ref {
						t.Errorf("%s: %s=%q: got Secret/key %q, want %q", w, name, file, gotRef, ref)
					}
				}
			},
		},
		{
			name:   "several replicas on Redis (examples forward-auth and redis)",
			values: chartValues{files: []string{forwardAuthValues, redisValues}},
			want:   []string{"networking.k8s.io/v1 Ingress", "traefik.io/v1alpha1 Middleware", "policy/v1 PodDisruptionBudget"},
			image:  "ghcr.io/otpgate/otpgate:" + appVersion, nginxAuth: true, middleware: true,
			check: func(t *testing.T, c *cluster) {
				wantEnvAndFiles(map[string]string{
					"OTPGATE_STORE": "redis", "OTPGATE_REDIS_URL": "redis://redis.otpgate.svc.cluster.local:6379/0",
					"OTPGATE_REDIS_USERNAME": "otpgate", "OTPGATE_REDIS_KEY_PREFIX": "otpgate:auth:",
					"OTPGATE_REDIS_CA_FILE": "", "OTPGATE_REDIS_SENTINEL_MASTER": "",
				}, map[string]string{
					"OTPGATE_REDIS_PASSWORD_FILE": "otpgate/redis-password",
					"OTPGATE_COOKIE_SECRET_FILE":  "otpgate/cookie-secret",
				})(t, c)
				w := c.workloads[0]
				if r := w.dep.Spec.Replicas; r == nil || *r != 2 {
					t.Errorf("%s: replicas: got %s, want 2", w, show(r))
				}
				var keys []string
				for _, tsc := range w.pod.TopologySpreadConstraints {
					if tsc.LabelSelector != nil && selects(tsc.LabelSelector.MatchLabels, w.dep.Spec.Template.Labels) {
						keys = append(keys, tsc.TopologyKey)
					}
				}
				if !slices.Equal(keys, []string{corev1.LabelHostname}) {
					t.Errorf("%s: topologySpreadConstraints over its pods: got keys %q, want %q (the chart's default for several replicas)", w, keys, []string{corev1.LabelHostname})
				}
				if got := w.dep.Spec.Template.Labels["otpgate.io/redis-client"]; got != "true" {
					t.Errorf("%s: pod label otpgate.io/redis-client: got %q, want %q (redis.yaml's NetworkPolicy admits it)", w, got, "true")
				}
			},
		},
		{
			name: "sidecar on Redis with Sentinel",
			values: chartValues{files: []string{sidecarValues}, set: map[string]any{"store": "redis", "replicaCount": 3, "redis": map[string]any{
				"url": "rediss:///0", "username": "legacy", "existingSecret": "redis-auth", "passwordKey": "password",
				"sentinel": map[string]any{"master": "otpgate-master", "addrs": []any{"sentinel-0.sentinel:26379", "sentinel-1.sentinel:26379"}, "passwordKey": "sentinel-password"},
			}}},
			want:  []string{"networking.k8s.io/v1 Ingress", "policy/v1 PodDisruptionBudget"},
			image: "ghcr.io/otpgate/otpgate:" + appVersion,
			check: wantEnvAndFiles(map[string]string{
				"OTPGATE_STORE": "redis", "OTPGATE_REDIS_URL": "rediss:///0", "OTPGATE_REDIS_USERNAME": "legacy",
				"OTPGATE_REDIS_SENTINEL_MASTER": "otpgate-master", "OTPGATE_REDIS_SENTINEL_ADDRS": "sentinel-0.sentinel:26379,sentinel-1.sentinel:26379",
				"OTPGATE_REDIS_KEY_PREFIX": "",
			}, map[string]string{
				"OTPGATE_REDIS_PASSWORD_FILE":          "redis-auth/password",
				"OTPGATE_REDIS_SENTINEL_PASSWORD_FILE": "redis-auth/sentinel-password",
				"OTPGATE_TWILIO_AUTH_TOKEN_FILE":       "legacy-app-otpgate/twilio-auth-token",
			}),
		},
		{
			name: "Redis over TLS with a client certificate",
			values: chartValues{files: []string{forwardAuthValues}, set: map[string]any{"store": "redis", "replicaCount": 2, "redis": map[string]any{
				"url": "rediss://redis.example.internal:6380/0", "existingSecret": "redis-tls",
				"passwordKey": "password", "caKey": "ca.crt", "certKey": "tls.crt", "keyKey": "tls.key",
			}}},
			want:  []string{"networking.k8s.io/v1 Ingress", "traefik.io/v1alpha1 Middleware", "policy/v1 PodDisruptionBudget"},
			image: "ghcr.io/otpgate/otpgate:" + appVersion, nginxAuth: true, middleware: true,
			check: wantEnvAndFiles(map[string]string{
				"OTPGATE_STORE": "redis", "OTPGATE_REDIS_URL": "rediss://redis.example.internal:6380/0", "OTPGATE_REDIS_USERNAME": "",
			}, map[string]string{
				"OTPGATE_REDIS_PASSWORD_FILE": "redis-tls/password",
				"OTPGATE_REDIS_CA_FILE":       "redis-tls/ca.crt",
				"OTPGATE_REDIS_CERT_FILE":     "redis-tls/tls.crt",
				"OTPGATE_REDIS_KEY_FILE":      "redis-tls/tls.key",
				"OTPGATE_SMS_HEADERS_FILE":    "otpgate/sms-headers",
			}),
		},
		{
			name:   "image pinned by digest",
			values: chartValues{files: []string{forwardAuthValues}, set: map[string]any{"image": map[string]any{"repository": "registry.example.com/otpgate", "digest": digest}}},
			want:   []string{"networking.k8s.io/v1 Ingress", "traefik.io/v1alpha1 Middleware", "policy/v1 PodDisruptionBudget"},
			image:  "registry.example.com/otpgate:" + appVersion + "@" + digest, nginxAuth: true, middleware: true,
		},
		{
			name: "own path prefix, no metrics, network policy, no PDB",
			values: chartValues{files: []string{forwardAuthValues}, set: map[string]any{
				"settings":            map[string]any{"OTPGATE_PATH_PREFIX": "/sso/"},
				"ingress":             map[string]any{"enabled": false},
				"traefik":             map[string]any{"middleware": map[string]any{"enabled": false}},
				"metrics":             map[string]any{"enabled": false},
				"podDisruptionBudget": map[string]any{"enabled": false},
				"networkPolicy":       map[string]any{"enabled": true},
				"image":               map[string]any{"tag": "v9.9.9"},
			}},
			want:  []string{"networking.k8s.io/v1 NetworkPolicy"},
			image: "ghcr.io/otpgate/otpgate:v9.9.9", nginxAuth: true,
			check: func(t *testing.T, c *cluster) {
				w := c.workloads[0]
				if got := w.otpgate.ReadinessProbe.HTTPGet.Path; got != "/sso/readyz" {
					t.Errorf("%s: readinessProbe path: got %q, want %q", w, got, "/sso/readyz")
				}
				if _, ok := w.env["OTPGATE_METRICS_ADDR"]; ok {
					t.Errorf("%s: OTPGATE_METRICS_ADDR: got %q, want none (metrics.enabled false)", w, w.env["OTPGATE_METRICS_ADDR"])
				}
			},
		},
		{
			name: "sidecar, network policy with metrics",
			values: chartValues{files: []string{sidecarValues}, set: map[string]any{"networkPolicy": map[string]any{
				"enabled":     true,
				"from":        []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "ingress-nginx"}}}},
				"metricsFrom": []any{map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}}}},
			}}},
			want:  []string{"networking.k8s.io/v1 Ingress", "networking.k8s.io/v1 NetworkPolicy", "policy/v1 PodDisruptionBudget"},
			image: "ghcr.io/otpgate/otpgate:" + appVersion,
			check: func(t *testing.T, c *cluster) {
				np := objects[networkingv1.NetworkPolicy](c)[0]
				if got := len(np.obj.Spec.Ingress); got != 2 {
					t.Errorf("%s: ingress rules: got %d, want 2 (otpgate's port, metrics)", np.doc, got)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, notes := renderCluster(t, ch, tc.values)
			var got []string
			for _, d := range c.docs {
				if d.file != "deploy/helm/"+notesFile && !slices.Contains(got, d.kind) {
					got = append(got, d.kind)
				}
			}
			want := append([]string{"apps/v1 Deployment", "v1 Service"}, tc.want...)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: kinds rendered: got %q, want %q", c.from, got, want)
			}
			if len(c.workloads) != 1 {
				t.Fatalf("%s: Deployments: got %d, want 1", c.from, len(c.workloads))
			}
			if got := c.workloads[0].otpgate.Image; got != tc.image {
				t.Errorf("%s: otpgate image: got %q, want %q", c.from, got, tc.image)
			}
			for _, pdb := range objects[policyv1.PodDisruptionBudget](c) {
				if sel := pdb.obj.Spec.Selector; sel == nil || !selects(sel.MatchLabels, c.workloads[0].dep.Spec.Template.Labels) {
					t.Errorf("%s: selector: got %v, want the labels of otpgate's pods", pdb.doc, sel)
				}
			}
			for _, np := range objects[networkingv1.NetworkPolicy](c) {
				w := c.workloads[0]
				if !selects(np.obj.Spec.PodSelector.MatchLabels, w.dep.Spec.Template.Labels) {
					t.Errorf("%s: podSelector: got %v, want the labels of otpgate's pods", np.doc, np.obj.Spec.PodSelector.MatchLabels)
				}
				toListen := false
				for _, rule := range np.obj.Spec.Ingress {
					for _, p := range rule.Ports {
						cp, ok := 0, p.Port != nil
						if ok {
							cp, ok = resolvePort(w.otpgate, *p.Port)
						}
						if !ok {
							t.Errorf("%s: port %v: got no such container port of otpgate, want one of %v", np.doc, p.Port, containerPorts(w.otpgate))
						}
						toListen = toListen || cp == w.listenPort
					}
				}
				if !toListen {
					t.Errorf("%s: got no ingress rule to otpgate's listen port %d, want one (or nothing would reach it)", np.doc, w.listenPort)
				}
			}
			if !strings.Contains(notes, c.workloads[0].prefix+"healthz") {
				t.Errorf("%s: NOTES.txt: got no %shealthz in\n%s\nwant the health endpoints", c.from, c.workloads[0].prefix, notes)
			}
			t.Run("env", func(t *testing.T) { checkEnvVarsKnown(t, c) })
			t.Run("container", func(t *testing.T) { checkOtpgateContainers(t, c) })
			t.Run("config", func(t *testing.T) { checkConfigValid(t, c) })
			t.Run("services", func(t *testing.T) { checkServices(t, c) })
			t.Run("ingress-nginx", func(t *testing.T) { checkIngressNginx(t, c, tc.nginxAuth) })
			t.Run("traefik", func(t *testing.T) { checkTraefikCRDs(t, c, tc.middleware) })
			if tc.check != nil {
				t.Run("case", func(t *testing.T) { tc.check(t, c) })
			}
		})
	}
}

// TestHelmChartRefuses checks that bad values stop the install with a
// message naming what to change.
func TestHelmChartRefuses(t *testing.T) {
	ch := loadChart(t)
	fa := func(set map[string]any) chartValues { return chartValues{files: []string{forwardAuthValues}, set: set} }
	cases := []struct {
		name   string
		values chartValues
		want   []string // all in the error
	}{
		{"two replicas with the memory store", fa(map[string]any{"replicaCount": 2}),
			[]string{"replicaCount: got 2, want 1 while store is memory"}},
		{"no Secret for the cookie secret", fa(map[string]any{"existingSecret": ""}),
			[]string{"secretFiles.OTPGATE_COOKIE_SECRET", "existingSecret"}},
		{"cookie secret removed", fa(map[string]any{"secretFiles": map[string]any{"OTPGATE_COOKIE_SECRET": nil}}),
			[]string{"secretFiles.OTPGATE_COOKIE_SECRET: required"}},
		{"unknown mode", fa(map[string]any{"mode": "proxy"}),
			[]string{"/mode", "forwardAuth", "sidecar"}},
		{"unknown store", fa(map[string]any{"store": "valkey"}),
			[]string{"/store", "memory", "redis"}},
		{"redis store without url or sentinel", fa(map[string]any{"store": "redis"}),
			[]string{"redis.url: required with store: redis"}},
		{"sentinel master without addresses", fa(map[string]any{"store": "redis", "redis": map[string]any{"url": "redis:///0", "sentinel": map[string]any{"master": "m"}}}),
			[]string{"redis.sentinel.addrs: required with redis.sentinel.master"}},
		{"sentinel addresses without master", fa(map[string]any{"store": "redis", "redis": map[string]any{"url": "redis:///0", "sentinel": map[string]any{"addrs": []any{"s-0:26379"}}}}),
			[]string{"redis.sentinel.master: required with redis.sentinel.addrs"}},
		{"sentinel address without port", fa(map[string]any{"store": "redis", "redis": map[string]any{"url": "redis:///0", "sentinel": map[string]any{"master": "m", "addrs": []any{"s-0"}}}}),
			[]string{"/redis/sentinel/addrs/0"}},
		{"redis values with the memory store", fa(map[string]any{"redis": map[string]any{"url": "redis://redis:6379/0"}}),
			[]string{"redis: set, but store is memory; set store: redis"}},
		{"redis url not redis", fa(map[string]any{"store": "redis", "redis": map[string]any{"url": "http://redis:6379"}}),
			[]string{"/redis/url"}},
		{"redis password key without a Secret", fa(map[string]any{"store": "redis", "existingSecret": "",
			"secretFiles": map[string]any{"OTPGATE_COOKIE_SECRET": map[string]any{"key": "c", "secretName": "cookie"}},
			"redis":       map[string]any{"url": "redis://redis:6379/0", "passwordKey": "redis-password"}}),
			[]string{"redis.passwordKey: no Secret named", "redis.existingSecret"}},
		{"redis password as a setting", fa(map[string]any{"settings": map[string]any{"OTPGATE_REDIS_PASSWORD": "hunter2"}}),
			[]string{"settings.OTPGATE_REDIS_PASSWORD: a secret is never a value", "redis.passwordKey"}},
		{"redis password in secretFiles", fa(map[string]any{"secretFiles": map[string]any{"OTPGATE_REDIS_PASSWORD": map[string]any{"key": "p"}}}),
			[]string{"secretFiles.OTPGATE_REDIS_PASSWORD: Redis's secrets go in redis.passwordKey"}},
		{"redis URL as a setting", fa(map[string]any{"settings": map[string]any{"OTPGATE_REDIS_URL": "redis://redis:6379/0"}}),
			[]string{"settings.OTPGATE_REDIS_URL: the chart sets it from redis.url"}},
		{"redis example with the memory store", chartValues{files: []string{forwardAuthValues, redisValues}, set: map[string]any{"store": "memory", "redis": map[string]any{"url": ""}}},
			[]string{"replicaCount: got 2, want 1 while store is memory", "store: redis"}},
		{"misspelled value", fa(map[string]any{"replicas": 1}),
			[]string{"replicas"}},
		{"secret as a setting", fa(map[string]any{"settings": map[string]any{"OTPGATE_LDAP_BIND_PASSWORD": "hunter2"}}),
			[]string{"settings.OTPGATE_LDAP_BIND_PASSWORD: a secret is never a value", "secretFiles.OTPGATE_LDAP_BIND_PASSWORD"}},
		{"setting the chart owns", fa(map[string]any{"settings": map[string]any{"OTPGATE_LISTEN_ADDR": ":9999"}}),
			[]string{"settings.OTPGATE_LISTEN_ADDR: the chart sets it from port"}},
		{"setting not a string", fa(map[string]any{"settings": map[string]any{"OTPGATE_OTP_LENGTH": 8}}),
			[]string{"/settings/OTPGATE_OTP_LENGTH", "string"}},
		{"setting not OTPGATE_", fa(map[string]any{"settings": map[string]any{"LDAP_URL": "ldap://x"}}),
			[]string{"/settings", "LDAP_URL"}},
		{"secret file named with _FILE", fa(map[string]any{"secretFiles": map[string]any{"OTPGATE_SMS_HEADERS_FILE": map[string]any{"key": "sms-headers"}}}),
			[]string{"secretFiles.OTPGATE_SMS_HEADERS_FILE: name the variable without _FILE"}},
		{"forward-auth without a public URL", fa(map[string]any{"settings": map[string]any{"OTPGATE_PUBLIC_URL": ""}}),
			[]string{"settings.OTPGATE_PUBLIC_URL: required in forwardAuth mode"}},
		{"bad digest", fa(map[string]any{"image": map[string]any{"digest": "latest"}}),
			[]string{"/image/digest"}},
		{"sidecar without the app's image", chartValues{files: []string{sidecarValues}, set: map[string]any{"app": map[string]any{"image": map[string]any{"repository": ""}}}},
			[]string{"app.image.repository: required in sidecar mode"}},
		{"sidecar app without a tag", chartValues{files: []string{sidecarValues}, set: map[string]any{"app": map[string]any{"image": map[string]any{"tag": ""}}}},
			[]string{"app.image: set tag or digest"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, ch, tc.values)
			if err == nil {
				t.Fatalf("values %s: got the chart rendered, want an error containing %q", tc.values, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("values %s: got error %q, want one containing %q", tc.values, err, w)
				}
			}
		})
	}
}

// TestHelmLint runs `helm lint --strict` (Helm's chart linter: Chart.yaml,
// values against the schema, templates rendered and parsed as YAML) with
// each example's values.
func TestHelmLint(t *testing.T) {
	for _, files := range [][]string{{forwardAuthValues}, {sidecarValues}, {forwardAuthValues, redisValues}} {
		f := strings.Join(files, " -f ")
		t.Run(path.Base(f), func(t *testing.T) {
			vals := map[string]any{}
			for _, file := range files {
				v, err := common.ReadValuesFile(file)
				if err != nil {
					t.Fatal(err)
				}
				vals = loader.MergeMaps(vals, v)
			}
			linter := lint.RunAll(chartDir, vals, releaseNamespace)
			for _, m := range linter.Messages {
				if m.Severity > support.InfoSev {
					t.Errorf("helm lint --strict %s -f %s: got %s, want no warnings or errors", chartDir, f, fmt.Sprint(m))
				}
			}
		})
	}
}
