package deploy

// Traefik's configuration has no types in k8s.io/api, so these structs
// model it: its Kubernetes CRDs (traefik.io/v1alpha1 Middleware and
// IngressRoute) and its file provider's static and dynamic configuration.
// Field names follow Traefik v3's documentation. They are decoded strictly
// like the Kubernetes objects, so a field missing here fails the tests: a
// misspelling is to be fixed in the file, an option Traefik has and these
// structs lack is to be added here.

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// forwardAuth is Traefik's forwardAuth middleware, in a Middleware CRD and
// in the file provider alike.
type forwardAuth struct {
	Address                  string   `json:"address"`
	TrustForwardHeader       *bool    `json:"trustForwardHeader,omitempty"`
	AuthResponseHeaders      []string `json:"authResponseHeaders,omitempty"`
	AuthResponseHeadersRegex string   `json:"authResponseHeadersRegex,omitempty"`
	AuthRequestHeaders       []string `json:"authRequestHeaders,omitempty"`
	AddAuthCookiesToResponse []string `json:"addAuthCookiesToResponse,omitempty"`
	HeaderField              string   `json:"headerField,omitempty"`
	ForwardBody              *bool    `json:"forwardBody,omitempty"`
	MaxBodySize              *int64   `json:"maxBodySize,omitempty"`
	MaxResponseBodySize      *int64   `json:"maxResponseBodySize,omitempty"`
	PreserveLocationHeader   *bool    `json:"preserveLocationHeader,omitempty"`
	PreserveRequestMethod    *bool    `json:"preserveRequestMethod,omitempty"`
}

// traefikMiddleware is the Middleware CRD; only forwardAuth is modelled.
type traefikMiddleware struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ForwardAuth *forwardAuth `json:"forwardAuth,omitempty"`
	} `json:"spec"`
}

// traefikIngressRoute is the IngressRoute CRD.
type traefikIngressRoute struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		EntryPoints []string       `json:"entryPoints,omitempty"`
		Routes      []traefikRoute `json:"routes"`
		TLS         *struct {
			SecretName   string         `json:"secretName,omitempty"`
			CertResolver string         `json:"certResolver,omitempty"`
			Options      *traefikObjRef `json:"options,omitempty"`
			Domains      []struct {
				Main string   `json:"main,omitempty"`
				SANs []string `json:"sans,omitempty"`
			} `json:"domains,omitempty"`
		} `json:"tls,omitempty"`
	} `json:"spec"`
}

type traefikRoute struct {
	Match       string          `json:"match"`
	Kind        string          `json:"kind,omitempty"`
	Priority    int             `json:"priority,omitempty"`
	Middlewares []traefikObjRef `json:"middlewares,omitempty"`
	Services    []struct {
		Name           string             `json:"name"`
		Namespace      string             `json:"namespace,omitempty"`
		Kind           string             `json:"kind,omitempty"`
		Port           intstr.IntOrString `json:"port,omitempty"`
		Scheme         string             `json:"scheme,omitempty"`
		PassHostHeader *bool              `json:"passHostHeader,omitempty"`
	} `json:"services,omitempty"`
}

type traefikObjRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// traefikStatic is the static configuration (traefik.yml).
type traefikStatic struct {
	EntryPoints map[string]traefikEntryPoint `json:"entryPoints"`
	Providers   struct {
		File *struct {
			Filename  string `json:"filename,omitempty"`
			Directory string `json:"directory,omitempty"`
			Watch     *bool  `json:"watch,omitempty"`
		} `json:"file,omitempty"`
	} `json:"providers"`
	Log *struct {
		Level    string `json:"level,omitempty"`
		Format   string `json:"format,omitempty"`
		FilePath string `json:"filePath,omitempty"`
	} `json:"log,omitempty"`
	AccessLog *struct {
		FilePath string `json:"filePath,omitempty"`
		Format   string `json:"format,omitempty"`
	} `json:"accessLog,omitempty"`
}

type traefikEntryPoint struct {
	Address string `json:"address"`
	HTTP    struct {
		Redirections *struct {
			EntryPoint *struct {
				To        string `json:"to"`
				Scheme    string `json:"scheme,omitempty"`
				Permanent *bool  `json:"permanent,omitempty"`
				Priority  int    `json:"priority,omitempty"`
			} `json:"entryPoint,omitempty"`
		} `json:"redirections,omitempty"`
		Middlewares          []string `json:"middlewares,omitempty"`
		AliasHeadersStrategy string   `json:"aliasHeadersStrategy,omitempty"`
		TLS                  *struct {
			CertResolver string `json:"certResolver,omitempty"`
			Options      string `json:"options,omitempty"`
		} `json:"tls,omitempty"`
	} `json:"http"`
	ForwardedHeaders *trustedIPs `json:"forwardedHeaders,omitempty"`
	ProxyProtocol    *trustedIPs `json:"proxyProtocol,omitempty"`
}

type trustedIPs struct {
	TrustedIPs []string `json:"trustedIPs,omitempty"`
	Insecure   bool     `json:"insecure,omitempty"`
}

// traefikDynamic is the file provider's dynamic configuration (dynamic.yml).
type traefikDynamic struct {
	HTTP struct {
		Routers     map[string]traefikRouter `json:"routers"`
		Middlewares map[string]struct {
			ForwardAuth *forwardAuth `json:"forwardAuth,omitempty"`
		} `json:"middlewares"`
		Services map[string]struct {
			LoadBalancer *struct {
				Servers []struct {
					URL string `json:"url"`
				} `json:"servers"`
				PassHostHeader *bool `json:"passHostHeader,omitempty"`
			} `json:"loadBalancer,omitempty"`
		} `json:"services"`
	} `json:"http"`
	TLS *struct {
		Certificates []struct {
			CertFile string   `json:"certFile"`
			KeyFile  string   `json:"keyFile"`
			Stores   []string `json:"stores,omitempty"`
		} `json:"certificates,omitempty"`
	} `json:"tls,omitempty"`
}

type traefikRouter struct {
	Rule        string   `json:"rule"`
	EntryPoints []string `json:"entryPoints,omitempty"`
	Middlewares []string `json:"middlewares,omitempty"`
	Service     string   `json:"service"`
	Priority    int      `json:"priority,omitempty"`
	TLS         *struct {
		CertResolver string `json:"certResolver,omitempty"`
		Options      string `json:"options,omitempty"`
	} `json:"tls,omitempty"`
}
