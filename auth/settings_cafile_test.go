package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned is a self-signed CA certificate with serial 1, as DER.
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// negativeSerial turns serial 1 into -1, as Samba's provisioned CA has
// one: Go's CreateCertificate refuses to make such a certificate, so the
// DER is edited (the signature no longer matches, which parsing does not
// check).
func negativeSerial(t *testing.T, der []byte) []byte {
	t.Helper()
	// version [0] v3, then serial INTEGER 1.
	old := []byte{0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01}
	if bytes.Count(der, old) != 1 {
		t.Fatal("serial 1 not found once in the certificate")
	}
	return bytes.Replace(der, old, []byte{0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0xff}, 1)
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// TestCAFileErrors checks that LDAP_CA_FILE's problems are told with
// their real cause, not only as "no PEM certificate".
func TestCAFileErrors(t *testing.T) {
	good := pemOf("CERTIFICATE", selfSigned(t))
	negative := pemOf("CERTIFICATE", negativeSerial(t, selfSigned(t)))
	for _, c := range []struct {
		name    string
		content []byte
		want    string // in the error; "": no error
	}{
		{"one certificate", good, ""},
		{"a key before the certificate", append(pemOf("PRIVATE KEY", []byte{1, 2, 3}), good...), ""},
		{"negative serial number", negative, "PEM block 1 is a certificate Go cannot use: x509: negative serial number"},
		{"negative serial after a good one", append(append([]byte{}, good...), negative...), "PEM block 2 is a certificate Go cannot use: x509: negative serial number"},
		{"not DER", pemOf("CERTIFICATE", []byte("not a certificate")), "PEM block 1 is a certificate Go cannot use: x509: malformed certificate"},
		{"no PEM", []byte("MIIB...\n"), "holds no PEM certificate"},
		{"only a key", pemOf("PRIVATE KEY", []byte{1, 2, 3}), "holds no PEM certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(path, c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LDAPSettings{CAFile: path}.tlsConfig()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			case c.want == "" && cfg.RootCAs == nil:
				t.Fatal("no roots")
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want one with %q", err, c.want)
			case c.want != "" && !strings.HasPrefix(err.Error(), path+": "):
				t.Fatalf("error %v does not name the file", err)
			}
		})
	}
	if _, err := (LDAPSettings{CAFile: filepath.Join(t.TempDir(), "missing.pem")}).tlsConfig(); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("missing file: %v", err)
	}
}
