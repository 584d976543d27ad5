package auth

import (
	"fmt"
	"slices"
	"strings"
)

// LoginNamer is a Directory that knows the forms its users type their
// name in (Active Directory's DOMAIN\user and user@realm). The flow counts
// failures before the directory is asked against LoginName(typed), so
// that every form of one name shares one count; once the directory has
// found the entry, its DN is counted too (see Directory).
type LoginNamer interface {
	LoginName(typed string) string
}

var _ LoginNamer = (*LDAP)(nil)

// LoginName maps the forms of a name that LDAPConfig.NetBIOSDomains and
// UPNSuffixes allow to the name searched for: "EXAMPLE\alice" and
// "alice@example.test" to "alice". Any other name is returned trimmed, as
// it is searched for.
func (d *LDAP) LoginName(typed string) string {
	name, _ := d.loginName(typed)
	return name
}

// loginName is LoginName that also says whether the name may be searched
// for: a DOMAIN\ prefix naming a domain not in NetBIOSDomains (when that
// is set) makes it refused without a search.
func (d *LDAP) loginName(typed string) (string, error) {
	name := strings.TrimSpace(typed)
	if len(d.cfg.NetBIOSDomains) > 0 {
		if domain, user, ok := strings.Cut(name, `\`); ok {
			if !containsFold(d.cfg.NetBIOSDomains, domain) || strings.TrimSpace(user) == "" {
				return name, fmt.Errorf("%w: domain %q of %q is not one of LDAP_NETBIOS_DOMAINS", ErrInvalidCredentials, domain, name)
			}
			return user, nil
		}
	}
	if i := strings.LastIndexByte(name, '@'); i > 0 && containsFold(d.cfg.UPNSuffixes, name[i+1:]) {
		return name[:i], nil
	}
	return name, nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), s) })
}

// checkLoginDomains checks the NetBIOS domain names and UPN suffixes.
func checkLoginDomains(cfg LDAPConfig, bad func(field, format string, args ...any)) {
	for _, d := range cfg.NetBIOSDomains {
		if d = strings.TrimSpace(d); d == "" || strings.ContainsAny(d, `\/:*?"<>|@ `) || len(d) > 15 {
			bad("LDAP_NETBIOS_DOMAINS", "%q is not a NetBIOS domain name (at most 15 characters, no \\ / : * ? \" < > | @ or space)", d)
		}
	}
	for _, s := range cfg.UPNSuffixes {
		if s = strings.TrimSpace(s); s == "" || strings.ContainsAny(s, `@\ `) {
			bad("LDAP_UPN_SUFFIXES", "%q is not a UPN suffix such as example.com", s)
		}
	}
}
