package auth

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// ppolicyLockedAttribute is OpenLDAP ppolicy's lock mark. Its value
// ppolicyLockedForGood means an administrator locked the account until
// they unlock it (draft-behera-ldap-password-policy 5.3.3); any other
// value is a lock from wrong passwords, which anyone who knows the name
// can cause and which ends by itself, so it does not end sessions.
const (
	ppolicyLockedAttribute = "pwdAccountLockedTime"
	ppolicyLockedForGood   = "000001010000Z"
)

// Lookup re-reads user's entry by DN as the service account (see
// Directory). The account is disabled when AD's userAccountControl has
// ACCOUNTDISABLE, when ppolicy's pwdAccountLockedTime is the
// administrator's lock, or when the entry matches DisabledFilter.
func (d *LDAP) Lookup(ctx context.Context, user User) (User, error) {
	if user.DN == "" {
		return User{}, fmt.Errorf("%w: look up %q: the session names no entry", ErrDirectoryRefused, user.Username)
	}
	var found User
	err := d.asService(ctx, func(c serviceConn) error {
		var err error
		found, err = d.lookup(ctx, c, user)
		return err
	})
	return found, err
}

// lookup is Lookup on a connection bound as the service account.
func (d *LDAP) lookup(ctx context.Context, conn serviceConn, user User) (User, error) {
	attrs := append(slices.Clip(d.attrs), ppolicyLockedAttribute)
	res, err := conn.Search(ldap.NewSearchRequest(user.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, d.timeLimit, false, "(objectClass=*)", attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return User{}, fmt.Errorf("%w: ldap read %q: %w", ErrUserGone, user.DN, err)
	case err != nil:
		return User{}, d.unavailable(ctx, fmt.Sprintf("ldap read %q", user.DN), err)
	case len(res.Entries) != 1:
		// The entry is there but hidden from the service account: for
		// otpgate it is gone, as a search would not find it either.
		return User{}, fmt.Errorf("%w: ldap read %q: %d entries", ErrUserGone, user.DN, len(res.Entries))
	}
	entry := res.Entries[0]
	if v := entry.GetEqualFoldAttributeValue(adUACAttribute); v != "" {
		uac, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err == nil && uac&uacAccountDisable != 0 {
			return User{}, &AccountStateError{State: AccountDisabled, Detail: fmt.Sprintf("%q: userAccountControl %s has ACCOUNTDISABLE", entry.DN, v)}
		}
	}
	if v := entry.GetEqualFoldAttributeValue(ppolicyLockedAttribute); v == ppolicyLockedForGood {
		return User{}, &AccountStateError{State: AccountDisabled, Detail: fmt.Sprintf("%q: %s %s, locked by an administrator", entry.DN, ppolicyLockedAttribute, v)}
	}
	if d.cfg.DisabledFilter != "" {
		res, err := conn.Search(ldap.NewSearchRequest(user.DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, d.timeLimit, false, d.cfg.DisabledFilter, []string{"1.1"}, nil))
		if err != nil {
			return User{}, d.unavailable(ctx, fmt.Sprintf("ldap match %q against %q", user.DN, d.cfg.DisabledFilter), err)
		}
		if len(res.Entries) > 0 {
			return User{}, &AccountStateError{State: AccountDisabled, Detail: fmt.Sprintf("%q matches LDAP_DISABLED_FILTER %s", entry.DN, d.cfg.DisabledFilter)}
		}
	}
	return d.userFromEntry(ctx, conn, entry, user.Username)
}
