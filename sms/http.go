package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"regexp/syntax"
	"strings"
)

// HTTPConfig configures a generic HTTP SMS gateway the way WSO2 Identity
// Server's SMS OTP authenticator does, so that most gateways (Kannel,
// Twilio, Vonage, in-house relays) work without provider-specific code.
//
// The placeholders $ctx.num (the E.164 recipient) and $ctx.msg (the
// message) are replaced in URL, Payload and header values, escaped for
// where they land:
//   - URL: path-escaped before the first "?", query-escaped after it;
//   - Payload: by body type (see Payload);
//   - header values: inserted as is; a value that would contain a control
//     character such as CR or LF makes Send fail instead.
//
// Everything else in a template is sent exactly as written, so a literal
// "+" in a form payload must be written "%2B".
//
// There is no timeout setting: each Send is bounded by its context.
type HTTPConfig struct {
	// URL is an absolute http or https URL. Placeholders may appear in the
	// path and the query, not in the scheme or host.
	URL string `split_words:"true" file:"true" desc:"HTTP SMS gateway: URL; $ctx.num and $ctx.msg are replaced (it may carry credentials)"`
	// Method is GET, POST or PUT (any case); empty means POST.
	Method string `split_words:"true" default:"POST" desc:"HTTP SMS gateway: GET, POST or PUT"`
	// Headers holds one "Name: value" per line. Several headers may share a
	// line separated by ", " where what follows is a header name and a
	// colon: "Authorization: Basic abc, Content-Type: application/json".
	// Content-Length and Transfer-Encoding are computed and may not be set.
	// A Host header sets the request's Host.
	Headers string `split_words:"true" file:"true" desc:"HTTP SMS gateway: headers, one 'Name: value' per line (they often carry credentials)"`
	// Payload is the body template; it must be empty for GET. Its type is
	// the configured Content-Type: containing "json" means JSON (values are
	// escaped as string contents, so the template supplies the quotes:
	// {"to":"$ctx.num"}), "x-www-form-urlencoded" means a form (values
	// query-escaped), "xml" means XML (values entity-escaped), and anything
	// else is sent with values inserted verbatim. Without a Content-Type,
	// a payload starting with "{" or "[" is JSON, any other a form, and the
	// matching Content-Type is sent.
	Payload string `split_words:"true" file:"true" desc:"HTTP SMS gateway: body template with $ctx.num and $ctx.msg (it may carry credentials)"`
	// SuccessCodes lists the statuses that mean "sent", comma-separated
	// codes and classes: "200,201" or "2xx,302". Empty means any 2xx.
	SuccessCodes string `split_words:"true" desc:"HTTP SMS gateway: status codes meaning sent, e.g. 200,201 (default: any 2xx)"`
	// SuccessMatch, when set, is a Go regular expression (RE2 syntax) that
	// the response body must also match for a send to count as done. It is
	// for gateways that answer 200 whatever happened and put the outcome in
	// the body, such as `"status":\s*"ok"` or `^0: Accepted` (Kannel). Only
	// the first 64 KiB of the body are searched. The match is unanchored and
	// case-sensitive: add ^ or (?i) as needed.
	SuccessMatch string `split_words:"true" desc:"HTTP SMS gateway: regular expression the response body must match, e.g. ^0: Accepted"`
}

// HTTP sends messages through a generic HTTP gateway. It is safe for
// concurrent use.
type HTTP struct {
	client      *http.Client
	method      string
	url         string
	headers     []header
	payload     string
	kind        bodyKind
	contentType string // sent only when no Content-Type is configured
	success     []statusRange
	match       *regexp.Regexp // nil: the status alone decides
	desc        string         // "POST https://host/path" for errors
}

// maxMatchBody bounds how much of a response SuccessMatch searches. It is
// maxDrain, so the search reads no more than draining would anyway.
const maxMatchBody = maxDrain

// MatchError is returned, wrapped, when a gateway answers with a success
// status but a body that does not match SuccessMatch: the gateway's way of
// saying the message was not accepted.
type MatchError struct {
	StatusCode int
	// Body is the start of the response body, as in StatusError.
	Body string
}

