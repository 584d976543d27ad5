package gateway

// These tests read the deployment files (deploy/kubernetes/*.yaml,
// examples/traefik/*.yml and the Dockerfile) and check them against the
// code: every OTPGATE_ variable must be one otpgate reads, probes must hit
// the health endpoints on the port otpgate listens on, Services and
// forward-auth addresses must lead to that port, secret files must be
// mounted, and the otpgate container must run locked down. A setting
// renamed in the settings, or a manifest edited by hand, fails here rather
// than in a cluster.

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/otpgate/otpgate/internal/setting"
	"github.com/otpgate/otpgate/proxy"
)

// deployGlobs are the YAML files checked; each must match at least one file.
var deployGlobs = []string{"../../deploy/kubernetes/*.yaml", "../../examples/traefik/*.yml"}

// identityHeaders are the headers otpgate answers forward-auth with; every
// proxy configuration must copy all of them onto the request to the app.
var identityHeaders = func() []string {
	ih := proxy.DefaultIdentityHeaders()
	return slices.Concat(ih.User, ih.Name, ih.Email, ih.Groups, ih.AuthLevel)
}()

const (
	otpgateContainer = "otpgate"
	imageUID         = 65532 // distroless "nonroot", the Dockerfile's USER
	authRequestPath  = "authz/auth-request"
	forwardAuthPath  = "authz/forward-auth"
)

// --- YAML model: only the fields the checks read. ---

type yamlDoc struct {
	file  string
	index int // 0-based document number within file
	node  *yaml.Node
	obj   k8sObject
}

func (d yamlDoc) String() string {
	if d.obj.Kind == "" {
		return fmt.Sprintf("%s#%d", d.file, d.index)
	}
	return fmt.Sprintf("%s#%d %s %s", d.file, d.index, d.obj.Kind, d.obj.id())
}

type k8sObject struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
}

func (o k8sObject) id() string {
	if o.Metadata.Namespace == "" {
		return o.Metadata.Name
	}
	return o.Metadata.Namespace + "/" + o.Metadata.Name
}

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type deploymentSpec struct {
	Replicas *int `yaml:"replicas"`
	Selector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	} `yaml:"selector"`
	Template struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     podSpec    `yaml:"spec"`
	} `yaml:"template"`
}

type podSpec struct {
	EnableServiceLinks            *bool              `yaml:"enableServiceLinks"`
	AutomountServiceAccountToken  *bool              `yaml:"automountServiceAccountToken"`
	TerminationGracePeriodSeconds *int               `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               podSecurityContext `yaml:"securityContext"`
	InitContainers                []container        `yaml:"initContainers"`
	Containers                    []container        `yaml:"containers"`
	Volumes                       []volume           `yaml:"volumes"`
}

type podSecurityContext struct {
	RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
	RunAsUser    *int64 `yaml:"runAsUser"`
	FSGroup      *int64 `yaml:"fsGroup"`
}

type container struct {
	Name            string           `yaml:"name"`
	Image           string           `yaml:"image"`
	Env             []envVar         `yaml:"env"`
	EnvFrom         []envFromSource  `yaml:"envFrom"`
	Ports           []containerPort  `yaml:"ports"`
	VolumeMounts    []volumeMount    `yaml:"volumeMounts"`
	LivenessProbe   *probe           `yaml:"livenessProbe"`
	ReadinessProbe  *probe           `yaml:"readinessProbe"`
	StartupProbe    *probe           `yaml:"startupProbe"`
	SecurityContext *securityContext `yaml:"securityContext"`
	Resources       struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

type envVar struct {
	Name      string    `yaml:"name"`
	Value     *string   `yaml:"value"`
	ValueFrom yaml.Node `yaml:"valueFrom"`
}

type envFromSource struct {
	Prefix       string  `yaml:"prefix"`
	ConfigMapRef *objRef `yaml:"configMapRef"`
	SecretRef    *objRef `yaml:"secretRef"`
}

type objRef struct {
	Name string `yaml:"name"`
}

type containerPort struct {
	Name          string `yaml:"name"`
	ContainerPort int    `yaml:"containerPort"`
}

type volumeMount struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	SubPath   string `yaml:"subPath"`
}

type volume struct {
	Name   string `yaml:"name"`
	Secret *struct {
		SecretName  string `yaml:"secretName"`
		DefaultMode *int   `yaml:"defaultMode"`
		Items       []struct {
			Key  string `yaml:"key"`
			Path string `yaml:"path"`
		} `yaml:"items"`
	} `yaml:"secret"`
	ConfigMap *struct {
		Name string `yaml:"name"`
	} `yaml:"configMap"`
}

type probe struct {
	HTTPGet *struct {
		Path string      `yaml:"path"`
		Port intOrString `yaml:"port"`
	} `yaml:"httpGet"`
	TimeoutSeconds int `yaml:"timeoutSeconds"`
}

type securityContext struct {
	RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
	RunAsUser                *int64 `yaml:"runAsUser"`
	ReadOnlyRootFilesystem   *bool  `yaml:"readOnlyRootFilesystem"`
	AllowPrivilegeEscalation *bool  `yaml:"allowPrivilegeEscalation"`
	Privileged               *bool  `yaml:"privileged"`
	Capabilities             *struct {
		Add  []string `yaml:"add"`
		Drop []string `yaml:"drop"`
	} `yaml:"capabilities"`
	SeccompProfile *struct {
		Type string `yaml:"type"`
	} `yaml:"seccompProfile"`
}

// intOrString is a Kubernetes port reference: a number or a port name.
type intOrString struct {
	Int int
	Str string
}

func (p *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Tag == "!!int" {
		return n.Decode(&p.Int)
	}
	return n.Decode(&p.Str)
}

func (p intOrString) String() string {
	if p.Str != "" {
		return strconv.Quote(p.Str)
	}
	return strconv.Itoa(p.Int)
}

type serviceSpec struct {
	Selector map[string]string `yaml:"selector"`
	Ports    []struct {
		Name       string      `yaml:"name"`
		Port       int         `yaml:"port"`
		TargetPort intOrString `yaml:"targetPort"`
	} `yaml:"ports"`
}

type ingressSpec struct {
	Rules []struct {
		Host string `yaml:"host"`
		HTTP struct {
			Paths []struct {
				Path    string `yaml:"path"`
				Backend struct {
					Service *struct {
						Name string `yaml:"name"`
						Port struct {
							Name   string `yaml:"name"`
							Number int    `yaml:"number"`
						} `yaml:"port"`
					} `yaml:"service"`
				} `yaml:"backend"`
			} `yaml:"paths"`
		} `yaml:"http"`
	} `yaml:"rules"`
}

// forwardAuthConfig is Traefik's forwardAuth, in a Middleware CRD and in
// the file provider alike.
type forwardAuthConfig struct {
	Address                  string   `yaml:"address"`
	MaxResponseBodySize      *int64   `yaml:"maxResponseBodySize"`
	TrustForwardHeader       *bool    `yaml:"trustForwardHeader"`
	AuthResponseHeaders      []string `yaml:"authResponseHeaders"`
	AddAuthCookiesToResponse []string `yaml:"addAuthCookiesToResponse"`
}

type middlewareSpec struct {
	ForwardAuth *forwardAuthConfig `yaml:"forwardAuth"`
}

type ingressRouteSpec struct {
	EntryPoints []string `yaml:"entryPoints"`
	Routes      []struct {
		Match       string `yaml:"match"`
		Middlewares []struct {
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"middlewares"`
		Services []struct {
			Name      string      `yaml:"name"`
			Namespace string      `yaml:"namespace"`
			Port      intOrString `yaml:"port"`
		} `yaml:"services"`
	} `yaml:"routes"`
}

