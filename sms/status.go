package sms

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// StatusError is returned, wrapped, when a gateway answers with a status
// that is not configured as success. Callers can use errors.As to tell, for
// example, rate limiting (429) from a rejected request.
type StatusError struct {
	StatusCode int
	// Body is the start of the response body (at most 200 bytes) as one
	// line with control characters removed: gateways explain rejections
	// there, and the operator needs that explanation.
	Body string
}

func (e *StatusError) Error() string {
	s := "status " + strconv.Itoa(e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		s += " " + t
	}
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// statusRange is an inclusive range of HTTP status codes.
type statusRange struct{ lo, hi int }

// parseSuccessCodes reads the SuccessCodes setting: a comma-separated list
// of codes ("200", "202") and classes ("2xx"). Empty means any 2xx and
// returns nil. Problems quote the bad entry; these are not secrets.
func parseSuccessCodes(s string) ([]statusRange, []string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var ranges []statusRange
	var problems []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if len(item) == 3 && item[0] >= '1' && item[0] <= '5' && strings.EqualFold(item[1:], "xx") {
			base := int(item[0]-'0') * 100
			ranges = append(ranges, statusRange{base, base + 99})
			continue
		}
		code, err := strconv.Atoi(item)
		if err != nil || len(item) != 3 || code < 100 || code > 599 {
			problems = append(problems, fmt.Sprintf("%q is not a status code (100-599) or class (2xx)", item))
			continue
		}
		ranges = append(ranges, statusRange{code, code})
	}
	return ranges, problems
}

// isSuccess reports whether status is in any of the ranges; nil ranges mean
// any 2xx.
func isSuccess(ranges []statusRange, status int) bool {
	if ranges == nil {
		return success2xx(status)
	}
	for _, r := range ranges {
		if r.lo <= status && status <= r.hi {
			return true
		}
	}
	return false
}
