package sms

import (
	"strconv"
	"strings"
	"time"
)

// DefaultMessage is the text sent when the operator configures none.
const DefaultMessage = "Your sign-in code is {code}. It expires in {ttl}."

// RenderMessage replaces {code} and {ttl} in template. ttl is written for
// people ("5 minutes", "90 seconds"). Replacement is a single pass, so
// text that a value brings in is never expanded again.
func RenderMessage(template string, code string, ttl time.Duration) string {
	return strings.NewReplacer("{code}", code, "{ttl}", HumanDuration(ttl)).Replace(template)
}

// HumanDuration writes d in the largest unit that states it exactly:
// hours, then minutes, then seconds ("1 hour", "10 minutes", "90
// seconds"). Fractions of a second are dropped rather than rounded up, so
// the message never promises more time than the code has.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s > 0 && s%3600 == 0:
		return plural(s/3600, "hour")
	case s > 0 && s%60 == 0:
		return plural(s/60, "minute")
	default:
		return plural(s, "second")
	}
}

func plural(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}
