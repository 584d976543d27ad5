package deploy

// The manifests against the code: every OTPGATE_ variable must be one
// otpgate reads, probes must hit the health endpoints on the port otpgate
// listens on, Services must lead to that port, secret files must be
// mounted, the otpgate container must run locked down, and the
// configuration must pass otpgate's own checks.

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/otpgate/otpgate/internal/gateway"
	"github.com/otpgate/otpgate/internal/setting"
	"github.com/otpgate/otpgate/internal/testserver"
)

// TestManifestsDecodeStrictly checks that every document of
// deploy/kubernetes decodes strictly into the Kubernetes (or Traefik) type
// of its apiVersion and kind, has a name, and is defined once.
func TestManifestsDecodeStrictly(t *testing.T) {
	seen := map[string]string{}
	docs := loadManifests(t) // fails on the first document that does not decode
	for _, d := range docs {
		if d.obj.GetName() == "" {
			t.Errorf("%s: metadata.name: got %q, want a name", d, d.obj.GetName())
		}
		key := d.kind + " " + id(d.obj)
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: got a second definition (first at %s), want one: applying both files would overwrite it", d, prev)
		}
		seen[key] = d.String()
	}
}

// TestEnvVarsKnown checks every OTPGATE_ variable of every container (env
// and envFrom ConfigMaps / Secrets) against gateway.Variables(): otpgate
// refuses to start on an unknown one.
func TestEnvVarsKnown(t *testing.T) { checkEnvVarsKnown(t, loadCluster(t)) }

func checkEnvVarsKnown(t *testing.T, c *cluster) {
	type envCase struct{ test, where, name string }
	var cases []envCase
	for _, w := range c.workloads {
		for _, ctr := range slices.Concat(w.pod.InitContainers, w.pod.Containers) {
			for name := range c.containerEnv(t, w, w.dep.Namespace, &ctr) {
				cases = append(cases, envCase{id(w.dep) + "/" + ctr.Name + "/" + name, fmt.Sprintf("%s container %q", w, ctr.Name), name})
			}
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].test < cases[j].test })
	if len(cases) == 0 {
		t.Fatalf("%s: got no OTPGATE_ variables in any container, want some", c.from)
	}
	for _, tc := range cases {
		t.Run(tc.test, func(t *testing.T) {
			if _, ok := known[tc.name]; ok {
				return
			}
			hint := ""
			if near := setting.Nearest(tc.name, knownNames()); near != "" {
				hint = " (nearest known: " + near + ")"
			}
			t.Errorf("%s: %s: got an unknown variable%s, want one of gateway.Variables()", tc.where, tc.name, hint)
		})
	}
}

// TestOtpgateContainer checks each otpgate container against the code:
// probes, ports, secret files, security, resources and shutdown.
func TestOtpgateContainer(t *testing.T) { checkOtpgateContainers(t, loadCluster(t)) }

