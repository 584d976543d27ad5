// Package text writes values in words for people: the sign-in pages and
// the text of the SMS both say how long a code lasts, so the wording lives
// here, where auth and ui can both use it.
package text

import (
	"strconv"
	"time"
)

// HumanDuration writes d in the largest unit that states it exactly:
// hours, then minutes, then seconds ("1 hour", "10 minutes", "90
// seconds"). Fractions of a second are dropped rather than rounded up, so
// a message never promises more time than a code has.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s > 0 && s%3600 == 0:
		return count(s/3600, "hour")
	case s > 0 && s%60 == 0:
		return count(s/60, "minute")
	default:
		return count(s, "second")
	}
}

// count writes n units, in the plural unless n is 1.
func count(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
