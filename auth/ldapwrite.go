package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/bcrypt"
)

// Writes to the directory: the user's mobile number (enrolment) and the
// hashes of their backup codes. Each change is a single modify request,
// which LDAP servers apply entirely or not at all, so nothing is ever
// half-written. Writes as the service account use its kept connections;
// writes as the user, a user-bind connection bound for the write.

var (
	// ErrDirectoryRefused means the directory answered and said no: the
	// account otpgate bound as may not make the change (insufficient
	// access), the schema does not allow it, or the entry is gone. Trying
	// again will not help; an administrator must. It is distinct from
	// ErrDirectoryUnavailable, which may pass.
	ErrDirectoryRefused = errors.New("directory refused the request")
	// ErrBackupCodeUsed means the backup code's hash was no longer stored
	// when it was to be removed: it has been used already, possibly at the
	// same moment by another request or another otpgate.
	ErrBackupCodeUsed = errors.New("backup code already used")
)

// BindAs says whose rights a write uses.
type BindAs int

const (
	// BindService writes as the service account, for enrolment done by
	// otpgate on the user's behalf.
	BindService BindAs = iota + 1
	// BindUser writes as the user, binding as their entry with their
	// password: directories often let people change their own contact
	// details ("self write") but not the service account.
	BindUser
)

func (b BindAs) String() string {
	switch b {
	case BindService:
		return "service account"
	case BindUser:
		return "user"
	}
	return fmt.Sprintf("BindAs(%d)", int(b))
}

// The schema for backup codes, as in BackupCodeSchema.
const (
	BackupCodeAttribute   = "otpgateBackupCode"
	BackupCodeObjectClass = "otpgateUser"
)

// BackupCodeSchema is an OpenLDAP schema (.schema format, for slapd.conf's
// include) with an attribute for backup-code hashes and an auxiliary
// object class that allows it on user entries:
//
//	include /etc/ldap/schema/otpgate.schema
//
// Add the class to each user who may have backup codes (objectClass:
// otpgateUser), and let the service account write the attribute and nobody
// else read it:
//
//	access to attrs=otpgateBackupCode
//	  by dn.exact="cn=otpgate,ou=services,dc=example,dc=org" write
//	  by * none
//
// The OIDs are under 1.3.6.1.4.1.32473, the enterprise number RFC 5612
// reserves for documentation and examples: fine for a private directory,
// but an organisation with its own enterprise number may renumber them.
// Instead of this schema, any multi-valued attribute the user entries allow
// and that holds nothing else will do (LDAPConfig.BackupCodesAttribute), for
// example description on OpenLDAP's inetOrgPerson; Active Directory keeps
// description single-valued for users, so extend its schema instead.
const BackupCodeSchema = `# otpgate: hashes of unused backup sign-in codes.
# OIDs under 1.3.6.1.4.1.32473, reserved for documentation (RFC 5612).
attributetype ( 1.3.6.1.4.1.32473.1.1.1 NAME 'otpgateBackupCode'
	DESC 'otpgate: bcrypt hash of an unused backup sign-in code'
	EQUALITY caseExactIA5Match
	SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 )

objectclass ( 1.3.6.1.4.1.32473.1.2.1 NAME 'otpgateUser'
	DESC 'otpgate: a user who may have backup sign-in codes'
	SUP top AUXILIARY
	MAY otpgateBackupCode )
`