func checkOtpgateContainers(t *testing.T, c *cluster) {
	checks := []struct {
		name  string
		check func(t *testing.T, w *workload)
	}{
		{"service links off", func(t *testing.T, w *workload) {
			if !boolIs(w.pod.EnableServiceLinks, false) {
				t.Errorf("%s: enableServiceLinks: got %s, want false (a Service named otpgate would inject OTPGATE_SERVICE_HOST, OTPGATE_PORT, ..., which otpgate refuses as unknown)",
					w, show(w.pod.EnableServiceLinks))
			}
		}},
		{"listen port is a container port", func(t *testing.T, w *workload) {
			if _, ok := resolvePort(w.otpgate, intstr.FromInt(w.listenPort)); !ok {
				t.Errorf("%s: containerPorts of %q: got %v, want one equal to OTPGATE_LISTEN_ADDR's port %d", w, otpgateContainer, containerPorts(w.otpgate), w.listenPort)
			}
		}},
		{"metrics port is a container port", func(t *testing.T, w *workload) {
			addr, ok := w.env["OTPGATE_METRICS_ADDR"]
			if !ok || addr == "" {
				return
			}
			p := portOf(t, w.String()+": OTPGATE_METRICS_ADDR", addr)
			if p == w.listenPort {
				t.Errorf("%s: OTPGATE_METRICS_ADDR port: got %d, want a port other than OTPGATE_LISTEN_ADDR's", w, p)
			}
			if _, ok := resolvePort(w.otpgate, intstr.FromInt(p)); !ok {
				t.Errorf("%s: containerPorts of %q: got %v, want one equal to OTPGATE_METRICS_ADDR's port %d", w, otpgateContainer, containerPorts(w.otpgate), p)
			}
		}},
		{"probes", func(t *testing.T, w *workload) {
			want := map[string]string{ // probe -> endpoint
				"livenessProbe":  w.prefix + "healthz", // never readyz: a directory outage must not restart pods
				"readinessProbe": w.prefix + "readyz",
			}
			probes := map[string]*corev1.Probe{"livenessProbe": w.otpgate.LivenessProbe, "readinessProbe": w.otpgate.ReadinessProbe, "startupProbe": w.otpgate.StartupProbe}
			for _, name := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
				p := probes[name]
				if p == nil {
					if want[name] != "" {
						t.Errorf("%s: %s: got none, want httpGet %s", w, name, want[name])
					}
					continue
				}
				if p.HTTPGet == nil {
					t.Errorf("%s: %s: got no httpGet, want httpGet on otpgate's health endpoints", w, name)
					continue
				}
				got := p.HTTPGet.Path
				switch {
				case !strings.HasPrefix(got, w.prefix):
					t.Errorf("%s: %s path: got %q, want it under OTPGATE_PATH_PREFIX %q", w, name, got, w.prefix)
				case want[name] != "" && got != want[name]:
					t.Errorf("%s: %s path: got %q, want %q", w, name, got, want[name])
				case got != w.prefix+"healthz" && got != w.prefix+"readyz":
					t.Errorf("%s: %s path: got %q, want %shealthz or %sreadyz", w, name, got, w.prefix, w.prefix)
				}
				port, ok := resolvePort(w.otpgate, p.HTTPGet.Port)
				if !ok || port != w.listenPort {
					t.Errorf("%s: %s port: got %s (container port %d), want OTPGATE_LISTEN_ADDR's port %d", w, name, portString(p.HTTPGet.Port), port, w.listenPort)
				}
			}
			ldapTimeout, err := time.ParseDuration(w.setting(t, "OTPGATE_LDAP_TIMEOUT"))
			if err == nil && w.otpgate.ReadinessProbe != nil {
				got := time.Duration(max(w.otpgate.ReadinessProbe.TimeoutSeconds, 1)) * time.Second // 1s: Kubernetes' default
				if got <= ldapTimeout {
					t.Errorf("%s: readinessProbe timeoutSeconds: got %v, want more than OTPGATE_LDAP_TIMEOUT (%v): readyz asks the directory", w, got, ldapTimeout)
				}
			}
		}},
		{"file variables are mounted", func(t *testing.T, w *workload) {
			volumes := map[string]corev1.Volume{}
			for _, v := range w.pod.Volumes {
				volumes[v.Name] = v
			}
			for name, file := range w.env {
				if !strings.HasSuffix(name, "_FILE") {
					continue
				}
				var mount *corev1.VolumeMount
				for i, m := range w.otpgate.VolumeMounts {
					if file == m.MountPath || (m.SubPath == "" && strings.HasPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")) {
						mount = &w.otpgate.VolumeMounts[i]
					}
				}
				if mount == nil {
					t.Errorf("%s: %s=%q: got no volumeMount of container %q holding it, want the file inside a mounted volume", w, name, file, otpgateContainer)
					continue
				}
				vol, ok := volumes[mount.Name]
				if !ok {
					t.Errorf("%s: %s: volumeMount %q: got no pod volume of that name, want one", w, name, mount.Name)
					continue
				}
				if mount.SubPath != "" {
					continue
				}
				key := path.Clean(strings.TrimPrefix(file, strings.TrimSuffix(mount.MountPath, "/")+"/"))
				if p := vol.Projected; p != nil {
					// Only Secrets' items, each at its own path.
					var paths []string
					for _, src := range p.Sources {
						if src.Secret == nil {
							continue
						}
						for _, it := range src.Secret.Items {
							paths = append(paths, it.Path)
						}
					}
					if !slices.Contains(paths, key) {
						t.Errorf("%s: %s=%q: got no Secret item with path %q in projected volume %q (paths %q), want one", w, name, file, key, vol.Name, paths)
					}
					continue
				}
				if vol.Secret == nil {
					continue
				}
				if len(vol.Secret.Items) > 0 {
					found := false
					for _, it := range vol.Secret.Items {
						found = found || it.Path == key
					}
					if !found {
						t.Errorf("%s: %s=%q: got no item with path %q in volume %q, want one", w, name, file, key, vol.Name)
					}
				} else if s := find[corev1.Secret](c, w.dep.Namespace, vol.Secret.SecretName); s != nil {
					_, inData := s.obj.Data[key]
					_, inStringData := s.obj.StringData[key]
					if !inData && !inStringData {
						t.Errorf("%s: %s=%q: Secret %s has no key %q, want one (the file name is the key)", w, name, file, id(s.obj), key)
					}
				}
			}
			// The files must be readable by the image's user, who owns none.
			for _, m := range w.otpgate.VolumeMounts {
				vol, ok := volumes[m.Name]
				if !ok {
					continue
				}
				var defaultMode *int32
				switch {
				case vol.Secret != nil:
					defaultMode = vol.Secret.DefaultMode
				case vol.Projected != nil:
					defaultMode = vol.Projected.DefaultMode
				}
				if defaultMode == nil {
					continue
				}
				mode := *defaultMode
				worldReadable := mode&0o004 != 0
				groupReadable := mode&0o040 != 0 && w.pod.SecurityContext != nil && w.pod.SecurityContext.FSGroup != nil
				if !worldReadable && !groupReadable {
					t.Errorf("%s: volume %q defaultMode: got %#o, want a mode user %d can read (o+r, or g+r with the pod's fsGroup)", w, vol.Name, mode, imageUID)
				}
			}
		}},
		{"secrets only as files", func(t *testing.T, w *workload) {
			// A variable otpgate may read from a file holds a secret
			// (but for the long texts of notSecret): its value must not be
			// in the pod's spec, nor in a ConfigMap.
			for name := range w.env {
				if _, fileForm := known[name+"_FILE"]; fileForm && !notSecret[name] {
					t.Errorf("%s: %s: got the value itself, want %s_FILE naming a file mounted from a Secret", w, name, name)
				}
			}
			for _, e := range w.otpgate.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					t.Errorf("%s: env %s: got valueFrom.secretKeyRef, want the secret as a file (_FILE): an environment shows in /proc and crash dumps", w, e.Name)
				}
			}
			for _, from := range w.otpgate.EnvFrom {
				if from.SecretRef != nil {
					t.Errorf("%s: envFrom Secret %q: got a Secret as environment, want its keys as files (_FILE)", w, from.SecretRef.Name)
				}
			}
		}},
		{"security context", func(t *testing.T, w *workload) {
			sc := w.otpgate.SecurityContext
			if sc == nil {
				t.Fatalf("%s: container %q securityContext: got none, want runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation: false, capabilities.drop [ALL], seccompProfile RuntimeDefault", w, otpgateContainer)
			}
			type field struct {
				name, got, want string
			}
			seccomp := "unset"
			if sc.SeccompProfile != nil {
				seccomp = string(sc.SeccompProfile.Type)
			}
			var drop []corev1.Capability
			if sc.Capabilities != nil {
				drop = sc.Capabilities.Drop
			}
			fields := []field{
				{"runAsNonRoot", show(sc.RunAsNonRoot), "true"},
				{"readOnlyRootFilesystem", show(sc.ReadOnlyRootFilesystem), "true"},
				{"allowPrivilegeEscalation", show(sc.AllowPrivilegeEscalation), "false"},
				{"capabilities.drop contains ALL", fmt.Sprint(slices.Contains(drop, "ALL")), "true"},
				{"seccompProfile.type", seccomp, string(corev1.SeccompProfileTypeRuntimeDefault)},
			}
			if sc.Privileged != nil {
				fields = append(fields, field{"privileged", show(sc.Privileged), "false"})
			}
			if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
				fields = append(fields, field{"capabilities.add", fmt.Sprint(sc.Capabilities.Add), "[]"})
			}
			if sc.RunAsUser != nil {
				fields = append(fields, field{"runAsUser", show(sc.RunAsUser), strconv.Itoa(imageUID) + " (the image's user)"})
			}
			for _, f := range fields {
				if f.got != strings.Fields(f.want)[0] {
					t.Errorf("%s: container %q securityContext.%s: got %s, want %s", w, otpgateContainer, f.name, f.got, f.want)
				}
			}
		}},
		{"resources", func(t *testing.T, w *workload) {
			r := w.otpgate.Resources
			for _, want := range []struct {
				what string
				m    corev1.ResourceList
				key  corev1.ResourceName
			}{{"requests", r.Requests, corev1.ResourceCPU}, {"requests", r.Requests, corev1.ResourceMemory}, {"limits", r.Limits, corev1.ResourceMemory}} {
				if q, ok := want.m[want.key]; !ok || q.IsZero() {
					t.Errorf("%s: container %q resources.%s.%s: got %q, want a value above zero", w, otpgateContainer, want.what, want.key, q.String())
				}
			}
		}},
		{"shutdown fits the grace period", func(t *testing.T, w *workload) {
			timeout, err := time.ParseDuration(w.setting(t, "OTPGATE_SHUTDOWN_TIMEOUT"))
			if err != nil {
				t.Fatalf("%s: OTPGATE_SHUTDOWN_TIMEOUT: %v", w, err)
			}
			grace := 30 * time.Second // Kubernetes' default
			if g := w.pod.TerminationGracePeriodSeconds; g != nil {
				grace = time.Duration(*g) * time.Second
			}
			if timeout >= grace {
				t.Errorf("%s: OTPGATE_SHUTDOWN_TIMEOUT: got %v, want less than terminationGracePeriodSeconds (%v), or requests in flight are killed", w, timeout, grace)
			}
		}},
		{"several replicas only with a shared store", func(t *testing.T, w *workload) {
			if problem := replicasProblem(t, w); problem != "" {
				t.Errorf("%s: %s", w, problem)
			}
		}},
		{"selector matches the pod", func(t *testing.T, w *workload) {
			var sel map[string]string
			if s := w.dep.Spec.Selector; s != nil {
				sel = s.MatchLabels
			}
			if !selects(sel, w.dep.Spec.Template.Labels) {
				t.Errorf("%s: selector.matchLabels: got %v, want labels of the pod template %v", w, sel, w.dep.Spec.Template.Labels)
			}
		}},
		{"names its proxies", func(t *testing.T, w *workload) {
			// The default trusts loopback alone: behind an ingress controller
			// every client would share its address in logs and limits.
			if v, ok := w.env["OTPGATE_TRUSTED_PROXIES"]; !ok || v == "" {
				t.Errorf("%s: OTPGATE_TRUSTED_PROXIES: got none, want the ingress controller's addresses", w)
			}
		}},
		{"forward-auth mode has a portal URL", func(t *testing.T, w *workload) {
			if w.env["OTPGATE_UPSTREAM_URL"] != "" {
				return // a reverse proxy; PUBLIC_URL is optional
			}
			if u, err := url.Parse(w.env["OTPGATE_PUBLIC_URL"]); err != nil || u.Scheme != "https" || u.Host == "" {
				t.Errorf("%s: OTPGATE_PUBLIC_URL: got %q, want the portal's https:// URL (no UPSTREAM_URL: a forward-auth server)", w, w.env["OTPGATE_PUBLIC_URL"])
			}
		}},
	}
	for _, w := range c.workloads {
		for _, ch := range checks {
			t.Run(id(w.dep)+"/"+ch.name, func(t *testing.T) { ch.check(t, w) })
		}
	}
}

