package deploy

// Several replicas and their shared store: a workload runs more than one
// otpgate only with OTPGATE_STORE=redis, spreads them and limits
// disruptions; the example Redis (kubernetes/redis.yaml) is the one the
// workloads' OTPGATE_REDIS_URL reaches, keeps what it is told, lets
// otpgate's ACL user at its keys and nobody in without a password, and
// admits otpgate's pods.

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// replicasProblem says what is wrong with w's replica count for its store,
// or "" when nothing is.
func replicasProblem(t *testing.T, w *workload) string {
	t.Helper()
	replicas := int32(1) // Kubernetes' default
	if r := w.dep.Spec.Replicas; r != nil {
		replicas = *r
	}
	if store := w.setting(t, "OTPGATE_STORE"); replicas > 1 && store != "redis" {
		return fmt.Sprintf("replicas: got %d with OTPGATE_STORE=%s, want 1, or OTPGATE_STORE=redis: "+
			"each replica would keep its own pending sign-ins, limits and sign-outs", replicas, store)
	}
	return ""
}

// TestReplicasRule checks the rule the manifests and the chart are held
// to on the forward-auth manifest and on variations of it.
func TestReplicasRule(t *testing.T) {
	c := loadCluster(t)
	var base *workload
	for _, w := range c.workloads {
		if id(w.dep) == "otpgate/otpgate" {
			base = w
		}
	}
	if base == nil {
		t.Fatalf("%s: got no Deployment otpgate/otpgate, want forward-auth.yaml's", c.from)
	}
	variant := func(replicas *int32, store string) *workload {
		w := *base
		dep := *base.dep
		dep.Spec.Replicas = replicas
		w.dep = &dep
		w.env = map[string]string{}
		for k, v := range base.env {
			w.env[k] = v
		}
		if store == "" {
			delete(w.env, "OTPGATE_STORE")
		} else {
			w.env["OTPGATE_STORE"] = store
		}
		return &w
	}
	n := func(i int32) *int32 { return &i }
	cases := []struct {
		name    string
		w       *workload
		problem string // "" for none, else a part of it
	}{
		{"as shipped", base, ""},
		{"two replicas, memory store", variant(n(2), "memory"), "replicas: got 2 with OTPGATE_STORE=memory, want 1"},
		{"two replicas, store left to its default", variant(n(2), ""), "replicas: got 2 with OTPGATE_STORE=" + configDefault(t, "OTPGATE_STORE")},
		{"one replica, memory store", variant(n(1), "memory"), ""},
		{"replicas unset, memory store", variant(nil, "memory"), ""},
		{"three replicas, redis store", variant(n(3), "redis"), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := replicasProblem(t, tc.w)
			switch {
			case tc.problem == "" && got != "":
				t.Errorf("got %q, want no problem", got)
			case tc.problem != "" && !strings.Contains(got, tc.problem):
				t.Errorf("got %q, want a problem containing %q", got, tc.problem)
			}
		})
	}
	if got := *base.dep.Spec.Replicas; got < 2 {
		t.Errorf("%s: replicas: got %d, want at least 2 (the example of several replicas)", base, got)
	}
}