// BackupCodeSchemaAD is the Active Directory counterpart of
// BackupCodeSchema, an LDIF file for ldifde or ldapmodify: the attribute
// otpgateBackupCode (multi-valued; String(IA5), syntax 2.5.5.5, which AD
// compares case-exactly, like OpenLDAP's caseExactIA5Match, as bcrypt
// hashes need), marked confidential (searchFlags 128), so that only those
// granted control access on it may read it, not every authenticated user
// as with an ordinary attribute; the auxiliary class otpgateUser that may
// contain it; and otpgateUser added to the auxiliaryClass of user, so that
// every user entry may hold it without an objectClass of its own. Each
// step is followed by the schemaUpdateNow modify of the rootDSE that
// makes AD load the changed schema before the next one uses it.
//
// DC=X stands for the forest root domain: ldifde's -c DC=X
// "DC=example,DC=com" replaces it, or sed for ldapmodify. The schemaIDGUIDs
// are fixed (BackupCodeAttributeGUIDAD is the attribute's), so that ACLs
// naming the attribute are the same in every forest. Schema changes cannot
// be undone, only deactivated; try them on a test forest first.
const BackupCodeSchemaAD = `# otpgate: hashes of unused backup sign-in codes, for Active Directory.
# OIDs under 1.3.6.1.4.1.32473, reserved for documentation (RFC 5612).
# Replace DC=X with the forest root domain (ldifde -c DC=X DC=example,DC=com).
dn: CN=otpgate-Backup-Code,CN=Schema,CN=Configuration,DC=X
changetype: add
objectClass: top
objectClass: attributeSchema
cn: otpgate-Backup-Code
lDAPDisplayName: otpgateBackupCode
adminDescription: otpgate: bcrypt hash of an unused backup sign-in code
attributeID: 1.3.6.1.4.1.32473.1.1.1
attributeSyntax: 2.5.5.5
oMSyntax: 22
isSingleValued: FALSE
searchFlags: 128
schemaIDGUID:: TQkp1WHdqEKVj6gJBuTxsw==

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-

dn: CN=otpgate-User,CN=Schema,CN=Configuration,DC=X
changetype: add
objectClass: top
objectClass: classSchema
cn: otpgate-User
lDAPDisplayName: otpgateUser
adminDescription: otpgate: a user who may have backup sign-in codes
governsID: 1.3.6.1.4.1.32473.1.2.1
objectClassCategory: 3
subClassOf: top
mayContain: otpgateBackupCode
schemaIDGUID:: tefR+IrlKk+vGOcsQz722g==

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-

dn: CN=User,CN=Schema,CN=Configuration,DC=X
changetype: modify
add: auxiliaryClass
auxiliaryClass: otpgateUser
-

dn:
changetype: modify
add: schemaUpdateNow
schemaUpdateNow: 1
-
`

// BackupCodeAttributeGUIDAD is the schemaIDGUID of otpgateBackupCode in
// BackupCodeSchemaAD, for ACEs that grant access to it.
const BackupCodeAttributeGUIDAD = "d529094d-dd61-42a8-958f-a80906e4f1b3"

// SetMobile replaces the user's mobile attribute (LDAPConfig.MobileAttribute)
// with e164, which must be in the form ParseMobile returns. With BindUser
// it binds as the user's DN with password (the user edits their own entry;
// ACLs often allow "self write"), and a wrong password is
// ErrInvalidCredentials; with BindService it binds as the service account
// and password is not used. A directory that does not allow the write
// gives ErrDirectoryRefused.
func (d *LDAP) SetMobile(ctx context.Context, dn, e164 string, as BindAs, password string) error {
	if err := d.checkEntryDN(dn); err != nil {
		return fmt.Errorf("ldap set mobile: %w", err)
	}
	// The directory is where every later sign-in reads the number, so
	// only the canonical form goes in.
	if m, err := d.cfg.NumberTypes.ParseMobile(e164, ""); err != nil {
		return fmt.Errorf("ldap set mobile of %q: %w", dn, err)
	} else if m.E164 != e164 {
		return fmt.Errorf("ldap set mobile of %q: %w: not in E.164 form", dn, ErrInvalidMobile)
	}
	switch as {
	case BindService:
	case BindUser:
		// Before any I/O: an empty password would make an
		// unauthenticated bind, which many servers let succeed.
		if password == "" {
			return fmt.Errorf("%w: ldap set mobile of %q: empty password", ErrInvalidCredentials, dn)
		}
	default:
		return fmt.Errorf("ldap set mobile of %q: unknown %v", dn, as)
	}

	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(d.cfg.MobileAttribute, []string{e164})
	modify := func(err error) error {
		if err != nil {
			return d.refusedOrUnavailable(ctx, fmt.Sprintf("ldap modify %q as %v", dn, as), err)
		}
		return nil
	}
	if as == BindUser {
		return d.asUser(ctx, dn, password, func(c userConn) error { return modify(c.Modify(req)) })
	}
	return d.asService(ctx, func(c serviceConn) error { return modify(c.Modify(req)) })
}

// BackupCodesEnabled tells whether LDAPConfig.BackupCodesAttribute is set;
// without it the backup-code methods return errors.ErrUnsupported.
func (d *LDAP) BackupCodesEnabled() bool { return d.cfg.BackupCodesAttribute != "" }

// BackupCodeHashes returns the hashes of the user's unused backup codes,
// read as the service account; none is not an error. An ACL that hides
// the attribute from the service account looks the same as no codes:
// LDAP servers leave out what may not be read rather than refuse.
func (d *LDAP) BackupCodeHashes(ctx context.Context, dn string) ([]string, error) {
	attr, err := d.backupCodesAttr(dn)
	if err != nil {
		return nil, fmt.Errorf("ldap read backup codes: %w", err)
	}
	var hashes []string
	err = d.asService(ctx, func(c serviceConn) error {
		res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, d.timeLimit, false, "(objectClass=*)", []string{attr}, nil))
		op := fmt.Sprintf("ldap read %s of %q", attr, dn)
		switch {
		case err != nil:
			return d.refusedOrUnavailable(ctx, op, err)
		case len(res.Entries) != 1:
			// A base search finds the entry or fails with noSuchObject;
			// anything else is a server that should not be trusted.
			return fmt.Errorf("%w: %s: %d entries", ErrDirectoryRefused, op, len(res.Entries))
		}
		hashes = res.Entries[0].GetEqualFoldAttributeValues(attr)
		return nil
	})
	return hashes, err
}

