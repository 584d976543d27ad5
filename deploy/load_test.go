package deploy

// Loading: every file is split into its YAML documents, and each
// Kubernetes document is decoded strictly (see decodeStrict: an unknown,
// misspelled or duplicated field is an error) into the real type of its
// apiVersion and kind.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/otpgate/otpgate/internal/gateway"
	"github.com/otpgate/otpgate/proxy"
)

// kubernetesGlob and traefikGlob are the YAML files checked; each must
// match at least one file.
const (
	kubernetesGlob = "kubernetes/*.yaml"
	traefikGlob    = "../examples/traefik/*.yml"
)

const (
	otpgateContainer = "otpgate"
	imageUID         = 65532 // distroless "nonroot", the Dockerfile's USER
	authRequestPath  = "authz/auth-request"
	forwardAuthPath  = "authz/forward-auth"
	envPrefix        = "OTPGATE_"
)

// kinds are the objects the manifests may hold, by apiVersion and kind,
// each with the type it is decoded into.
var kinds = map[string]func() metav1.Object{
	"v1 Namespace":                       func() metav1.Object { return new(corev1.Namespace) },
	"policy/v1 PodDisruptionBudget":      func() metav1.Object { return new(policyv1.PodDisruptionBudget) },
	"networking.k8s.io/v1 NetworkPolicy": func() metav1.Object { return new(networkingv1.NetworkPolicy) },
	"v1 ConfigMap":                       func() metav1.Object { return new(corev1.ConfigMap) },
	"v1 Secret":                          func() metav1.Object { return new(corev1.Secret) },
	"v1 Service":                         func() metav1.Object { return new(corev1.Service) },
	"apps/v1 Deployment":                 func() metav1.Object { return new(appsv1.Deployment) },
	"apps/v1 StatefulSet":                func() metav1.Object { return new(appsv1.StatefulSet) },
	"networking.k8s.io/v1 Ingress":       func() metav1.Object { return new(networkingv1.Ingress) },
	"traefik.io/v1alpha1 Middleware":     func() metav1.Object { return new(traefikMiddleware) },
	"traefik.io/v1alpha1 IngressRoute":   func() metav1.Object { return new(traefikIngressRoute) },
}

// identityHeaders are the headers otpgate answers forward-auth with; every
// proxy configuration must copy all of them onto the request to the app.
var identityHeaders = func() []string {
	ih := proxy.DefaultIdentityHeaders()
	return slices.Concat(ih.User, ih.Name, ih.Email, ih.Groups, ih.AuthLevel)
}()

// known maps every OTPGATE_ variable otpgate reads to its default.
var known = func() map[string]string {
	m := map[string]string{}
	for _, v := range gateway.Variables() {
		m[v.Name] = v.Default
	}
	return m
}()

func knownNames() []string {
	var names []string
	for _, v := range gateway.Variables() {
		names = append(names, v.Name)
	}
	return names
}

// configDefault is the default of an OTPGATE_ variable, so the tests
// follow the code.
func configDefault(t *testing.T, variable string) string {
	t.Helper()
	def, ok := known[variable]
	if !ok {
		t.Fatalf("otpgate reads no %s", variable)
	}
	return def
}

// doc is one YAML document.
type doc struct {
	file string // from the repository's root, e.g. deploy/kubernetes/sidecar.yaml
	line int    // the document's first line
	raw  []byte
	kind string        // Kubernetes documents: "apiVersion kind"
	obj  metav1.Object // Kubernetes documents: the decoded object
}

func (d *doc) String() string {
	s := fmt.Sprintf("%s:%d", d.file, d.line)
	if d.obj != nil {
		s += " " + d.kind[strings.LastIndexByte(d.kind, ' ')+1:] + " " + id(d.obj)
	}
	return s
}

func id(o metav1.Object) string {
	if o.GetNamespace() == "" {
		return o.GetName()
	}
	return o.GetNamespace() + "/" + o.GetName()
}

// splitDocuments splits a file's YAML stream into its documents, and
// wants at least one.
func splitDocuments(t *testing.T, file string) []*doc {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.ToSlash(filepath.Join("deploy", file)) // from the repository's root
	docs := splitYAML(name, b)
	if len(docs) == 0 {
		t.Fatalf("%s: got no YAML documents, want at least one", name)
	}
	return docs
}

// splitYAML splits a YAML stream at its "---" lines, dropping documents
// with nothing but comments. name is where it comes from, for messages.
func splitYAML(name string, b []byte) []*doc {
	var docs []*doc
	var cur *doc
	content := false
	flush := func() {
		if cur != nil && content {
			docs = append(docs, cur)
		}
		cur, content = nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			flush()
			continue
		}
		trimmed := strings.TrimSpace(line)
		if cur == nil {
			cur = &doc{file: name, line: n}
		}
		if !content && trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			content, cur.line = true, n
		}
		cur.raw = append(append(cur.raw, line...), '\n')
	}
	flush()
	return docs
}

