package auth

import (
	"context"
	"fmt"

	"github.com/go-ldap/ldap/v3"
)

// Check asks the directory what sign-in needs before any user comes: a
// connection, the service account's bind, and a search of the base DN
// (which must exist and be readable by the service account). It is for
// `otpgate validate`; errors wrap ErrDirectoryUnavailable and name no
// password.
func (d *LDAP) Check(ctx context.Context) error {
	return d.asService(ctx, func(c serviceConn) error {
		req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, d.timeLimit, false,
			"(objectClass=*)", []string{"1.1"}, nil)
		if _, err := c.Search(req); err != nil {
			return fmt.Errorf("%w: search base DN %q: %w", ErrDirectoryUnavailable, d.cfg.BaseDN, err)
		}
		return nil
	})
}
