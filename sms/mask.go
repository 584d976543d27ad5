package sms

import "strings"

// maskDot stands for one hidden digit.
const maskDot = "•"

// MaskNumber hides most of a phone number for display and logs, for
// example "+1 ••• ••• 0006" for MaskNumber("+15550100006", 4). It shows the
// first digit and the last visible digits; the hidden ones are dots in
// groups of three. A number with fewer than visible+4 digits would reveal
// too much of itself that way, so only its last 2 digits are shown (fewer
// if visible is smaller), and none when it has fewer than 4. Characters other than digits are ignored;
// a string without digits masks to "".
func MaskNumber(e164 string, visible int) string {
	var digits []byte
	for _, c := range []byte(e164) {
		if '0' <= c && c <= '9' {
			digits = append(digits, c)
		}
	}
	n := len(digits)
	if n == 0 {
		return ""
	}
	if visible < 0 {
		visible = 0
	}
	var head, tail string
	switch {
	case n >= visible+4:
		head, tail = string(digits[:1]), string(digits[n-visible:])
	case n >= 4:
		tail = string(digits[n-min(2, visible):])
	}
	hidden := n - len(head) - len(tail)

	parts := []string{"+" + head}
	for hidden > 0 {
		g := min(hidden, 3)
		parts = append(parts, strings.Repeat(maskDot, g))
		hidden -= g
	}
	if tail != "" {
		parts = append(parts, tail)
	}
	if head == "" {
		// "+••• 45" reads better than "+ ••• 45".
		parts = append([]string{parts[0] + parts[1]}, parts[2:]...)
	}
	return strings.Join(parts, " ")
}