func (e *MatchError) Error() string {
	s := (&StatusError{StatusCode: e.StatusCode}).Error() + " but the body does not match SuccessMatch"
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

var _ Sender = (*HTTP)(nil)

// NewHTTP validates cfg and returns a gateway that sends with client (nil:
// a new one). Whatever client is given, redirects are never followed (see
// noRedirects).
// All configuration problems are reported at once, as *setting.Problem values
// joined with errors.Join; use setting.Problems to list them.
func NewHTTP(cfg HTTPConfig, client *http.Client) (*HTTP, error) {
	h := &HTTP{client: noRedirects(client), payload: cfg.Payload}
	var problems configProblems

	h.method = strings.ToUpper(strings.TrimSpace(cfg.Method))
	switch h.method {
	case "":
		h.method = http.MethodPost
	case http.MethodGet, http.MethodPost, http.MethodPut:
	default:
		problems.add("METHOD", "must be GET, POST or PUT")
	}

	h.url = strings.TrimSpace(cfg.URL)
	if u, problem := checkURLTemplate(h.url); problem != "" {
		problems.add("URL", problem)
	} else {
		h.desc = describeRequest(h.method, u)
	}

	headers, headerProblems := parseHeaders(cfg.Headers)
	for _, p := range headerProblems {
		problems.add("HEADERS", p)
	}
	h.headers = headers

	configuredType := ""
	for _, hd := range headers {
		if strings.EqualFold(hd.name, "Content-Type") {
			configuredType = hd.value
		}
	}
	if configuredType != "" {
		h.kind = kindForContentType(configuredType)
	} else {
		h.kind, h.contentType = guessBody(cfg.Payload)
	}
	if cfg.Payload != "" {
		if h.method == http.MethodGet {
			problems.add("PAYLOAD", "must be empty when the method is GET, which sends no body; put $ctx.num and $ctx.msg in the URL query instead")
		} else if p := checkPayload(cfg.Payload, h.kind); p != "" {
			problems.add("PAYLOAD", p)
		}
	}

	// A template without a placeholder sends the same text to the same
	// place every time; that is always a configuration mistake.
	where := "PAYLOAD"
	if h.method == http.MethodGet {
		where = "URL"
	}
	all := cfg.URL
	if h.method != http.MethodGet {
		all += "\n" + cfg.Payload
	}
	for _, hd := range headers {
		all += "\n" + hd.value
	}
	for _, ph := range []string{placeholderNum, placeholderMsg} {
		if !strings.Contains(all, ph) {
			problems.add(where, "none of URL, HEADERS and PAYLOAD contains "+ph+", so it would never be sent")
		}
	}

	success, successProblems := parseSuccessCodes(cfg.SuccessCodes)
	for _, p := range successProblems {
		problems.add("SUCCESS_CODES", p)
	}
	h.success = success

	// Not trimmed, unlike the other fields: spaces in a regexp are
	// significant ("^OK $").
	if cfg.SuccessMatch != "" {
		re, err := regexp.Compile(cfg.SuccessMatch)
		if err != nil {
			problems.add("SUCCESS_MATCH", "is not a valid Go regular expression: "+regexpProblem(err))
		}
		h.match = re
	}

	if err := problems.err(); err != nil {
		return nil, err
	}
	return h, nil
}

// regexpProblem says why a regular expression did not compile, without
// quoting it, never repeating a value, which may carry a credential.
func regexpProblem(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return se.Code.String()
	}
	return "it does not compile"
}

// checkURLTemplate returns the parsed template, or a problem. It parses both
// the template and the template with sample values, because escaping makes
// the second differ from the first. Problems never quote the URL, which may
// hold a password (Kannel puts it in the query).
func checkURLTemplate(tmpl string) (*url.URL, string) {
	if tmpl == "" {
		return nil, "is required"
	}
	u, err := url.Parse(tmpl)
	if err != nil {
		return nil, "is not a valid URL"
	}
	if s := strings.ToLower(u.Scheme); (s != "http" && s != "https") || u.Host == "" {
		return nil, "must be an absolute http or https URL with a host"
	}
	if strings.Contains(u.Host, "$ctx.") || strings.Contains(u.User.String(), "$ctx.") {
		return nil, "placeholders may appear only in the path and query"
	}
	if _, err := url.Parse(renderURL(tmpl, sampleNum, sampleMsg)); err != nil {
		return nil, "is not a valid URL once $ctx.num and $ctx.msg are substituted"
	}
	return u, ""
}

// checkPayload renders the payload with sample values and checks that the
// result is well-formed for its type, catching for example a JSON template
// that forgot the quotes around "$ctx.msg".
func checkPayload(payload string, kind bodyKind) string {
	body := render(payload, kind.escape, sampleNum, sampleMsg)
	switch kind {
	case bodyJSON:
		if !json.Valid([]byte(body)) {
			return "is not valid JSON once $ctx.num and $ctx.msg are substituted (placeholders go inside quotes)"
		}
	case bodyForm:
		if _, err := url.ParseQuery(body); err != nil {
			return "is not a valid form body (write literal %, + and & as %25, %2B and %26)"
		}
	}
	return ""
}

// Send delivers message to the E.164 number to. The request is bounded by
// ctx. Errors name the request as "METHOD scheme://host/path" and never
// include the query or body, which contain the message and so the code.
func (h *HTTP) Send(ctx context.Context, to, message string) error {
	if !validNumber(to) {
		return h.errorf(errInvalidNumber)
	}
	var body io.Reader
	if h.method != http.MethodGet && h.payload != "" {
		body = strings.NewReader(render(h.payload, h.kind.escape, to, message))
	}
	req, err := http.NewRequestWithContext(ctx, h.method, renderURL(h.url, to, message), body)
	if err != nil {
		// Not wrapped: the parse error would quote the URL, message included.
		return h.errorf(errors.New("URL is invalid once the recipient and message are substituted"))
	}
	for _, hd := range h.headers {
		v := render(hd.value, func(s string) string { return s }, to, message)
		if hasControl(v) {
			return h.errorf(fmt.Errorf("header %s would contain a line break or control character", hd.name))
		}
		if strings.EqualFold(hd.name, "Host") {
			req.Host = v // the client ignores a Host entry in req.Header
			continue
		}
		req.Header.Add(hd.name, v)
	}
	if body != nil && h.contentType != "" {
		req.Header.Set("Content-Type", h.contentType)
	}

	resp, err := h.client.Do(req)
	if err != nil {
		return h.errorf(transportError(err))
	}
	defer drainClose(resp.Body)
	success := isSuccess(h.success, resp.StatusCode)
	if !success && isRedirect(resp.StatusCode) {
		return h.errorf(redirectError(resp))
	}
	if !success {
		return h.errorf(&StatusError{StatusCode: resp.StatusCode, Body: bodySnippet(resp.Body, message)})
	}
	if h.match == nil {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMatchBody))
	if err != nil {
		// The verdict is in the body, so a body cut short is not a success.
		return h.errorf(fmt.Errorf("read response for SuccessMatch: %w", transportError(err)))
	}
	if h.match.Match(b) {
		return nil
	}
	return h.errorf(&MatchError{StatusCode: resp.StatusCode, Body: snippet(b, message)})
}

func (h *HTTP) errorf(err error) error {
	return fmt.Errorf("sms http gateway %s: %w", h.desc, err)
}