// loadFiles splits every file of glob into documents.
func loadFiles(t *testing.T, glob string) []*doc {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatalf("glob %s: %v", glob, err)
	}
	if len(files) == 0 {
		t.Fatalf("%s: got no files, want at least one", glob)
	}
	sort.Strings(files)
	var docs []*doc
	for _, f := range files {
		docs = append(docs, splitDocuments(t, f)...)
	}
	return docs
}

// decodeStrict decodes d into v as the API server does a manifest that
// kubectl sends with strict field validation: the YAML becomes JSON
// without regard to v (sigs.k8s.io/yaml; a duplicated key is an error),
// which is decoded with sigs.k8s.io/json: field names match case-sensitively,
// and an unknown or duplicated field or a value of the wrong type (a
// number where a string belongs) is an error naming d.
func decodeStrict(d *doc, v any) error {
	j, err := yaml.YAMLToJSONStrict(d.raw)
	if err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err = errors.Join(append([]error{err}, strict...)...); err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	return nil
}

// loadManifests decodes every document of deploy/kubernetes into its type.
func loadManifests(t *testing.T) []*doc {
	t.Helper()
	return decodeDocs(t, loadFiles(t, kubernetesGlob))
}

// decodeDocs decodes every document into the type of its apiVersion and
// kind, and fails on the first that does not decode strictly.
func decodeDocs(t *testing.T, docs []*doc) []*doc {
	t.Helper()
	for _, d := range docs {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(d.raw, &tm); err != nil {
			t.Fatalf("%s: does not parse: %v", d, err)
		}
		d.kind = tm.APIVersion + " " + tm.Kind
		newObj, ok := kinds[d.kind]
		if !ok {
			var want []string
			for k := range kinds {
				want = append(want, k)
			}
			sort.Strings(want)
			t.Fatalf("%s: apiVersion and kind: got %q, want one of %q", d, d.kind, want)
		}
		obj := newObj()
		if err := decodeStrict(d, obj); err != nil {
			t.Fatalf("got a document that does not decode strictly, want none: %v", err)
		}
		d.obj = obj
	}
	return docs
}

// --- The cluster as the files describe it. ---

// workload is one Deployment's pod with its otpgate container and the
// environment that container gets.
type workload struct {
	doc        *doc
	dep        *appsv1.Deployment
	pod        *corev1.PodSpec
	otpgate    *corev1.Container
	env        map[string]string // OTPGATE_ values otpgate gets; "" for valueFrom
	listenPort int
	prefix     string
}

func (w *workload) String() string { return w.doc.String() }

// setting is the value of an OTPGATE_ variable for w, or its default.
func (w *workload) setting(t *testing.T, name string) string {
	t.Helper()
	if v, ok := w.env[name]; ok {
		return v
	}
	return configDefault(t, name)
}

// cluster is the objects of a set of files (deploy/kubernetes, or a
// chart rendered with a set of values), named by from in messages.
type cluster struct {
	from      string
	docs      []*doc
	workloads []*workload
}

func loadCluster(t *testing.T) *cluster {
	t.Helper()
	return newCluster(t, "deploy/kubernetes", loadManifests(t))
}

// newCluster finds the otpgate workloads among decoded docs.
func newCluster(t *testing.T, from string, docs []*doc) *cluster {
	t.Helper()
	c := &cluster{from: from, docs: docs}
	for _, d := range objects[appsv1.Deployment](c) {
		w := &workload{doc: d.doc, dep: d.obj, pod: &d.obj.Spec.Template.Spec}
		for i := range w.pod.Containers {
			if w.pod.Containers[i].Name == otpgateContainer {
				w.otpgate = &w.pod.Containers[i]
			}
		}
		if w.otpgate == nil {
			t.Fatalf("%s: got no container named %q, want one (every Deployment here runs otpgate)", d.doc, otpgateContainer)
		}
		w.env = c.containerEnv(t, d.doc, d.obj.Namespace, w.otpgate)
		w.prefix = w.setting(t, "OTPGATE_PATH_PREFIX")
		w.listenPort = portOf(t, w.String()+": OTPGATE_LISTEN_ADDR", w.setting(t, "OTPGATE_LISTEN_ADDR"))
		c.workloads = append(c.workloads, w)
	}
	if len(c.workloads) == 0 {
		t.Fatalf("%s: got no Deployment, want at least one", c.from)
	}
	return c
}

// typed is a document decoded into T.
type typed[T any] struct {
	doc *doc
	obj *T
}

// objects returns the documents decoded into T, in file order.
func objects[T any](c *cluster) []typed[T] {
	var out []typed[T]
	for _, d := range c.docs {
		if o, ok := any(d.obj).(*T); ok {
			out = append(out, typed[T]{d, o})
		}
	}
	return out
}

// find returns the object of type T, namespace and name, or nil.
func find[T any](c *cluster, namespace, name string) *typed[T] {
	for _, o := range objects[T](c) {
		if o.doc.obj.GetNamespace() == namespace && o.doc.obj.GetName() == name {
			return &o
		}
	}
	return nil
}

