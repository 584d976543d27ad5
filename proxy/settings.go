package proxy

// Settings are the proxy's OTPGATE_ variables: the app, the proxies in
// front, the access rules and the identity headers.
type Settings struct {
	UpstreamURL           string                 `split_words:"true" desc:"the app behind otpgate, e.g. http://127.0.0.1:3000; empty: forward-auth and portal only"`
	TrustedProxies        []string               `split_words:"true" default:"127.0.0.0/8,::1/128" desc:"addresses or CIDRs of the proxies in front of otpgate, whose X-Forwarded-*/X-Original-* headers are believed (name your ingress or load balancer here)"`
	Hosts                 []string               `split_words:"true" desc:"reverse-proxy mode: host names the app is served on, besides PUBLIC_URL's; other hosts get 421 (required when ACCESS_RULES name a host)"`
	AccessRules           string                 `split_words:"true" file:"true" desc:"access rules, one per line or ;-separated: HOST PATH bypass|two_factor|deny [groups=G,...]"`
	AccessRulesIgnoreCase bool                   `split_words:"true" default:"true" desc:"also judge each path in any letter case, the stricter verdict winning (for apps on servers that ignore case)"`
	IdentityHeader        IdentityHeaderSettings `split_words:"true"`
}

// IdentityHeaderSettings name the headers that carry the identity
// (OTPGATE_IDENTITY_HEADER_...).
type IdentityHeaderSettings struct {
	User      []string `split_words:"true" default:"Remote-User" desc:"request headers (comma-separated) that carry the username to the app"`
	Name      []string `split_words:"true" default:"Remote-Name" desc:"headers that carry the display name (empty: not sent)"`
	Email     []string `split_words:"true" default:"Remote-Email" desc:"headers that carry the e-mail address (empty: not sent)"`
	Groups    []string `split_words:"true" default:"Remote-Groups" desc:"headers that carry the comma-joined group names (empty: not sent)"`
	AuthLevel []string `split_words:"true" default:"Remote-Auth-Level" desc:"headers that carry 2 (password and code) or 1 (password alone) (empty: not sent)"`
}
