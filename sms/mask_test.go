package sms

import (
	"strings"
	"testing"
)

func TestMaskNumber(t *testing.T) {
	tests := []struct {
		in      string
		visible int
		want    string
	}{
		{"+15550100006", 4, "+1 ••• ••• 0006"},
		{"+15550100006", 2, "+1 ••• ••• •• 06"},
		{"+15550100006", 0, "+1 ••• ••• ••• •"},
		{"+15550100006", -3, "+1 ••• ••• ••• •"},
		{"+447911123456", 4, "+4 ••• ••• • 3456"},
		{"+4930123456", 3, "+4 ••• ••• 456"},
		{"+12345678", 4, "+1 ••• 5678"},        // exactly visible+4 digits
		{"+1234567", 4, "+••• •• 67"},          // short: last 2 only
		{"+15550100006", 8, "+••• ••• ••• 06"}, // too many asked: short rule
		{"+1234", 4, "+•• 34"},
		{"+1234", 1, "+••• 4"}, // never more than visible
		{"+123", 4, "+•••"},    // under 4 digits: nothing shown
		{"+1", 4, "+•"},
		{"+1 (555) 010-0006", 4, "+1 ••• ••• 0006"},
		{"", 4, ""},
		{"+", 4, ""},
	}
	for _, tt := range tests {
		if got := MaskNumber(tt.in, tt.visible); got != tt.want {
			t.Errorf("MaskNumber(%q, %d): got %q, want %q", tt.in, tt.visible, got, tt.want)
		}
	}
}

// TestMaskNumberRevealsLittle checks the promise for every length and
// visible count: at most visible trailing digits plus the first digit, at
// most min(2, visible) for short numbers, and at least 2 digits hidden.
func TestMaskNumberRevealsLittle(t *testing.T) {
	digits := "123456789012345"
	for n := 1; n <= len(digits); n++ {
		for visible := 0; visible <= 16; visible++ {
			got := MaskNumber("+"+digits[:n], visible)
			shown := 0
			for _, c := range got {
				if '0' <= c && c <= '9' {
					shown++
				}
			}
			limit := visible + 1
			if n < visible+4 {
				limit = min(2, visible)
			}
			if shown > limit || (shown > 0 && n-shown < 2) {
				t.Errorf("MaskNumber(%d digits, %d) = %q shows %d digits, want at most %d and 2 hidden", n, visible, got, shown, limit)
			}
			if dots := strings.Count(got, maskDot); dots+shown != n {
				t.Errorf("MaskNumber(%d digits, %d) = %q: %d dots + %d digits, want %d", n, visible, got, dots, shown, n)
			}
		}
	}
}
