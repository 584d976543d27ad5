package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Active Directory's account data that otpgate reads before binding
// (MS-ADTS 2.2.16, 3.1.1.4.5).
const (
	adUACAttribute         = "userAccountControl"
	adLockoutTimeAttribute = "lockoutTime"
	uacAccountDisable      = 0x2
)

// ADLockoutPolicy is the domain's account lockout policy, from the
// domain object's lockoutThreshold, lockOutObservationWindow and
// lockoutDuration.
type ADLockoutPolicy struct {
	Threshold int // wrong passwords that lock an account; 0: AD never locks
	// ObservationWindow: AD forgets an account's wrong passwords after
	// this long without one.
	ObservationWindow time.Duration
	// Duration is how long AD's lock holds; 0: until an administrator
	// unlocks the account.
	Duration time.Duration
}

// ErrNotActiveDirectory says the directory has no AD domain object.
var ErrNotActiveDirectory = errors.New("the directory is not Active Directory (no defaultNamingContext with a lockout policy)")

// ADLockoutPolicy reads the domain's lockout policy as the service
// account: the rootDSE's defaultNamingContext, then its policy
// attributes. It wraps ErrNotActiveDirectory when the directory has
// none, as OpenLDAP has not.
func (d *LDAP) ADLockoutPolicy(ctx context.Context) (ADLockoutPolicy, error) {
	var p ADLockoutPolicy
	err := d.asService(ctx, func(c serviceConn) error {
		var err error
		p, err = d.adLockoutPolicy(ctx, c)
		return err
	})
	return p, err
}

func (d *LDAP) adLockoutPolicy(ctx context.Context, conn serviceConn) (ADLockoutPolicy, error) {
	root, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, d.timeLimit, false, "(objectClass=*)", []string{"defaultNamingContext"}, nil))
	if err != nil {
		return ADLockoutPolicy{}, d.refusedOrUnavailable(ctx, "ldap read rootDSE", err)
	}
	var domain string
	if len(root.Entries) == 1 {
		domain = root.Entries[0].GetEqualFoldAttributeValue("defaultNamingContext")
	}
	if domain == "" {
		return ADLockoutPolicy{}, ErrNotActiveDirectory
	}
	attrs := []string{"lockoutThreshold", "lockOutObservationWindow", "lockoutDuration"}
	res, err := conn.Search(ldap.NewSearchRequest(domain, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, d.timeLimit, false, "(objectClass=*)", attrs, nil))
	if err != nil {
		return ADLockoutPolicy{}, d.refusedOrUnavailable(ctx, fmt.Sprintf("ldap read the lockout policy of %q", domain), err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetEqualFoldAttributeValue("lockoutThreshold") == "" {
		return ADLockoutPolicy{}, fmt.Errorf("%w: %q has no lockoutThreshold", ErrNotActiveDirectory, domain)
	}
	e := res.Entries[0]
	var p ADLockoutPolicy
	if p.Threshold, err = strconv.Atoi(e.GetEqualFoldAttributeValue("lockoutThreshold")); err != nil {
		return ADLockoutPolicy{}, fmt.Errorf("lockoutThreshold of %q: %w", domain, err)
	}
	if p.ObservationWindow, err = adInterval(e.GetEqualFoldAttributeValue("lockOutObservationWindow")); err != nil {
		return ADLockoutPolicy{}, fmt.Errorf("lockOutObservationWindow of %q: %w", domain, err)
	}
	if p.Duration, err = adInterval(e.GetEqualFoldAttributeValue("lockoutDuration")); err != nil {
		return ADLockoutPolicy{}, fmt.Errorf("lockoutDuration of %q: %w", domain, err)
	}
	return p, nil
}

// adInterval reads AD's intervals: negative counts of 100 ns; 0, empty
// or the least int64 ("never") are 0.
func adInterval(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	switch {
	case err != nil:
		return 0, err
	case n == math.MinInt64 || n == 0:
		return 0, nil
	case n > 0:
		return 0, fmt.Errorf("%d: want a negative interval", n)
	case n < -(math.MaxInt64 / 100):
		return math.MaxInt64, nil
	}
	return time.Duration(-n) * 100, nil
}

// fileTimeEpoch is 1601-01-01, where AD's FILETIMEs count from.
var fileTimeEpoch = time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)

// adFileTime reads a FILETIME (100 ns since 1601); 0 or empty: zero time.
func adFileTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, fmt.Errorf("%q is not a FILETIME", v)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	// In two steps: 100 ns units since 1601 overflow a Duration.
	const perDay = 24 * 60 * 60 * 1e7
	return fileTimeEpoch.AddDate(0, 0, int(n/perDay)).Add(time.Duration(n%perDay) * 100), nil
}

// unusableInDirectory returns an *UnprovenStateError when AD's data says
// the entry is disabled (userAccountControl ACCOUNTDISABLE) or locked
// (lockoutTime within the domain's lockoutDuration), so that its password
// is never tried and AD's count of wrong passwords never grows for it.
// Entries without these attributes (not AD) pass.
func (d *LDAP) unusableInDirectory(ctx context.Context, conn serviceConn, entry *ldap.Entry) error {
	if v := entry.GetEqualFoldAttributeValue(adUACAttribute); v != "" {
		uac, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err == nil && uac&uacAccountDisable != 0 {
			return &UnprovenStateError{State: AccountDisabled, Detail: fmt.Sprintf("%q: userAccountControl %s has ACCOUNTDISABLE", entry.DN, v)}
		}
	}
	v := entry.GetEqualFoldAttributeValue(adLockoutTimeAttribute)
	at, err := adFileTime(v)
	if err != nil || at.IsZero() {
		// Unreadable: let AD decide at the bind.
		return nil
	}
	p, err := d.adLockoutPolicy(ctx, conn)
	switch {
	case errors.Is(err, ErrNotActiveDirectory):
		return nil // not AD's lockoutTime: the bind decides
	case err != nil:
		return fmt.Errorf("%q has lockoutTime %s: %w", entry.DN, v, err)
	}
	if p.Duration == 0 || time.Now().Before(at.Add(p.Duration)) {
		until := "until an administrator unlocks it"
		if p.Duration != 0 {
			until = "until " + at.Add(p.Duration).UTC().Format(time.RFC3339)
		}
		return &UnprovenStateError{State: AccountLockedInDir, Detail: fmt.Sprintf("%q: locked by AD at %s (lockoutTime), %s",
			entry.DN, at.UTC().Format(time.RFC3339), until)}
	}
	return nil
}