// TestSeveralReplicasSpreadAndBudget checks that every manifest workload
// with more than one replica has a PodDisruptionBudget and a topology
// spread over nodes, both selecting its pods.
func TestSeveralReplicasSpreadAndBudget(t *testing.T) {
	c := loadCluster(t)
	several := 0
	for _, w := range c.workloads {
		if r := w.dep.Spec.Replicas; r == nil || *r < 2 {
			continue
		}
		several++
		t.Run(id(w.dep), func(t *testing.T) {
			labels := w.dep.Spec.Template.Labels
			budget := false
			for _, pdb := range objects[policyv1.PodDisruptionBudget](c) {
				if pdb.obj.Namespace == w.dep.Namespace && pdb.obj.Spec.Selector != nil && selects(pdb.obj.Spec.Selector.MatchLabels, labels) {
					budget = true
					if m := pdb.obj.Spec.MaxUnavailable; m != nil && m.Type == intstr.Int && m.IntVal >= *w.dep.Spec.Replicas {
						t.Errorf("%s: maxUnavailable: got %d, want less than the %d replicas", pdb.doc, m.IntVal, *w.dep.Spec.Replicas)
					}
				}
			}
			if !budget {
				t.Errorf("%s: got no PodDisruptionBudget selecting its pods, want one (a drain could take every replica at once)", w)
			}
			var keys []string
			for _, tsc := range w.pod.TopologySpreadConstraints {
				if tsc.LabelSelector != nil && selects(tsc.LabelSelector.MatchLabels, labels) {
					keys = append(keys, tsc.TopologyKey)
				}
			}
			if !slices.Contains(keys, corev1.LabelHostname) {
				t.Errorf("%s: topologySpreadConstraints over its pods: got keys %q, want %q (replicas on one node fall together)", w, keys, corev1.LabelHostname)
			}
		})
	}
	if several == 0 {
		t.Errorf("%s: got no Deployment with more than one replica, want the examples of several", c.from)
	}
}

// redisServer is a StatefulSet of these files running redis-server or
// valkey-server, with its parsed configuration.
type redisServer struct {
	set  typed[appsv1.StatefulSet]
	ctr  *corev1.Container
	conf map[string][]string // directive -> arguments of its last line
	acl  []string            // the ACL file's lines, from a Secret in these files
}

func (s *redisServer) String() string { return s.set.doc.String() }

// TestRedisManifest checks the example Redis and every otpgate workload
// whose OTPGATE_REDIS_URL names its Service.
func TestRedisManifest(t *testing.T) {
	c := loadCluster(t)
	servers := redisServers(t, c)
	if len(servers) == 0 {
		t.Fatalf("%s: got no Redis StatefulSet, want redis.yaml's", c.from)
	}
	for _, s := range servers {
		t.Run(id(s.set.doc.obj), func(t *testing.T) { checkRedisServer(t, c, s) })
	}
	clients := 0
	for _, w := range c.workloads {
		raw := w.env["OTPGATE_REDIS_URL"]
		if w.setting(t, "OTPGATE_STORE") != "redis" || raw == "" {
			continue
		}
		t.Run(id(w.dep)+"/client", func(t *testing.T) {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%s: OTPGATE_REDIS_URL %q: %v", w, raw, err)
			}
			labels := strings.Split(strings.TrimSuffix(u.Hostname(), ".cluster.local"), ".")
			svcName, svcNS := labels[0], w.dep.Namespace
			if len(labels) > 1 {
				svcNS = labels[1]
			}
			svc := find[corev1.Service](c, svcNS, svcName)
			if svc == nil {
				return // an existing Redis outside these files
			}
			clients++
			var server *redisServer
			for _, s := range servers {
				if s.set.obj.Namespace == svcNS && selects(svc.obj.Spec.Selector, s.set.obj.Spec.Template.Labels) {
					server = s
				}
			}
			if server == nil {
				t.Fatalf("%s: OTPGATE_REDIS_URL %q: Service %s selects no Redis StatefulSet in these files, want redis.yaml's", w, raw, id(svc.obj))
			}
			checkRedisClient(t, c, w, u, svc, server)
		})
	}
	if clients == 0 {
		t.Errorf("%s: got no otpgate workload using the example Redis, want forward-auth.yaml and sidecar.yaml", c.from)
	}
}

