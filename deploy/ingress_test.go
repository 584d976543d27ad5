package deploy

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// TestIngressNginx checks the ingress-nginx external-auth annotations
// and that Ingresses to otpgate use its listen port.
func TestIngressNginx(t *testing.T) { checkIngressNginx(t, loadCluster(t), true) }

// checkIngressNginx checks c's Ingresses; wantAuth: c must hold one with
// an auth-url.
func checkIngressNginx(t *testing.T, c *cluster, wantAuth bool) {
	const ann = "nginx.ingress.kubernetes.io/"
	sawAuth := false
	for _, ing := range objects[networkingv1.Ingress](c) {
		d, spec := ing.doc, &ing.obj.Spec
		t.Run(id(ing.obj), func(t *testing.T) {
			a := ing.obj.Annotations
			// Ingresses routed to otpgate (the portal) must reach its listen port.
			for _, r := range spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for _, p := range r.HTTP.Paths {
					b := p.Backend.Service
					if b == nil {
						continue
					}
					svc := find[corev1.Service](c, ing.obj.Namespace, b.Name)
					if svc == nil || c.workloadOf(svc.obj) == nil {
						continue
					}
					w, cp, problem := c.serviceTarget(svc.obj, backendPort(b.Port))
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
			w, cp, problem := c.otpgateURL(ing.obj.Namespace, authURL)
			if problem != "" {
				t.Fatalf("%s: auth-url: %s", d, problem)
			}
			u, _ := url.Parse(authURL)
			hosts := ingressHosts(spec)
			type check struct {
				name      string
				got, want string
				ok        bool
			}
			cases := []check{
				{"auth-url path", u.Path, w.prefix + authRequestPath, u.Path == w.prefix+authRequestPath},
				// ingress-nginx builds X-Original-URL from the client's Host
				// header, so the auth-url pins the host it routes by.
				{"auth-url ?host=", u.Query().Get("host"), "the Ingress's one host " + fmt.Sprint(hosts),
					len(hosts) == 1 && u.Query().Get("host") == hosts[0]},
				{"auth-url port reaches", strconv.Itoa(cp), fmt.Sprintf("otpgate's listen port %d", w.listenPort), cp == w.listenPort},
			}
			pub := strings.TrimSuffix(w.env["OTPGATE_PUBLIC_URL"], "/")
			signin := a[ann+"auth-signin"]
			wantSignin := pub + w.prefix + "signin?rd="
			cases = append(cases,
				check{"auth-signin", signin, wantSignin + "<the original URL>", pub != "" && strings.HasPrefix(signin, wantSignin) && len(signin) > len(wantSignin)},
				check{"auth-response-headers", a[ann+"auth-response-headers"], "all of " + strings.Join(identityHeaders, ","),
					len(missingHeaders(strings.Split(a[ann+"auth-response-headers"], ","))) == 0})
			for _, tc := range cases {
				if !tc.ok {
					t.Errorf("%s: %s: got %q, want %s", d, tc.name, tc.got, tc.want)
				}
			}
		})
	}
	if wantAuth && !sawAuth {
		t.Errorf("%s: got no Ingress with nginx.ingress.kubernetes.io/auth-url, want the forward-auth example", c.from)
	}
}

// ingressHosts lists the hosts an Ingress routes by.
func ingressHosts(spec *networkingv1.IngressSpec) []string {
	var hosts []string
	for _, r := range spec.Rules {
		if !slices.Contains(hosts, r.Host) {
			hosts = append(hosts, r.Host)
		}
	}
	return hosts
}