// traefikStatic and traefikDynamic are the file-provider configuration.
type traefikStatic struct {
	EntryPoints map[string]struct {
		Address string `yaml:"address"`
		HTTP    struct {
			AliasHeadersStrategy string `yaml:"aliasHeadersStrategy"`
		} `yaml:"http"`
	} `yaml:"entryPoints"`
	Providers struct {
		File *struct {
			Filename  string `yaml:"filename"`
			Directory string `yaml:"directory"`
		} `yaml:"file"`
	} `yaml:"providers"`
}

type traefikDynamic struct {
	HTTP struct {
		Routers map[string]struct {
			Rule        string   `yaml:"rule"`
			EntryPoints []string `yaml:"entryPoints"`
			Middlewares []string `yaml:"middlewares"`
			Service     string   `yaml:"service"`
		} `yaml:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *forwardAuthConfig `yaml:"forwardAuth"`
		} `yaml:"middlewares"`
		Services map[string]yaml.Node `yaml:"services"`
	} `yaml:"http"`
}

// --- Loading. ---

// loadDeployDocs parses every YAML document of every file in deployGlobs.
func loadDeployDocs(t *testing.T) []yamlDoc {
	t.Helper()
	var docs []yamlDoc
	for _, glob := range deployGlobs {
		files, err := filepath.Glob(glob)
		if err != nil {
			t.Fatalf("glob %s: %v", glob, err)
		}
		if len(files) == 0 {
			t.Fatalf("%s: got no files, want at least one", glob)
		}
		sort.Strings(files)
		for _, file := range files {
			docs = append(docs, parseYAMLFile(t, file)...)
		}
	}
	return docs
}

func parseYAMLFile(t *testing.T, file string) []yamlDoc {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []yamlDoc
	dec := yaml.NewDecoder(f)
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d does not parse: %v", file, i, err)
		}
		if len(n.Content) == 0 || n.Content[0].Tag == "!!null" {
			continue // an empty document, e.g. comments before the first ---
		}
		d := yamlDoc{file: filepath.ToSlash(file), index: i, node: &n}
		if strings.HasPrefix(d.file, "../../deploy/kubernetes/") {
			if err := n.Decode(&d.obj); err != nil {
				t.Fatalf("%s: not a Kubernetes object: %v", d, err)
			}
		}
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: got no YAML documents, want at least one", file)
	}
	return docs
}

func decodeSpec[T any](t *testing.T, d yamlDoc) T {
	t.Helper()
	var spec T
	if err := d.obj.Spec.Decode(&spec); err != nil {
		t.Fatalf("%s: spec: %v", d, err)
	}
	return spec
}

// --- The cluster as the files describe it. ---

// workload is one Deployment's pod with its otpgate container and the
// environment that container gets.
type workload struct {
	doc        yamlDoc
	namespace  string
	podLabels  map[string]string
	spec       deploymentSpec
	pod        podSpec
	otpgate    *container
	env        map[string]string // OTPGATE_ values otpgate gets; "" for valueFrom
	listenPort int
	prefix     string
}

func (w *workload) String() string { return w.doc.String() }

// setting is the value of an OTPGATE_ variable for w, or its default.
func (w *workload) setting(t *testing.T, name string) string {
	if v, ok := w.env[name]; ok {
		return v
	}
	return configDefault(t, name)
}

type cluster struct {
	docs      []yamlDoc
	workloads []*workload
	known     map[string]bool
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{docs: loadDeployDocs(t), known: map[string]bool{}}
	for _, k := range knownVariables() {
		c.known[k] = true
	}
	for _, d := range c.docs {
		if d.obj.Kind != "Deployment" {
			continue
		}
		spec := decodeSpec[deploymentSpec](t, d)
		w := &workload{doc: d, namespace: d.obj.Metadata.Namespace, spec: spec, pod: spec.Template.Spec,
			podLabels: spec.Template.Metadata.Labels}
		for i := range w.pod.Containers {
			if w.pod.Containers[i].Name == otpgateContainer {
				w.otpgate = &w.pod.Containers[i]
			}
		}
		if w.otpgate == nil {
			t.Fatalf("%s: got no container named %q, want one (every Deployment here runs otpgate)", d, otpgateContainer)
		}
		w.env = c.containerEnv(t, w.namespace, w.otpgate)
		w.prefix = w.setting(t, "OTPGATE_PATH_PREFIX")
		addr := w.setting(t, "OTPGATE_LISTEN_ADDR")
		w.listenPort = portOf(t, w.String()+": OTPGATE_LISTEN_ADDR", addr)
		c.workloads = append(c.workloads, w)
	}
	if len(c.workloads) == 0 {
		t.Fatal("got no Deployment in deploy/kubernetes, want at least one")
	}
	return c
}

// find returns the object of kind, namespace and name, or nil.
func (c *cluster) find(kind, namespace, name string) *yamlDoc {
	for i, d := range c.docs {
		if d.obj.Kind == kind && d.obj.Metadata.Namespace == namespace && d.obj.Metadata.Name == name {
			return &c.docs[i]
		}
	}
	return nil
}

// containerEnv resolves the OTPGATE_ variables a container gets: envFrom
// (ConfigMaps and Secrets in these files), then env, which wins.
func (c *cluster) containerEnv(t *testing.T, namespace string, ctr *container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range ctr.EnvFrom {
		var kind, name string
		switch {
		case from.ConfigMapRef != nil:
			kind, name = "ConfigMap", from.ConfigMapRef.Name
		case from.SecretRef != nil:
			kind, name = "Secret", from.SecretRef.Name
		default:
			continue
		}
		d := c.find(kind, namespace, name)
		if d == nil {
			t.Errorf("container %q: envFrom %s %q: got no such %s in namespace %q, want one in these files", ctr.Name, kind, name, kind, namespace)
			continue
		}
		for k, v := range d.obj.Data {
			env[from.Prefix+k] = v
		}
		for k, v := range d.obj.StringData {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range ctr.Env {
		v := ""
		if e.Value != nil {
			v = *e.Value
		}
		env[e.Name] = v
	}
	for k := range env {
		if !strings.HasPrefix(k, envPrefix+"_") {
			delete(env, k)
		}
	}
	return env
}

// servicesOf returns the Services that select w's pods.
func (c *cluster) servicesOf(t *testing.T, w *workload) []yamlDoc {
	var out []yamlDoc
	for _, d := range c.docs {
		if d.obj.Kind != "Service" || d.obj.Metadata.Namespace != w.namespace {
			continue
		}
		spec := decodeSpec[serviceSpec](t, d)
		if len(spec.Selector) > 0 && labelsMatch(spec.Selector, w.podLabels) {
			out = append(out, d)
		}
	}
	return out
}

// workloadOf returns the otpgate workload a Service selects, or nil.
func (c *cluster) workloadOf(t *testing.T, svc yamlDoc) *workload {
	spec := decodeSpec[serviceSpec](t, svc)
	for _, w := range c.workloads {
		if w.namespace == svc.obj.Metadata.Namespace && len(spec.Selector) > 0 && labelsMatch(spec.Selector, w.podLabels) {
			return w
		}
	}
	return nil
}

// serviceTarget follows a Service port (by number or name) to the
// otpgate container port it reaches: (containerPort, problem).
func (c *cluster) serviceTarget(t *testing.T, svc yamlDoc, port intOrString) (*workload, int, string) {
	w := c.workloadOf(t, svc)
	if w == nil {
		return nil, 0, fmt.Sprintf("Service %s selects no otpgate Deployment in these files", svc.obj.id())
	}
	spec := decodeSpec[serviceSpec](t, svc)
	for _, p := range spec.Ports {
		if (port.Str != "" && p.Name == port.Str) || (port.Str == "" && p.Port == port.Int) {
			target := p.TargetPort
			if target.Str == "" && target.Int == 0 {
				target.Int = p.Port // Kubernetes' default
			}
			cp, ok := resolvePort(w.otpgate, target)
			if !ok {
				return w, 0, fmt.Sprintf("Service %s port %s: targetPort %s is no containerPort of container %q", svc.obj.id(), port, target, otpgateContainer)
			}
			return w, cp, ""
		}
	}
	return w, 0, fmt.Sprintf("Service %s has no port %s", svc.obj.id(), port)
}

// otpgateURL follows a URL such as http://otpgate.ns.svc.cluster.local:8080/p
// to the otpgate workload and container port it reaches.
func (c *cluster) otpgateURL(t *testing.T, namespace, raw string) (*workload, int, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, 0, fmt.Sprintf("%q is not an http:// URL with a host", raw)
	}
	labels := strings.Split(strings.TrimSuffix(u.Hostname(), ".cluster.local"), ".")
	svcName, svcNS := labels[0], namespace
	if len(labels) > 1 {
		svcNS = labels[1]
	}
	svc := c.find("Service", svcNS, svcName)
	if svc == nil {
		return nil, 0, fmt.Sprintf("%q: got no Service %s/%s in these files, want the otpgate Service", raw, svcNS, svcName)
	}
	port := 80
	if u.Scheme == "https" {
		port = 443
	}
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	return c.serviceTarget(t, *svc, intOrString{Int: port})
}

// --- Helpers. ---

// configDefault is the default of a Config field, from its struct tag, so
// the tests follow the settings.
func configDefault(t *testing.T, variable string) string {
	var c Config
	for _, spec := range c.specs() {
		for _, v := range setting.Vars(envPrefix, spec) {
			if v.Key == variable {
				return v.Default
			}
		}
	}
	t.Fatalf("otpgate reads no %s", variable)
	return ""
}

func portOf(t *testing.T, what, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%s: %q is not host:port: %v", what, hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s: %q: port is not a number", what, hostport)
	}
	return n
}

func resolvePort(ctr *container, p intOrString) (int, bool) {
	for _, cp := range ctr.Ports {
		if (p.Str != "" && cp.Name == p.Str) || (p.Str == "" && cp.ContainerPort == p.Int) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func missingHeaders(got []string) []string {
	var missing []string
	for _, h := range identityHeaders {
		if !slices.ContainsFunc(got, func(g string) bool { return strings.EqualFold(strings.TrimSpace(g), h) }) {
			missing = append(missing, h)
		}
	}
	return missing
}

func boolIs(p *bool, want bool) bool { return p != nil && *p == want }

func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// --- Tests. ---

// TestDeployManifestsParse checks that every document is a Kubernetes
// object with a kind and a name, and that names are not duplicated.
func TestDeployManifestsParse(t *testing.T) {
	seen := map[string]string{}
	for _, d := range loadDeployDocs(t) {
		if !strings.HasPrefix(d.file, "../../deploy/kubernetes/") {
			continue
		}
		if d.obj.APIVersion == "" || d.obj.Kind == "" || d.obj.Metadata.Name == "" {
			t.Errorf("%s: got apiVersion %q, kind %q, name %q; want all three set", d, d.obj.APIVersion, d.obj.Kind, d.obj.Metadata.Name)
		}
		key := d.obj.Kind + " " + d.obj.id()
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: got a second definition (first in %s), want one: applying both files would overwrite it", d, prev)
		}
		seen[key] = d.String()
	}
}

// TestDeployEnvVarsKnown checks every OTPGATE_ variable of every container
// (env and envFrom ConfigMaps / Secrets) against knownVariables(): otpgate
// refuses to start on an unknown one.
func TestDeployEnvVarsKnown(t *testing.T) {
	c := loadCluster(t)
	type envCase struct{ test, where, name string }
	var cases []envCase
	for _, d := range c.docs {
		if d.obj.Kind != "Deployment" {
			continue
		}
		spec := decodeSpec[deploymentSpec](t, d)
		for _, ctr := range slices.Concat(spec.Template.Spec.InitContainers, spec.Template.Spec.Containers) {
			for name := range c.containerEnv(t, d.obj.Metadata.Namespace, &ctr) {
				cases = append(cases, envCase{d.obj.id() + "/" + ctr.Name + "/" + name, fmt.Sprintf("%s container %q", d, ctr.Name), name})
			}
		}
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].test < cases[j].test })
	if len(cases) == 0 {
		t.Fatal("got no OTPGATE_ variables in any container, want some")
	}
	for _, tc := range cases {
		t.Run(tc.test, func(t *testing.T) {
			if c.known[tc.name] {
				return
			}
			hint := ""
			if near := setting.Nearest(tc.name, knownVariables()); near != "" {
				hint = " (nearest known: " + near + ")"
			}
			t.Errorf("%s: %s: got an unknown variable%s, want one of knownVariables()", tc.where, tc.name, hint)
		})
	}
}

// TestDeployOtpgateContainer checks each otpgate container against the
// code: probes, ports, secret files, security, resources and shutdown.
func TestDeployOtpgateContainer(t *testing.T) {
	c := loadCluster(t)
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
			if _, ok := resolvePort(w.otpgate, intOrString{Int: w.listenPort}); !ok {
				t.Errorf("%s: containerPorts of %q: got %v, want one equal to OTPGATE_LISTEN_ADDR's port %d", w, otpgateContainer, w.otpgate.Ports, w.listenPort)
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
			if _, ok := resolvePort(w.otpgate, intOrString{Int: p}); !ok {
				t.Errorf("%s: containerPorts of %q: got %v, want one equal to OTPGATE_METRICS_ADDR's port %d", w, otpgateContainer, w.otpgate.Ports, p)
			}
		}},
		{"probes", func(t *testing.T, w *workload) {
			want := map[string]string{ // probe -> endpoint
				"livenessProbe":  w.prefix + "healthz", // never readyz: a directory outage must not restart pods
				"readinessProbe": w.prefix + "readyz",
			}
			probes := map[string]*probe{"livenessProbe": w.otpgate.LivenessProbe, "readinessProbe": w.otpgate.ReadinessProbe, "startupProbe": w.otpgate.StartupProbe}
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
					t.Errorf("%s: %s port: got %s (container port %d), want OTPGATE_LISTEN_ADDR's port %d", w, name, p.HTTPGet.Port, port, w.listenPort)
				}
			}
			ldapTimeout, err := time.ParseDuration(w.setting(t, "OTPGATE_LDAP_TIMEOUT"))
			if err == nil && w.otpgate.ReadinessProbe != nil {
				got := time.Duration(max(w.otpgate.ReadinessProbe.TimeoutSeconds, 1)) * time.Second
				if got <= ldapTimeout {
					t.Errorf("%s: readinessProbe timeoutSeconds: got %v, want more than OTPGATE_LDAP_TIMEOUT (%v): readyz asks the directory", w, got, ldapTimeout)
				}
			}
		}},
		{"file variables are mounted", func(t *testing.T, w *workload) {
			volumes := map[string]volume{}
			for _, v := range w.pod.Volumes {
				volumes[v.Name] = v
			}
			for name, file := range w.env {
				if !strings.HasSuffix(name, "_FILE") {
					continue
				}
				var mount *volumeMount
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
				if vol.Secret == nil || mount.SubPath != "" {
					continue
				}
				key := path.Clean(strings.TrimPrefix(file, strings.TrimSuffix(mount.MountPath, "/")+"/"))
				if len(vol.Secret.Items) > 0 {
					found := false
					for _, it := range vol.Secret.Items {
						found = found || it.Path == key
					}
					if !found {
						t.Errorf("%s: %s=%q: got no item with path %q in volume %q, want one", w, name, file, key, vol.Name)
					}
				} else if s := c.find("Secret", w.namespace, vol.Secret.SecretName); s != nil {
					_, inData := s.obj.Data[key]
					_, inStringData := s.obj.StringData[key]
					if !inData && !inStringData {
						t.Errorf("%s: %s=%q: Secret %s has no key %q, want one (the file name is the key)", w, name, file, s.obj.id(), key)
					}
				}
			}
			// The files must be readable by the image's user, who owns none.
			for _, m := range w.otpgate.VolumeMounts {
				vol, ok := volumes[m.Name]
				if !ok || vol.Secret == nil || vol.Secret.DefaultMode == nil {
					continue
				}
				mode := *vol.Secret.DefaultMode
				worldReadable := mode&0o004 != 0
				groupReadable := mode&0o040 != 0 && w.pod.SecurityContext.FSGroup != nil
				if !worldReadable && !groupReadable {
					t.Errorf("%s: volume %q defaultMode: got %#o, want a mode user %d can read (o+r, or g+r with the pod's fsGroup)", w, vol.Name, mode, imageUID)
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
				seccomp = sc.SeccompProfile.Type
			}
			var drop []string
			if sc.Capabilities != nil {
				drop = sc.Capabilities.Drop
			}
			fields := []field{
				{"runAsNonRoot", show(sc.RunAsNonRoot), "true"},
				{"readOnlyRootFilesystem", show(sc.ReadOnlyRootFilesystem), "true"},
				{"allowPrivilegeEscalation", show(sc.AllowPrivilegeEscalation), "false"},
				{"capabilities.drop contains ALL", fmt.Sprint(slices.Contains(drop, "ALL")), "true"},
				{"seccompProfile.type", seccomp, "RuntimeDefault"},
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
				m    map[string]string
				key  string
			}{{"requests", r.Requests, "cpu"}, {"requests", r.Requests, "memory"}, {"limits", r.Limits, "memory"}} {
				if want.m[want.key] == "" {
					t.Errorf("%s: container %q resources.%s.%s: got unset, want a value", w, otpgateContainer, want.what, want.key)
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
		{"one replica", func(t *testing.T, w *workload) {
			// Pending sign-ins live in one process's memory (auth.NewMemoryStore).
			if r := w.spec.Replicas; r == nil || *r != 1 {
				t.Errorf("%s: replicas: got %s, want 1 (pending sign-ins are kept in memory, so a second replica would not know them)", w, show(r))
			}
		}},
		{"selector matches the pod", func(t *testing.T, w *workload) {
			if sel := w.spec.Selector.MatchLabels; len(sel) == 0 || !labelsMatch(sel, w.podLabels) {
				t.Errorf("%s: selector.matchLabels: got %v, want labels of the pod template %v", w, sel, w.podLabels)
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
			t.Run(w.doc.obj.id()+"/"+ch.name, func(t *testing.T) { ch.check(t, w) })
		}
	}
}

// TestDeployConfigValid runs each otpgate container's environment through
// otpgate's own loadConfig and check, as the pod would at start-up: the
// files of *_FILE variables are read from the ConfigMaps mounted there, and
// secrets replaced by valid stand-ins (the Secrets hold placeholders). The
// directory and SMS settings are checked later, in assemble, and not here.
func TestDeployConfigValid(t *testing.T) {
	c := loadCluster(t)
	standIns := map[string]string{
		"OTPGATE_COOKIE_SECRET_FILE": base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)),
		"OTPGATE_SMS_HEADERS_FILE":   "Authorization: Bearer stand-in",
		"OTPGATE_SMS2_HEADERS_FILE":  "Authorization: Bearer stand-in",
	}
	for _, w := range c.workloads {
		t.Run(w.doc.obj.id(), func(t *testing.T) {
			dir := t.TempDir()
			var environ []string
			for k, v := range w.env {
				if v == "" {
					continue
				}
				if strings.HasSuffix(k, "_FILE") {
					content, ok := c.mountedFile(t, w, v)
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
			cfg, err := loadConfig(environ)
			_, problems := cfg.validate()
			if err := errors.Join(append([]error{err}, problems...)...); err != nil {
				t.Errorf("%s: got configuration problems, want none (otpgate would exit with status 2):\n%v", w, err)
			}
		})
	}
}

// mountedFile returns the content of file in w's otpgate container when it
// comes from a ConfigMap in these files.
func (c *cluster) mountedFile(t *testing.T, w *workload, file string) (string, bool) {
	for _, m := range w.otpgate.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if m.SubPath != "" || !strings.HasPrefix(file, dir) {
			continue
		}
		for _, v := range w.pod.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			if cm := c.find("ConfigMap", w.namespace, v.ConfigMap.Name); cm != nil {
				s, ok := cm.obj.Data[strings.TrimPrefix(file, dir)]
				return s, ok
			}
		}
	}
	return "", false
}

// TestDeployServices checks that every Service in front of otpgate reaches
// otpgate's container ports, and the main one its listen port: in a
// sidecar pod, never the app's port.
func TestDeployServices(t *testing.T) {
	c := loadCluster(t)
	for _, w := range c.workloads {
		t.Run(w.doc.obj.id(), func(t *testing.T) {
			svcs := c.servicesOf(t, w)
			if len(svcs) == 0 {
				t.Fatalf("%s: got no Service selecting its pods, want one", w)
			}
			for _, svc := range svcs {
				spec := decodeSpec[serviceSpec](t, svc)
				toListen := false
				for _, p := range spec.Ports {
					_, cp, problem := c.serviceTarget(t, svc, intOrString{Int: p.Port})
					if problem != "" {
						t.Errorf("%s: %s", svc, problem)
						continue
					}
					toListen = toListen || cp == w.listenPort
				}
				if !toListen {
					t.Errorf("%s: got no port whose targetPort is otpgate's listen port %d, want one", svc, w.listenPort)
				}
			}
		})
	}
}

// TestDeployIngressNginx checks the ingress-nginx external-auth annotations
// and that Ingresses to otpgate use its listen port.
func TestDeployIngressNginx(t *testing.T) {
	c := loadCluster(t)
	const ann = "nginx.ingress.kubernetes.io/"
	sawAuth := false
	for _, d := range c.docs {
		if d.obj.Kind != "Ingress" {
			continue
		}
		t.Run(d.obj.id(), func(t *testing.T) {
			a := d.obj.Annotations()
			spec := decodeSpec[ingressSpec](t, d)
			// Ingresses routed to otpgate (the portal) must reach its listen port.
			for _, r := range spec.Rules {
				for _, p := range r.HTTP.Paths {
					b := p.Backend.Service
					if b == nil {
						continue
					}
					svc := c.find("Service", d.obj.Metadata.Namespace, b.Name)
					if svc == nil || c.workloadOf(t, *svc) == nil {
						continue
					}
					w, cp, problem := c.serviceTarget(t, *svc, intOrString{Int: b.Port.Number, Str: b.Port.Name})
					if problem != "" {
						t.Errorf("%s: backend: %s", d, problem)
						continue
					}
					if cp != w.listenPort {
						t.Errorf("%s: backend %s port: got container port %d, want otpgate's listen port %d", d, b.Name, cp, w.listenPort)
					}
					if !strings.HasPrefix(w.prefix, strings.TrimSuffix(p.Path, "/")+"/") {
						t.Errorf("%s: path to otpgate: got %q, want one covering %q", d, p.Path, w.prefix)
					}
					if pub, err := url.Parse(w.env["OTPGATE_PUBLIC_URL"]); err == nil && pub.Host != "" && r.Host != pub.Hostname() {
						t.Errorf("%s: host routed to otpgate: got %q, want OTPGATE_PUBLIC_URL's host %q", d, r.Host, pub.Hostname())
					}
				}
			}
			authURL, ok := a[ann+"auth-url"]
			if !ok {
				return
			}
			sawAuth = true
			w, cp, problem := c.otpgateURL(t, d.obj.Metadata.Namespace, authURL)
			if problem != "" {
				t.Fatalf("%s: auth-url: %s", d, problem)
			}
			u, _ := url.Parse(authURL)
			cases := []struct {
				name      string
				got, want string
				ok        bool
			}{
				{"auth-url path", u.Path, w.prefix + authRequestPath, u.Path == w.prefix+authRequestPath},
				// ingress-nginx builds X-Original-URL from the client's Host
				// header, so the auth-url pins the host it routes by.
				{"auth-url ?host=", u.Query().Get("host"), "the Ingress's one host " + fmt.Sprint(ingressHosts(spec)),
					len(ingressHosts(spec)) == 1 && u.Query().Get("host") == ingressHosts(spec)[0]},
				{"auth-url port reaches", strconv.Itoa(cp), fmt.Sprintf("otpgate's listen port %d", w.listenPort), cp == w.listenPort},
			}
			pub := strings.TrimSuffix(w.env["OTPGATE_PUBLIC_URL"], "/")
			signin := a[ann+"auth-signin"]
			wantSignin := pub + w.prefix + "signin?rd="
			cases = append(cases, struct {
				name      string
				got, want string
				ok        bool
			}{"auth-signin", signin, wantSignin + "<the original URL>", pub != "" && strings.HasPrefix(signin, wantSignin) && len(signin) > len(wantSignin)})
			missing := missingHeaders(strings.Split(a[ann+"auth-response-headers"], ","))
			cases = append(cases, struct {
				name      string
				got, want string
				ok        bool
			}{"auth-response-headers", a[ann+"auth-response-headers"], "all of " + strings.Join(identityHeaders, ","), len(missing) == 0})
			for _, tc := range cases {
				if !tc.ok {
					t.Errorf("%s: %s: got %q, want %s", d, tc.name, tc.got, tc.want)
				}
			}
		})
	}
	if !sawAuth {
		t.Error("got no Ingress with nginx.ingress.kubernetes.io/auth-url, want the forward-auth example")
	}
}

// excludesAuthz reports whether a Traefik rule keeps otpgate's authz
// endpoints, which only the proxy may ask, off a public route.
func excludesAuthz(rule, prefix string) bool {
	return strings.Contains(rule, "!PathPrefix(`"+prefix+"authz/`)")
}

// ingressHosts lists the hosts an Ingress routes by.
func ingressHosts(spec ingressSpec) []string {
	var hosts []string
	for _, r := range spec.Rules {
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	return hosts
}

// Annotations is a nil-safe accessor.
func (o k8sObject) Annotations() map[string]string {
	if o.Metadata.Annotations == nil {
		return map[string]string{}
	}
	return o.Metadata.Annotations
}

// TestDeployTraefik checks Traefik's forwardAuth, in the Kubernetes
// Middleware and in the file-provider example, and that routes use it.
func TestDeployTraefik(t *testing.T) {
	c := loadCluster(t)
	defaultPrefix := configDefault(t, "OTPGATE_PATH_PREFIX")
	cookie := "__Secure-" + configDefault(t, "OTPGATE_COOKIE_NAME")

	checkForwardAuth := func(t *testing.T, where string, fa *forwardAuthConfig, prefix, cookie string) {
		u, err := url.Parse(fa.Address)
		cases := []struct {
			name, got, want string
			ok              bool
		}{
			{"address", fa.Address, "an http(s) URL ending in " + prefix + forwardAuthPath,
				err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") && u.Path == prefix+forwardAuthPath},
			{"trustForwardHeader", show(fa.TrustForwardHeader), "false or unset (Traefik sets X-Forwarded-* itself)", !boolIs(fa.TrustForwardHeader, true)},
			{"maxResponseBodySize", show(fa.MaxResponseBodySize), "a limit (otpgate's answers are small)", fa.MaxResponseBodySize != nil && *fa.MaxResponseBodySize > 0},
			{"authResponseHeaders", fmt.Sprint(fa.AuthResponseHeaders), "all of " + strings.Join(identityHeaders, ","), len(missingHeaders(fa.AuthResponseHeaders)) == 0},
			{"addAuthCookiesToResponse", fmt.Sprint(fa.AddAuthCookiesToResponse), "[" + cookie + "] or unset (session renewal)",
				len(fa.AddAuthCookiesToResponse) == 0 || slices.Equal(fa.AddAuthCookiesToResponse, []string{cookie})},
		}
		for _, tc := range cases {
			if !tc.ok {
				t.Errorf("%s: forwardAuth.%s: got %s, want %s", where, tc.name, tc.got, tc.want)
			}
		}
	}

	sawMiddleware := false
	middlewares := map[string]bool{} // namespace/name of forwardAuth Middlewares
	for _, d := range c.docs {
		if d.obj.Kind != "Middleware" {
			continue
		}
		spec := decodeSpec[middlewareSpec](t, d)
		if spec.ForwardAuth == nil {
			continue
		}
		sawMiddleware = true
		middlewares[d.obj.id()] = true
		t.Run(d.obj.id(), func(t *testing.T) {
			if d.obj.APIVersion != "traefik.io/v1alpha1" {
				t.Errorf("%s: apiVersion: got %q, want traefik.io/v1alpha1 (Traefik v3)", d, d.obj.APIVersion)
			}
			w, cp, problem := c.otpgateURL(t, d.obj.Metadata.Namespace, spec.ForwardAuth.Address)
			if problem != "" {
				t.Fatalf("%s: forwardAuth.address: %s", d, problem)
			}
			if cp != w.listenPort {
				t.Errorf("%s: forwardAuth.address port: got container port %d, want otpgate's listen port %d", d, cp, w.listenPort)
			}
			name := w.setting(t, "OTPGATE_COOKIE_NAME")
			if w.env["OTPGATE_COOKIE_DOMAIN"] != "" {
				name = "__Secure-" + name
			} else {
				name = "__Host-" + name
			}
			checkForwardAuth(t, d.String(), spec.ForwardAuth, w.prefix, name)
		})
	}
	if !sawMiddleware {
		t.Error("got no Traefik Middleware with forwardAuth in deploy/kubernetes, want one")
	}
	for _, d := range c.docs {
		if d.obj.Kind != "IngressRoute" {
			continue
		}
		spec := decodeSpec[ingressRouteSpec](t, d)
		for _, r := range spec.Routes {
			for _, m := range r.Middlewares {
				ns := cmp.Or(m.Namespace, d.obj.Metadata.Namespace)
				if !middlewares[ns+"/"+m.Name] && !middlewares[m.Name] {
					t.Errorf("%s: route %q: middleware %s/%s: got no such forwardAuth Middleware in these files, want one", d, r.Match, ns, m.Name)
				}
			}
			for _, s := range r.Services {
				svc := c.find("Service", cmp.Or(s.Namespace, d.obj.Metadata.Namespace), s.Name)
				if svc == nil || c.workloadOf(t, *svc) == nil {
					continue
				}
				w, cp, problem := c.serviceTarget(t, *svc, s.Port)
				switch {
				case problem != "":
					t.Errorf("%s: service: %s", d, problem)
				case cp != w.listenPort:
					t.Errorf("%s: service %s port: got container port %d, want otpgate's listen port %d", d, s.Name, cp, w.listenPort)
				case len(r.Middlewares) > 0:
					t.Errorf("%s: route %q to otpgate itself: got middlewares %v, want none (the portal must be reachable signed out)", d, r.Match, r.Middlewares)
				case !excludesAuthz(r.Match, w.prefix):
					t.Errorf("%s: route %q to otpgate itself: got %s routed publicly, want it excluded with !PathPrefix", d, r.Match, w.prefix+"authz/")
				}
			}
		}
	}

	// The file-provider example.
	var static *traefikStatic
	var dynamic *traefikDynamic
	var staticDoc, dynamicDoc yamlDoc
	for _, d := range c.docs {
		if !strings.HasPrefix(d.file, "../../examples/traefik/") {
			continue
		}
		switch path.Base(d.file) {
		case "traefik.yml":
			static, staticDoc = new(traefikStatic), d
			if err := d.node.Decode(static); err != nil {
				t.Fatalf("%s: %v", d, err)
			}
		case "dynamic.yml":
			dynamic, dynamicDoc = new(traefikDynamic), d
			if err := d.node.Decode(dynamic); err != nil {
				t.Fatalf("%s: %v", d, err)
			}
		}
	}
	if static == nil || dynamic == nil {
		t.Fatalf("../../examples/traefik: got static %v, dynamic %v; want traefik.yml and dynamic.yml", static != nil, dynamic != nil)
	}
	if f := static.Providers.File; f == nil || path.Base(f.Filename) != "dynamic.yml" {
		t.Errorf("%s: providers.file.filename: got %+v, want a path to dynamic.yml", staticDoc, f)
	}
	sawFA := false
	for name, m := range dynamic.HTTP.Middlewares {
		if m.ForwardAuth != nil {
			sawFA = true
			checkForwardAuth(t, dynamicDoc.String()+" middleware "+name, m.ForwardAuth, defaultPrefix, cookie)
		}
	}
	if !sawFA {
		t.Errorf("%s: got no forwardAuth middleware, want one", dynamicDoc)
	}
	protected := false
	for name, r := range dynamic.HTTP.Routers {
		for _, ep := range r.EntryPoints {
			if _, ok := static.EntryPoints[ep]; !ok {
				t.Errorf("%s: router %s: entry point %q: got none such in traefik.yml, want one", dynamicDoc, name, ep)
			}
		}
		for _, m := range r.Middlewares {
			mw, ok := dynamic.HTTP.Middlewares[m]
			if !ok {
				t.Errorf("%s: router %s: middleware %q: got none such, want one", dynamicDoc, name, m)
			}
			protected = protected || mw.ForwardAuth != nil
		}
		if len(r.Middlewares) == 0 && strings.Contains(r.Rule, defaultPrefix) && !excludesAuthz(r.Rule, defaultPrefix) {
			t.Errorf("%s: router %s: rule %q routes %s publicly, want it excluded with !PathPrefix", dynamicDoc, name, r.Rule, defaultPrefix+"authz/")
		}
		if protects := slices.ContainsFunc(r.Middlewares, func(m string) bool { return dynamic.HTTP.Middlewares[m].ForwardAuth != nil }); protects {
			for _, ep := range r.EntryPoints {
				if got := static.EntryPoints[ep].HTTP.AliasHeadersStrategy; got != "delete" {
					t.Errorf("%s: entry point %s (router %s): http.aliasHeadersStrategy: got %q, want delete (apps read Remote.User as Remote-User)", staticDoc, ep, name, got)
				}
			}
		}
		if _, ok := dynamic.HTTP.Services[r.Service]; !ok {
			t.Errorf("%s: router %s: service %q: got none such, want one", dynamicDoc, name, r.Service)
		}
	}
	if !protected {
		t.Errorf("%s: got no router using the forwardAuth middleware, want one", dynamicDoc)
	}
}

// TestDeployDockerfile reads the Dockerfile (no Docker here to build it)
// and checks it against the manifests and the code.
func TestDeployDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, with continuation lines joined and comments dropped.
	var instr []string
	cur := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		instr = append(instr, cur+trimmed)
		cur = ""
	}
	var froms []string
	has := func(re string) bool {
		r := regexp.MustCompile(re)
		return slices.ContainsFunc(instr, r.MatchString)
	}
	for _, in := range instr {
		if strings.HasPrefix(strings.ToUpper(in), "FROM ") {
			froms = append(froms, in)
		}
	}
	last := ""
	if len(froms) > 0 {
		last = froms[len(froms)-1]
	}
	listen := portOf(t, "Config.ListenAddr default", configDefault(t, "OTPGATE_LISTEN_ADDR"))
	modIdx := slices.IndexFunc(instr, regexp.MustCompile(`^RUN .*go mod download`).MatchString)
	srcIdx := slices.IndexFunc(instr, regexp.MustCompile(`^COPY \. `).MatchString)
	cases := []struct {
		name, want string
		ok         bool
	}{
		{"build stage", "FROM golang:1.26 (bookworm)", len(froms) > 1 && regexp.MustCompile(`golang:1\.26[.\d]*(-bookworm)?(@sha256:[0-9a-f]+)? AS `).MatchString(froms[0])},
		{"final stage", "FROM gcr.io/distroless/static-debian12:nonroot", strings.Contains(last, "gcr.io/distroless/static-debian12:nonroot")},
		{"static build", "CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\"", has(`CGO_ENABLED=0 .*go build .*-trimpath .*-ldflags="-s -w"`)},
		{"modules in their own layer", "COPY go.mod go.sum, RUN go mod download, then COPY . .", has(`^COPY go\.mod go\.sum `) && modIdx >= 0 && srcIdx > modIdx},
		{"user", fmt.Sprintf("USER %d:%d", imageUID, imageUID), has(fmt.Sprintf(`^USER %d(:%d)?$`, imageUID, imageUID))},
		{"expose", fmt.Sprintf("EXPOSE %d (OTPGATE_LISTEN_ADDR's default)", listen), has(fmt.Sprintf(`^EXPOSE %d$`, listen))},
		{"entrypoint", `ENTRYPOINT ["/otpgate"]`, has(`^ENTRYPOINT \["/otpgate"\]$`)},
		{"no healthcheck", "no HEALTHCHECK (probes do it; distroless has no shell or curl)", !has(`^HEALTHCHECK `)},
	}
	for _, tc := range cases {
		if !tc.ok {
			t.Errorf("Dockerfile %s: got no match, want %s", tc.name, tc.want)
		}
	}

	ignore, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for line := range strings.SplitSeq(string(ignore), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			lines = append(lines, line)
		}
	}
	for _, want := range []string{".git", "bench.txt"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore: got no line %q, want one", want)
		}
	}
	for _, embedded := range []string{"ui", "ui/templates", "ui/static", "go.mod", "go.sum", "*.go"} {
		if slices.Contains(lines, embedded) {
			t.Errorf(".dockerignore: got %q, want it kept: the build needs it", embedded)
		}
	}
}