func redisServers(t *testing.T, c *cluster) []*redisServer {
	t.Helper()
	var out []*redisServer
	for _, set := range objects[appsv1.StatefulSet](c) {
		pod := &set.obj.Spec.Template.Spec
		for i := range pod.Containers {
			ctr := &pod.Containers[i]
			args := slices.Concat(ctr.Command, ctr.Args)
			if len(args) < 2 || !slices.Contains([]string{"redis-server", "valkey-server"}, path.Base(args[0])) {
				continue
			}
			s := &redisServer{set: set, ctr: ctr, conf: map[string][]string{}}
			text, ok := podFile(c, set.obj.Namespace, pod, ctr, args[1])
			if !ok {
				t.Fatalf("%s: container %q reads %s: got no ConfigMap mounted there, want the configuration in these files", set.doc, ctr.Name, args[1])
			}
			for _, line := range strings.Split(text, "\n") {
				if f := strings.Fields(line); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
					s.conf[strings.ToLower(f[0])] = f[1:]
				}
			}
			if acl := s.conf["aclfile"]; len(acl) == 1 {
				text, ok := podFile(c, set.obj.Namespace, pod, ctr, acl[0])
				if !ok {
					t.Fatalf("%s: aclfile %s: got no Secret in these files mounted there, want one", set.doc, acl[0])
				}
				s.acl = strings.Split(strings.TrimSpace(text), "\n")
			}
			out = append(out, s)
		}
	}
	return out
}

// podFile returns the content of file in ctr when a ConfigMap or Secret of
// these files, mounted as a directory, holds it.
func podFile(c *cluster, namespace string, pod *corev1.PodSpec, ctr *corev1.Container, file string) (string, bool) {
	for _, m := range ctr.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if m.SubPath != "" || !strings.HasPrefix(file, dir) {
			continue
		}
		key := strings.TrimPrefix(file, dir)
		for _, v := range pod.Volumes {
			switch {
			case v.Name != m.Name:
			case v.ConfigMap != nil:
				if cm := find[corev1.ConfigMap](c, namespace, v.ConfigMap.Name); cm != nil {
					s, ok := cm.obj.Data[key]
					return s, ok
				}
			case v.Secret != nil:
				if sec := find[corev1.Secret](c, namespace, v.Secret.SecretName); sec != nil {
					if s, ok := sec.obj.StringData[key]; ok {
						return s, true
					}
					b, ok := sec.obj.Data[key]
					return string(b), ok
				}
			}
		}
	}
	return "", false
}

func checkRedisServer(t *testing.T, c *cluster, s *redisServer) {
	want := map[string]string{
		// A restart keeps lockouts and sign-outs.
		"appendonly": "yes",
		// Full is refused (otpgate fails closed), never forgotten.
		"maxmemory-policy": "noeviction",
	}
	for name, v := range want {
		if got := strings.Join(s.conf[name], " "); got != v {
			t.Errorf("%s: %s: got %q, want %q", s, name, got, v)
		}
	}
	if _, ok := s.conf["requirepass"]; ok {
		t.Errorf("%s: requirepass: got one, want none (passwords are in the ACL file, from a Secret)", s)
	}
	// The data directory is the claimed volume.
	dir := strings.Join(s.conf["dir"], " ")
	var claims []string
	for _, pvc := range s.set.obj.Spec.VolumeClaimTemplates {
		claims = append(claims, pvc.Name)
	}
	persisted := false
	for _, m := range s.ctr.VolumeMounts {
		persisted = persisted || (slices.Contains(claims, m.Name) && path.Clean(m.MountPath) == path.Clean(dir))
	}
	if !persisted {
		t.Errorf("%s: dir %q: got no volumeClaimTemplate mounted there (claims %q), want the append-only file on a persistent volume", s, dir, claims)
	}
	// Nobody in without a password.
	if len(s.acl) == 0 {
		t.Errorf("%s: aclfile: got none, want ACL users from a Secret", s)
	}
	for _, line := range s.acl {
		if slices.Contains(strings.Fields(line), "nopass") {
			t.Errorf("%s: ACL %q: got nopass, want every user behind a password", s, line)
		}
	}
	// Locked down.
	sc, psc := s.ctr.SecurityContext, s.set.obj.Spec.Template.Spec.SecurityContext
	var drop []corev1.Capability
	if sc != nil && sc.Capabilities != nil {
		drop = sc.Capabilities.Drop
	}
	nonRoot := (sc != nil && boolIs(sc.RunAsNonRoot, true)) || (psc != nil && boolIs(psc.RunAsNonRoot, true))
	if sc == nil || !nonRoot || !boolIs(sc.ReadOnlyRootFilesystem, true) || !boolIs(sc.AllowPrivilegeEscalation, false) || !slices.Contains(drop, "ALL") {
		t.Errorf("%s: container %q: got securityContext %+v (pod %+v), want runAsNonRoot, readOnlyRootFilesystem, allowPrivilegeEscalation false, capabilities.drop ALL", s, s.ctr.Name, sc, psc)
	}
	if !boolIs(s.set.obj.Spec.Template.Spec.EnableServiceLinks, false) {
		t.Errorf("%s: enableServiceLinks: got %s, want false", s, show(s.set.obj.Spec.Template.Spec.EnableServiceLinks))
	}
}

