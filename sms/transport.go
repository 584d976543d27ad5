package sms

import (
	"cmp"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxErrorBody bounds how much of a gateway's error response is quoted in
// an error: enough for a gateway's own explanation, not enough to flood logs.
const maxErrorBody = 200

// maxDrain bounds how much of a response is read just to let the
// connection be reused. A gateway that streams more than this is cut off
// and its connection closed instead.
const maxDrain = 64 << 10

// noRedirects returns the client a provider sends with: client, or a new
// one when nil, made never to follow a redirect. Following one turns a POST
// into a GET that silently drops the message body (the next hop answers
// 200 and the code counts as sent), and a redirect may carry the code in
// the query to another host. A 3xx is then the answer Send judges, and a
// failed send unless the operator listed it as success. The policy is set
// on a copy, so that a caller's client with its own CheckRedirect (or
// none, which follows up to 10 redirects) cannot switch it off, and the
// caller's client itself is left as it was. The caller's context deadline
// bounds each request, so a nil client gets no Timeout.
func noRedirects(client *http.Client) *http.Client {
	c := &http.Client{}
	if client != nil {
		*c = *client
	}
	c.CheckRedirect = refuseRedirect
	return c
}

// refuseRedirect is the CheckRedirect of every SMS client: the redirect
// response itself is returned, and nothing is sent to its Location.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RedirectError is returned, wrapped, when a gateway answers with a
// redirect (a 3xx that is not configured as success). The redirect is
// never followed, so the message went nowhere.
type RedirectError struct {
	StatusCode int
	// Location is where the gateway pointed, as "scheme://host/path":
	// without user info and query, which may hold credentials or the
	// message. "" when the response had no usable Location.
	Location string
}

func (e *RedirectError) Error() string {
	s := (&StatusError{StatusCode: e.StatusCode}).Error() + ": the gateway redirects"
	if e.Location != "" {
		s += " to " + e.Location
	}
	return s + "; redirects are never followed, so nothing was sent (configure the address that takes the messages itself)"
}

// Unwrap gives the status as a *StatusError, so callers that judge
// statuses need not know about redirects.
func (e *RedirectError) Unwrap() error { return &StatusError{StatusCode: e.StatusCode} }

// redirectError describes a 3xx answer.
func redirectError(resp *http.Response) *RedirectError {
	e := &RedirectError{StatusCode: resp.StatusCode}
	if loc, err := resp.Location(); err == nil {
		e.Location = cleanLine(describeURL(loc))
	}
	return e
}

// isRedirect reports whether status is a 3xx.
func isRedirect(status int) bool { return status >= 300 && status <= 399 }

// validNumber reports whether to is an E.164 number: "+" then 1 to 15
// digits, the first not 0. Providers check it before sending because the
// number lands in URLs, headers and bodies; rejecting anything else turns
// a caller bug into a clear error instead of a malformed request or a text
// to the wrong recipient.
func validNumber(to string) bool {
	digits, ok := strings.CutPrefix(to, "+")
	if !ok || len(digits) < 1 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// errInvalidNumber is deliberately vague about the value: the caller has it.
var errInvalidNumber = errors.New("recipient is not an E.164 number (+ and up to 15 digits)")

// transportError strips the *url.Error that http.Client wraps around
// failures: its message includes the full request URL, whose query may hold
// the sign-in code or a gateway password. The inner error (dial failure,
// context.DeadlineExceeded, ...) keeps its identity for errors.Is.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// drainClose reads a bounded amount of what is left of body and closes it,
// so the connection can go back to the pool.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	_ = body.Close()
}

// bodySnippet returns the start of a response body as one clean line of at
// most maxErrorBody bytes, with message cut out (see redactMessage). It
// reads up to maxDrain bytes, not just maxErrorBody, so that an echo of the
// message that straddles the cut is still found and removed whole.
func bodySnippet(r io.Reader, message string) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxDrain))
	return snippet(b, message)
}

// snippet is bodySnippet for a body already read.
func snippet(body []byte, message string) string {
	return truncate(cleanLine(redactMessage(string(body), message)), maxErrorBody)
}

// redactedMessage replaces the message where a gateway echoes it.
const redactedMessage = "[message]"

// redactMessage removes message from s, as written and in each escaped form
// a template can give it. Gateways sometimes echo the request in an error
// ("rejected: text=Your sign-in code is 123456 ..."), and error text ends up
// in logs, which must never hold the code. It is a best effort: a gateway
// that re-encodes the text another way, or quotes only part of it, is not
// caught.
func redactMessage(s, message string) string {
	if message == "" {
		return s
	}
	forms := []string{message, url.QueryEscape(message), url.PathEscape(message), jsonEscape(message), xmlEscape(message)}
	// Longer forms first: the replacer tries its pairs in order at each
	// position, and a shorter form can be a prefix of a longer one. Ties
	// sort by content so that Compact can drop duplicate forms.
	slices.SortFunc(forms, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	pairs := make([]string, 0, 2*len(forms))
	for _, f := range slices.Compact(forms) {
		pairs = append(pairs, f, redactedMessage)
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

// cleanLine makes untrusted text safe for a single log line: invalid UTF-8
// (for example a multi-byte character cut by truncation) is dropped,
// control characters become spaces so a gateway cannot forge log lines,
// and runs of whitespace collapse.
func cleanLine(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// describeRequest names a request in errors as "METHOD scheme://host/path".
// It leaves out the user info and the query, which can hold credentials or
// the message, and so the code.
func describeRequest(method string, u *url.URL) string {
	return method + " " + describeURL(u)
}

// describeURL is u as "scheme://host/path", for the same reasons.
func describeURL(u *url.URL) string { return u.Scheme + "://" + u.Host + u.EscapedPath() }

// success2xx is the default success test: any 2xx.
func success2xx(status int) bool { return status >= 200 && status <= 299 }