// containerEnv resolves the OTPGATE_ variables a container gets: envFrom
// (ConfigMaps and Secrets in these files), then env, which wins.
// where names the Deployment, for messages.
func (c *cluster) containerEnv(t *testing.T, where fmt.Stringer, namespace string, ctr *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range ctr.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm := find[corev1.ConfigMap](c, namespace, from.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("%s: container %q: envFrom ConfigMap %q: got no such ConfigMap in namespace %q, want one in these files", where, ctr.Name, from.ConfigMapRef.Name, namespace)
				continue
			}
			for k, v := range cm.obj.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			s := find[corev1.Secret](c, namespace, from.SecretRef.Name)
			if s == nil {
				t.Errorf("%s: container %q: envFrom Secret %q: got no such Secret in namespace %q, want one in these files", where, ctr.Name, from.SecretRef.Name, namespace)
				continue
			}
			for k, v := range s.obj.Data {
				env[from.Prefix+k] = string(v)
			}
			for k, v := range s.obj.StringData {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range ctr.Env {
		env[e.Name] = e.Value // "" for valueFrom
	}
	for k := range env {
		if !strings.HasPrefix(k, envPrefix) {
			delete(env, k)
		}
	}
	return env
}

// servicesOf returns the Services that select w's pods.
func (c *cluster) servicesOf(w *workload) []typed[corev1.Service] {
	var out []typed[corev1.Service]
	for _, s := range objects[corev1.Service](c) {
		if s.obj.Namespace == w.dep.Namespace && selects(s.obj.Spec.Selector, w.dep.Spec.Template.Labels) {
			out = append(out, s)
		}
	}
	return out
}

// workloadOf returns the otpgate workload a Service selects, or nil.
func (c *cluster) workloadOf(svc *corev1.Service) *workload {
	for _, w := range c.workloads {
		if w.dep.Namespace == svc.Namespace && selects(svc.Spec.Selector, w.dep.Spec.Template.Labels) {
			return w
		}
	}
	return nil
}

// serviceTarget follows a Service port (by number or name) to the
// otpgate container port it reaches: (workload, containerPort, problem).
func (c *cluster) serviceTarget(svc *corev1.Service, port intstr.IntOrString) (*workload, int, string) {
	w := c.workloadOf(svc)
	if w == nil {
		return nil, 0, fmt.Sprintf("Service %s selects no otpgate Deployment in these files", id(svc))
	}
	for _, p := range svc.Spec.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.Port == port.IntVal) {
			target := p.TargetPort
			if target.Type == intstr.Int && target.IntVal == 0 {
				target = intstr.FromInt32(p.Port) // Kubernetes' default
			}
			cp, ok := resolvePort(w.otpgate, target)
			if !ok {
				return w, 0, fmt.Sprintf("Service %s port %s: targetPort %s is no containerPort of container %q", id(svc), portString(port), portString(target), otpgateContainer)
			}
			return w, cp, ""
		}
	}
	return w, 0, fmt.Sprintf("Service %s has no port %s", id(svc), portString(port))
}

// otpgateURL follows a URL such as http://otpgate.ns.svc.cluster.local:8080/p
// to the otpgate workload and container port it reaches.
func (c *cluster) otpgateURL(namespace, raw string) (*workload, int, string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, 0, fmt.Sprintf("%q is not an http:// URL with a host", raw)
	}
	labels := strings.Split(strings.TrimSuffix(u.Hostname(), ".cluster.local"), ".")
	svcName, svcNS := labels[0], namespace
	if len(labels) > 1 {
		svcNS = labels[1]
	}
	svc := find[corev1.Service](c, svcNS, svcName)
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
	return c.serviceTarget(svc.obj, intstr.FromInt(port))
}

// mountedFile returns the content of file in w's otpgate container when it
// comes from a ConfigMap in these files.
func (c *cluster) mountedFile(w *workload, file string) (string, bool) {
	for _, m := range w.otpgate.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if m.SubPath != "" || !strings.HasPrefix(file, dir) {
			continue
		}
		for _, v := range w.pod.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			if cm := find[corev1.ConfigMap](c, w.dep.Namespace, v.ConfigMap.Name); cm != nil {
				s, ok := cm.obj.Data[strings.TrimPrefix(file, dir)]
				return s, ok
			}
		}
	}
	return "", false
}

// --- Helpers. ---

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

// resolvePort finds the container port p names (by name or number).
func resolvePort(ctr *corev1.Container, p intstr.IntOrString) (int, bool) {
	for _, cp := range ctr.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return int(cp.ContainerPort), true
		}
	}
	return 0, false
}

func portString(p intstr.IntOrString) string {
	if p.Type == intstr.String {
		return strconv.Quote(p.StrVal)
	}
	return strconv.Itoa(int(p.IntVal))
}

// backendPort is an Ingress backend's Service port as Kubernetes names it.
func backendPort(p networkingv1.ServiceBackendPort) intstr.IntOrString {
	if p.Name != "" {
		return intstr.FromString(p.Name)
	}
	return intstr.FromInt32(p.Number)
}

// selects reports whether a non-empty selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
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