// notSecret are the variables with a _FILE form that need hold no secret:
// the access rules, and the HTTP SMS provider's URL and payload, which
// carry a credential only for some gateways (Kannel's password in the
// URL); those give them as files, the others may give them as values.
var notSecret = map[string]bool{
	"OTPGATE_ACCESS_RULES": true,
	"OTPGATE_SMS_URL":      true, "OTPGATE_SMS_PAYLOAD": true,
	"OTPGATE_SMS2_URL": true, "OTPGATE_SMS2_PAYLOAD": true,
}

func containerPorts(ctr *corev1.Container) []string {
	var out []string
	for _, p := range ctr.Ports {
		out = append(out, fmt.Sprintf("%s=%d", p.Name, p.ContainerPort))
	}
	return out
}

// TestConfigValid runs each otpgate container's environment through
// gateway.CheckEnvironment, as the pod would at start-up: the files of
// *_FILE variables are read from the ConfigMaps mounted there, and secrets
// replaced by valid stand-ins (the Secrets hold placeholders). The
// directory and SMS settings, which their parts check when otpgate
// assembles them, are not checked here.
func TestConfigValid(t *testing.T) { checkConfigValid(t, loadCluster(t)) }

func checkConfigValid(t *testing.T, c *cluster) {
	standIns := map[string]string{
		"OTPGATE_COOKIE_SECRET_FILE": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"OTPGATE_SMS_HEADERS_FILE":   "Authorization: Bearer stand-in",
		"OTPGATE_SMS2_HEADERS_FILE":  "Authorization: Bearer stand-in",
	}
	// Redis's TLS files are read at start-up: a CA and a client pair.
	ca, cert, key, err := testserver.WriteTLSFiles(t.TempDir(), "stand-in CA", "redis.example.internal", net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	for name, file := range map[string]string{"OTPGATE_REDIS_CA_FILE": ca, "OTPGATE_REDIS_CERT_FILE": cert, "OTPGATE_REDIS_KEY_FILE": key} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		standIns[name] = string(b)
	}
	for _, w := range c.workloads {
		t.Run(id(w.dep), func(t *testing.T) {
			dir := t.TempDir()
			var environ []string
			for k, v := range w.env {
				if v == "" {
					continue
				}
				if strings.HasSuffix(k, "_FILE") {
					content, ok := c.mountedFile(w, v)
					if !ok {
						content = cmp.Or(standIns[k], "stand-in")
					}
					v = filepath.Join(dir, k)
					if err := os.WriteFile(v, []byte(content), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				environ = append(environ, k+"="+v)
			}
			if err := gateway.CheckEnvironment(environ); err != nil {
				t.Errorf("%s: got configuration problems, want none (otpgate would exit with status 2):\n%v", w, err)
			}
		})
	}
}

// TestServices checks that every Service in front of otpgate reaches
// otpgate's container ports, and the main one its listen port: in a
// sidecar pod, never the app's port.
func TestServices(t *testing.T) { checkServices(t, loadCluster(t)) }

func checkServices(t *testing.T, c *cluster) {
	for _, w := range c.workloads {
		t.Run(id(w.dep), func(t *testing.T) {
			svcs := c.servicesOf(w)
			if len(svcs) == 0 {
				t.Fatalf("%s: got no Service selecting its pods, want one", w)
			}
			for _, svc := range svcs {
				toListen := false
				for _, p := range svc.obj.Spec.Ports {
					_, cp, problem := c.serviceTarget(svc.obj, intstr.FromInt32(p.Port))
					if problem != "" {
						t.Errorf("%s: %s", svc.doc, problem)
						continue
					}
					toListen = toListen || cp == w.listenPort
				}
				if !toListen {
					t.Errorf("%s: got no port whose targetPort is otpgate's listen port %d, want one", svc.doc, w.listenPort)
				}
			}
		})
	}
}
