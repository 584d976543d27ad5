package deploy

import (
	"cmp"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// excludesAuthz reports whether a Traefik rule keeps otpgate's authz
// endpoints, which only the proxy may ask, off a public route.
func excludesAuthz(rule, prefix string) bool {
	return strings.Contains(rule, "!PathPrefix(`"+prefix+"authz/`)")
}

// checkForwardAuth checks a forwardAuth middleware's settings.
func checkForwardAuth(t *testing.T, where string, fa *forwardAuth, prefix, cookie string) {
	t.Helper()
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

// TestTraefikCRDs checks the Middleware's forwardAuth against the otpgate
// it points at, and that IngressRoutes use it and reach otpgate's port.
func TestTraefikCRDs(t *testing.T) { checkTraefikCRDs(t, loadCluster(t), true) }

// checkTraefikCRDs checks c's Traefik objects; wantMiddleware: c must hold
// a forwardAuth Middleware.
func checkTraefikCRDs(t *testing.T, c *cluster, wantMiddleware bool) {
	middlewares := map[string]bool{} // namespace/name of forwardAuth Middlewares
	for _, m := range objects[traefikMiddleware](c) {
		fa := m.obj.Spec.ForwardAuth
		if fa == nil {
			continue
		}
		middlewares[id(m.obj)] = true
		t.Run(id(m.obj), func(t *testing.T) {
			w, cp, problem := c.otpgateURL(m.obj.Namespace, fa.Address)
			if problem != "" {
				t.Fatalf("%s: forwardAuth.address: %s", m.doc, problem)
			}
			if cp != w.listenPort {
				t.Errorf("%s: forwardAuth.address port: got container port %d, want otpgate's listen port %d", m.doc, cp, w.listenPort)
			}
			name := w.setting(t, "OTPGATE_COOKIE_NAME")
			if w.env["OTPGATE_COOKIE_DOMAIN"] != "" {
				name = "__Secure-" + name
			} else {
				name = "__Host-" + name
			}
			checkForwardAuth(t, m.doc.String(), fa, w.prefix, name)
		})
	}
	if wantMiddleware && len(middlewares) == 0 {
		t.Errorf("%s: got no Traefik Middleware with forwardAuth, want one", c.from)
	}
	for _, ir := range objects[traefikIngressRoute](c) {
		d := ir.doc
		for _, r := range ir.obj.Spec.Routes {
			for _, m := range r.Middlewares {
				ns := cmp.Or(m.Namespace, ir.obj.Namespace)
				if !middlewares[ns+"/"+m.Name] && !middlewares[m.Name] {
					t.Errorf("%s: route %q: middleware %s/%s: got no such forwardAuth Middleware in these files, want one", d, r.Match, ns, m.Name)
				}
			}
			for _, s := range r.Services {
				svc := find[corev1.Service](c, cmp.Or(s.Namespace, ir.obj.Namespace), s.Name)
				if svc == nil || c.workloadOf(svc.obj) == nil {
					continue
				}
				w, cp, problem := c.serviceTarget(svc.obj, s.Port)
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
}

// TestTraefikFileProvider decodes examples/traefik's static and dynamic
// configuration strictly and checks the forwardAuth middleware, that
// routers use it, and what they refer to exists.
func TestTraefikFileProvider(t *testing.T) {
	defaultPrefix := configDefault(t, "OTPGATE_PATH_PREFIX")
	cookie := "__Secure-" + configDefault(t, "OTPGATE_COOKIE_NAME")

	var static *traefikStatic
	var dynamic *traefikDynamic
	var staticDoc, dynamicDoc *doc
	for _, d := range loadFiles(t, traefikGlob) {
		var err error
		switch path.Base(d.file) {
		case "traefik.yml":
			static, staticDoc = new(traefikStatic), d
			err = decodeStrict(d, static)
		case "dynamic.yml":
			dynamic, dynamicDoc = new(traefikDynamic), d
			err = decodeStrict(d, dynamic)
		default:
			t.Errorf("%s: got a file these tests do not know, want traefik.yml or dynamic.yml", d)
		}
		if err != nil {
			t.Fatalf("got a document that does not decode strictly, want none: %v", err)
		}
	}
	if static == nil || dynamic == nil {
		t.Fatalf("examples/traefik: got static %v, dynamic %v; want traefik.yml and dynamic.yml", static != nil, dynamic != nil)
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
