package sambatest_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/otpgate/otpgate/auth"
	"github.com/otpgate/otpgate/auth/sambatest"
)

// read returns the values of attr of the entry dn as conn sees them.
func read(t *testing.T, conn *ldap.Conn, dn, attr string) []string {
	t.Helper()
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 10, false, "(objectClass=*)", []string{attr}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s of %q: %v", attr, dn, err)
	}
	return res.Entries[0].GetEqualFoldAttributeValues(attr)
}

// TestBackupCodeSchemaConfidential loads auth.BackupCodeSchemaAD into the
// DC as the README says, stores two hashes in alice's entry (no
// objectClass added: otpgateUser is an auxiliary class of user), and
// checks that the attribute is confidential: bob, an ordinary
// authenticated user, reads none of them, nor does the service account
// until it has the README's grant (RP, WP, CR on the attribute), with
// which it reads them and removes one; bob may not write them.
func TestBackupCodeSchemaConfidential(t *testing.T) {
	dc := sambatest.Start(t, sambatest.WithSchema(auth.BackupCodeSchemaAD))
	schemaDN := "CN=otpgate-Backup-Code,CN=Schema,CN=Configuration," + sambatest.BaseDN
	if got := dc.Attr(t, schemaDN, "searchFlags"); !slices.Equal(got, []string{"128"}) {
		t.Errorf("searchFlags of otpgateBackupCode: %q, want 128 (confidential)", got)
	}
	if got := dc.Attr(t, "CN=User,CN=Schema,CN=Configuration,"+sambatest.BaseDN, "auxiliaryClass"); !slices.Contains(got, auth.BackupCodeObjectClass) {
		t.Errorf("auxiliaryClass of user: %q, want it to include %s", got, auth.BackupCodeObjectClass)
	}

	alice, bob := sambatest.Alice, sambatest.Bob
	hashes := []string{"$2a$10$abcdefghijklmnopqrstuuKzNu1Hn6nQ0HbK5QvkQq0E2pG3mJ5Xy", "$2a$10$ABCDEFGHIJKLMNOPQRSTUUKzNu1Hn6nQ0HbK5QvkQq0E2pG3mJ5Xy"}
	m := ldap.NewModifyRequest(alice.DN, nil)
	m.Replace(auth.BackupCodeAttribute, hashes)
	if err := dc.Conn(t).Modify(m); err != nil {
		t.Fatalf("store alice's hashes as the Administrator: %v", err)
	}
	if got := dc.Attr(t, alice.DN, auth.BackupCodeAttribute); len(got) != 2 {
		t.Fatalf("the Administrator reads %d of alice's hashes, want 2", len(got))
	}

	bobConn := dc.ConnAs(t, bob.DN, bob.Password)
	if got := read(t, bobConn, alice.DN, auth.BackupCodeAttribute); len(got) != 0 {
		t.Errorf("bob reads alice's hashes %q: the attribute is not confidential", got)
	}
	if got := read(t, bobConn, alice.DN, "mobile"); !slices.Equal(got, []string{alice.Mobile}) {
		t.Errorf("bob reads alice's mobile as %q, want %q: the search itself failed", got, alice.Mobile)
	}
	svc := dc.ConnAs(t, sambatest.ServiceDN, sambatest.ServicePassword)
	if got := read(t, svc, alice.DN, auth.BackupCodeAttribute); len(got) != 0 {
		t.Errorf("the service account reads alice's hashes %q without the grant", got)
	}

	dc.GrantServiceReadWrite(t, auth.BackupCodeAttributeGUIDAD)
	svc = dc.ConnAs(t, sambatest.ServiceDN, sambatest.ServicePassword)
	got := read(t, svc, alice.DN, auth.BackupCodeAttribute)
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(hashes))) {
		t.Fatalf("the service account with the grant reads %q, want %q", got, hashes)
	}
	// Values are compared case-exactly: the second differs from the
	// first only in case, and only it goes.
	m = ldap.NewModifyRequest(alice.DN, nil)
	m.Delete(auth.BackupCodeAttribute, hashes[1:])
	if err := svc.Modify(m); err != nil {
		t.Fatalf("the service account with the grant removes a hash: %v", err)
	}
	if got := read(t, svc, alice.DN, auth.BackupCodeAttribute); !slices.Equal(got, hashes[:1]) {
		t.Errorf("after removing the second hash: %q, want %q", got, hashes[:1])
	}
	if got := read(t, bobConn, alice.DN, auth.BackupCodeAttribute); len(got) != 0 {
		t.Errorf("bob reads alice's hashes %q after the grant to the service account", got)
	}
	m = ldap.NewModifyRequest(alice.DN, nil)
	m.Replace(auth.BackupCodeAttribute, []string{"$2a$10$bob"})
	if err := bobConn.Modify(m); err == nil || !strings.Contains(err.Error(), "Insufficient Access Rights") {
		t.Errorf("bob writes alice's hashes: %v, want Insufficient Access Rights", err)
	}
}