// ReplaceBackupCodes replaces all of the user's backup-code hashes with
// hashes (from HashBackupCode), as the service account, in one modify:
// the old codes stop working exactly when the new ones start. No hashes
// removes them all. Values that are not bcrypt hashes are refused, so that
// codes can never be stored in the clear by mistake.
func (d *LDAP) ReplaceBackupCodes(ctx context.Context, dn string, hashes []string) error {
	attr, err := d.backupCodesAttr(dn)
	if err != nil {
		return fmt.Errorf("ldap replace backup codes: %w", err)
	}
	seen := make(map[string]bool, len(hashes))
	for i, h := range hashes {
		// LDAP refuses a value given twice, and a duplicate would make
		// one code usable twice.
		if seen[h] {
			return fmt.Errorf("ldap replace backup codes of %q: hash %d is a repeat", dn, i)
		}
		seen[h] = true
		if _, err := bcrypt.Cost([]byte(h)); err != nil {
			return fmt.Errorf("ldap replace backup codes of %q: value %d is not a bcrypt hash", dn, i)
		}
	}

	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, hashes)
	return d.asService(ctx, func(c serviceConn) error {
		if err := c.Modify(req); err != nil {
			return d.refusedOrUnavailable(ctx, fmt.Sprintf("ldap modify %q: replace %s", dn, attr), err)
		}
		return nil
	})
}

// RemoveBackupCode deletes exactly the value hash (as MatchBackupCode
// returned it), as the service account. If it is already gone, the
// directory answers noSuchAttribute and the result is ErrBackupCodeUsed:
// of several requests removing the same code, even at the same moment,
// exactly one succeeds, so a code is accepted only once. Call it before
// letting the sign-in through, and let it through only on nil. With
// several directory servers that each accept writes (multi-provider
// replication), two removals on different servers can both succeed before
// they replicate; point otpgate at one provider for strict once-only use.
func (d *LDAP) RemoveBackupCode(ctx context.Context, dn, hash string) error {
	attr, err := d.backupCodesAttr(dn)
	if err != nil {
		return fmt.Errorf("ldap remove backup code: %w", err)
	}
	if hash == "" {
		// Deleting no value would delete the whole attribute.
		return fmt.Errorf("ldap remove backup code of %q: empty hash", dn)
	}
	req := ldap.NewModifyRequest(dn, nil)
	req.Delete(attr, []string{hash})
	op := fmt.Sprintf("ldap modify %q: delete a value of %s", dn, attr)
	return d.asService(ctx, func(c serviceConn) error {
		if err := c.Modify(req); err != nil {
			if ctx.Err() == nil && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
				return fmt.Errorf("%w: %s: %w", ErrBackupCodeUsed, op, err)
			}
			return d.refusedOrUnavailable(ctx, op, err)
		}
		return nil
	})
}

// backupCodesAttr returns the configured attribute, after checking that
// the feature is on and dn names a user entry.
func (d *LDAP) backupCodesAttr(dn string) (string, error) {
	if d.cfg.BackupCodesAttribute == "" {
		return "", fmt.Errorf("no BackupCodesAttribute configured: %w", errors.ErrUnsupported)
	}
	if err := d.checkEntryDN(dn); err != nil {
		return "", err
	}
	return d.cfg.BackupCodesAttribute, nil
}

// checkEntryDN refuses, before any I/O, a DN that cannot be a user's: an
// empty one (a modify of "" would address the root DSE), one that does not
// parse, or one outside BaseDN, where Authenticate never finds users, so
// that a caller's mistake cannot make the service account write to
// another part of the directory.
func (d *LDAP) checkEntryDN(dn string) error {
	if dn == "" {
		return errors.New("empty DN")
	}
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return fmt.Errorf("%q is not a DN: %w", dn, err)
	}
	base, err := ldap.ParseDN(d.cfg.BaseDN)
	if err != nil {
		// NewLDAP checked it; this cannot happen.
		return fmt.Errorf("base DN %q: %w", d.cfg.BaseDN, err)
	}
	if !base.AncestorOfFold(parsed) {
		return fmt.Errorf("%q is not under the base DN %q", dn, d.cfg.BaseDN)
	}
	return nil
}
