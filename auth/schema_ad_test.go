package auth

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestBackupCodeSchemaAD checks that the README shows BackupCodeSchemaAD
// exactly (in its ldif block, indented for the list it is in), and that
// BackupCodeAttributeGUIDAD is the attribute's schemaIDGUID in it.
// (TestBackupCodeSchemaConfidential in auth/sambatest loads it into AD.)
func TestBackupCodeSchemaAD(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "  ```ldif\n")
	block, _, ok2 := strings.Cut(rest, "  ```\n")
	if !ok || !ok2 {
		t.Fatal("README has no ```ldif block")
	}
	var got strings.Builder
	for _, line := range strings.SplitAfter(block, "\n") {
		got.WriteString(strings.TrimPrefix(line, "  "))
	}
	if got.String() != BackupCodeSchemaAD {
		t.Errorf("README's ldif block differs from auth.BackupCodeSchemaAD; want:\n%s", BackupCodeSchemaAD)
	}

	_, after, _ := strings.Cut(BackupCodeSchemaAD, "lDAPDisplayName: "+BackupCodeAttribute+"\n")
	_, after, _ = strings.Cut(after, "schemaIDGUID:: ")
	b64, _, _ := strings.Cut(after, "\n")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 16 {
		t.Fatalf("schemaIDGUID of %s: %q: %v", BackupCodeAttribute, b64, err)
	}
	// AD stores a GUID's first three fields little-endian.
	for _, r := range [][2]int{{0, 4}, {4, 6}, {6, 8}} {
		for i, j := r[0], r[1]-1; i < j; i, j = i+1, j-1 {
			raw[i], raw[j] = raw[j], raw[i]
		}
	}
	if u := fmt.Sprintf("%x-%x-%x-%x-%x", raw[:4], raw[4:6], raw[6:8], raw[8:10], raw[10:]); u != BackupCodeAttributeGUIDAD {
		t.Errorf("schemaIDGUID of %s is %s, BackupCodeAttributeGUIDAD %s", BackupCodeAttribute, u, BackupCodeAttributeGUIDAD)
	}
	if !strings.Contains(BackupCodeSchemaAD, "searchFlags: 128\n") {
		t.Error("the attribute is not confidential (searchFlags: 128)")
	}
}