func checkRedisClient(t *testing.T, c *cluster, w *workload, u *url.URL, svc *typed[corev1.Service], s *redisServer) {
	// The URL's port reaches the server's port.
	port := 6379
	if p := u.Port(); p != "" {
		port, _ = strconv.Atoi(p)
	}
	confPort := 6379
	if p := s.conf["port"]; len(p) == 1 {
		confPort, _ = strconv.Atoi(p[0])
	}
	reached := false
	for _, sp := range svc.obj.Spec.Ports {
		if int(sp.Port) != port {
			continue
		}
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port)
		}
		cp, ok := resolvePort(s.ctr, target)
		reached = ok && cp == confPort
	}
	if !reached {
		t.Errorf("%s: OTPGATE_REDIS_URL %q: got no port of Service %s leading to the server's port %d, want one", w, u, id(svc.obj), confPort)
	}
	if u.Scheme != "redis" && u.Scheme != "valkey" && len(s.conf["tls-port"]) == 0 {
		t.Errorf("%s: OTPGATE_REDIS_URL %q: got TLS, but %s serves no tls-port", w, u, s)
	}
	// Its ACL user may use its keys, and has a password to give.
	user, prefix := w.setting(t, "OTPGATE_REDIS_USERNAME"), w.setting(t, "OTPGATE_REDIS_KEY_PREFIX")
	var rule []string
	for _, line := range s.acl {
		if f := strings.Fields(line); len(f) > 2 && f[0] == "user" && f[1] == user {
			rule = f[2:]
		}
	}
	keys := false
	for _, r := range rule {
		if pattern, ok := strings.CutPrefix(r, "~"); ok {
			m, _ := path.Match(pattern, prefix+"revoked:1")
			keys = keys || m
		}
	}
	if !slices.Contains(rule, "on") || !keys {
		t.Errorf("%s: ACL user %q (OTPGATE_REDIS_USERNAME) with key prefix %q: got rule %q in %s, want the user on and a ~pattern matching the prefix", w, user, prefix, rule, s)
	}
	if w.env["OTPGATE_REDIS_PASSWORD_FILE"] == "" {
		t.Errorf("%s: OTPGATE_REDIS_PASSWORD_FILE: got none, want the ACL user's password as a file", w)
	}
	// The server's NetworkPolicies admit the workload's pods.
	podLabels := w.dep.Spec.Template.Labels
	for _, typedNP := range objects[networkingv1.NetworkPolicy](c) {
		np := typedNP.obj
		if np.Namespace != s.set.obj.Namespace || !selects(np.Spec.PodSelector.MatchLabels, s.set.obj.Spec.Template.Labels) {
			continue
		}
		admitted := false
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				sameNS := w.dep.Namespace == svc.obj.Namespace
				anyNS := peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels) == 0 && len(peer.NamespaceSelector.MatchExpressions) == 0
				admitted = admitted || (peer.PodSelector != nil && selects(peer.PodSelector.MatchLabels, podLabels) && (anyNS || (sameNS && peer.NamespaceSelector == nil)))
			}
		}
		if !admitted {
			t.Errorf("%s: NetworkPolicy %s admits none of its pods (labels %v), want them in (or otpgate cannot reach Redis)", w, id(np), podLabels)
		}
	}
}
