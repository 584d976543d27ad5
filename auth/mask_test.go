package auth

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
		{"+15550100006", 4, "+1 ••• ••• 0006"}, // US
		{"+15550100006", 2, "+1 ••• ••• •• 06"},
		{"+15550100006", 0, "+1 ••• ••• ••• •"},
		{"+15550100006", -3, "+1 ••• ••• ••• •"},
		{"+1 (555) 010-0006", 4, "+1 ••• ••• 0006"},
		{"+447700900456", 4, "+44 ••• ••• 0456"}, // UK: "+44" is not split
		{"+447911123456", 1, "+44 ••• ••• ••• 6"},
		{"+4915123456789", 4, "+49 ••• ••• • 6789"}, // DE mobile
		{"+4930123456", 3, "+49 ••• •• 456"},        // DE Berlin, 8 digits
		{"+33612345678", 4, "+33 ••• •• 5678"},      // FR
		{"+33612345678", 0, "+33 ••• ••• •••"},
		{"+918123456789", 4, "+91 ••• ••• 6789"}, // IN
		{"+881612345678", 4, "+881 ••• •• 5678"}, // Iridium, no country
		{"+390612345678", 4, "+39 ••• ••• 5678"}, // IT: the leading 0 is national
		{"+8823421234", 4, "+882 ••• •• 34"},     // 7 digits: short, last 2 only
		{"+8823421234", 1, "+882 ••• ••• 4"},     // never more than visible
		{"+15550100006", 8, "+1 ••• ••• •• 06"},  // too many asked: short rule
		{"+49301", 4, "+49 •••"},                 // under 4 digits: none shown
		{"07911 123456", 4, "••• ••• ••• ••"},    // not international: no digit
		{"+999123456", 4, "••• ••• •••"},         // no such country code
		{"", 4, ""},
		{"+", 4, ""},
	}
	for _, tt := range tests {
		if got := maskNumber(tt.in, tt.visible); got != tt.want {
			t.Errorf("maskNumber(%q, %d): got %q, want %q", tt.in, tt.visible, got, tt.want)
		}
	}
}

// TestMaskNumberRevealsLittle checks the promise for every length of
// national number and visible count: the country code whole, at most
// visible digits of the national number, at most min(2, visible) for short
// numbers, and at least 2 digits hidden.
func TestMaskNumberRevealsLittle(t *testing.T) {
	digits := "123456789012345"
	for n := 2; n <= len(digits); n++ {
		for visible := 0; visible <= 16; visible++ {
			got := maskNumber("+44"+digits[:n], visible)
			national, ok := strings.CutPrefix(got, "+44 ")
			if !ok {
				t.Fatalf("maskNumber(+44 and %d digits, %d): got %q, want it to start %q", n, visible, got, "+44 ")
			}
			shown := len(onlyDigits(national))
			limit := visible
			if n < visible+4 {
				limit = min(2, visible)
			}
			if shown > limit || (shown > 0 && n-shown < 2) {
				t.Errorf("maskNumber(+44 and %d digits, %d): got %q, showing %d digits, want at most %d and 2 hidden", n, visible, got, shown, limit)
			}
			if dots := strings.Count(national, maskDot); dots+shown != n {
				t.Errorf("maskNumber(+44 and %d digits, %d): got %q, %d dots + %d digits, want %d", n, visible, got, dots, shown, n)
			}
		}
	}
}
