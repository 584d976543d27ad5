package sms

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// TwilioConfig configures sending through Twilio's Programmable Messaging
// API (the 2010-04-01 Messages resource).
type TwilioConfig struct {
	// AccountSID ("AC...") and AuthToken authenticate with HTTP basic auth.
	AccountSID string `split_words:"true" desc:"twilio provider: account SID (AC...)"`
	AuthToken  string `split_words:"true" file:"true" desc:"twilio provider: auth token"`
	// Exactly one of From (a Twilio number, short code or alphanumeric
	// sender ID) and MessagingServiceSID ("MG...") must be set.
	From                string `split_words:"true" desc:"twilio provider: sender number, or use TWILIO_MESSAGING_SERVICE_SID"`
	MessagingServiceSID string `split_words:"true" desc:"twilio provider: messaging service SID (MG...)"`
	// APIURL overrides "https://api.twilio.com", for tests and proxies.
	APIURL string `envconfig:"API_URL" default:"https://api.twilio.com" desc:"twilio provider: API base URL"`
}

// Twilio sends messages with Twilio. It is safe for concurrent use.
type Twilio struct {
	client   *http.Client
	endpoint string
	sid      string
	token    string
	from     string
	service  string
	desc     string
}

var _ Sender = (*Twilio)(nil)

// TwilioError is Twilio's explanation of a failed request, parsed from its
// error JSON (https://www.twilio.com/docs/usage/twilios-response). When the
// body is not Twilio JSON (a proxy's 502 page, say), Code is 0 and Message
// holds the start of the body.
type TwilioError struct {
	Status   int    // HTTP status
	Code     int    // Twilio error code, such as 21211 (invalid To number)
	Message  string // Twilio's message, for the operator's log
	MoreInfo string // link to Twilio's page about Code
}

func (e *TwilioError) Error() string {
	s := "status " + strconv.Itoa(e.Status)
	if e.Code != 0 {
		s += ", Twilio error " + strconv.Itoa(e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.MoreInfo != "" {
		s += " (" + e.MoreInfo + ")"
	}
	return s
}

// maxTwilioError bounds how much of an error response is parsed; Twilio's
// error objects are a few hundred bytes.
const maxTwilioError = 16 << 10

// NewTwilio validates cfg and returns a Twilio sender that uses client (nil:
// a new one). Whatever client is given, redirects are never followed (see
// noRedirects). All
// configuration problems are reported at once, as *setting.Problem values
// joined with errors.Join.
func NewTwilio(cfg TwilioConfig, client *http.Client) (*Twilio, error) {
	var problems configProblems
	sid := strings.TrimSpace(cfg.AccountSID)
	switch {
	case sid == "":
		problems.add("ACCOUNT_SID", "is required")
	case !strings.HasPrefix(sid, "AC") || !isAlnum(sid):
		// It goes into the URL path, and an API key SID ("SK...") here is a
		// common mix-up that Twilio would only report as a 401 or 404.
		problems.add("ACCOUNT_SID", `must be an account SID: "AC" followed by letters and digits`)
	}
	token := strings.TrimSpace(cfg.AuthToken)
	if token == "" {
		problems.add("AUTH_TOKEN", "is required")
	}
	from := strings.TrimSpace(cfg.From)
	service := strings.TrimSpace(cfg.MessagingServiceSID)
	switch {
	case from == "" && service == "":
		problems.add("FROM", "is required unless MessagingServiceSID is set")
	case from != "" && service != "":
		problems.add("FROM", "must be empty when MessagingServiceSID is set; set exactly one")
	case service != "" && (!strings.HasPrefix(service, "MG") || !isAlnum(service)):
		problems.add("MESSAGING_SERVICE_SID", `must be a messaging service SID: "MG" followed by letters and digits`)
	}

	apiURL := strings.TrimRight(strings.TrimSpace(cfg.APIURL), "/")
	if apiURL == "" {
		apiURL = "https://api.twilio.com"
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		problems.add("API_URL", "must be an absolute http or https URL with a host and no query")
	}
	if err := problems.err(); err != nil {
		return nil, err
	}
	endpoint := apiURL + "/2010-04-01/Accounts/" + sid + "/Messages.json"
	eu, err := url.Parse(endpoint)
	if err != nil { // cannot happen: both parts were checked above
		return nil, fmt.Errorf("sms twilio: endpoint: %w", err)
	}
	return &Twilio{
		client:   noRedirects(client),
		endpoint: endpoint,
		sid:      sid,
		token:    token,
		from:     from,
		service:  service,
		desc:     describeRequest(http.MethodPost, eu),
	}, nil
}

func isAlnum(s string) bool {
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Send creates one Twilio message to the E.164 number to. Any 2xx counts
// as sent (Twilio answers 201 Created). A failure is returned wrapped as a
// *TwilioError.
func (t *Twilio) Send(ctx context.Context, to, message string) error {
	if !validNumber(to) {
		return t.errorf(errInvalidNumber)
	}
	form := url.Values{"To": {to}, "Body": {message}}
	if t.service != "" {
		form.Set("MessagingServiceSid", t.service)
	} else {
		form.Set("From", t.from)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return t.errorf(transportError(err))
	}
	req.SetBasicAuth(t.sid, t.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := t.client.Do(req)
	if err != nil {
		return t.errorf(transportError(err))
	}
	defer drainClose(resp.Body)
	if success2xx(resp.StatusCode) {
		return nil
	}
	if isRedirect(resp.StatusCode) {
		return t.errorf(redirectError(resp))
	}
	return t.errorf(parseTwilioError(resp.StatusCode, resp.Body, message))
}

// parseTwilioError reads Twilio's error object from body, falling back to
// the start of the body when it is not one. Any echo of message is cut out,
// as the error is logged (see redactMessage).
func parseTwilioError(status int, body io.Reader, message string) *TwilioError {
	raw, _ := io.ReadAll(io.LimitReader(body, maxTwilioError))
	var v struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if err := json.Unmarshal(raw, &v); err == nil && (v.Code != 0 || v.Message != "") {
		return &TwilioError{
			Status:   status,
			Code:     v.Code,
			Message:  truncate(cleanLine(redactMessage(v.Message, message)), 500),
			MoreInfo: truncate(cleanLine(v.MoreInfo), 200),
		}
	}
	return &TwilioError{Status: status, Message: snippet(raw, message)}
}

// truncate cuts s to at most n bytes without splitting a character, so
// an unexpectedly long field cannot flood the log.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func (t *Twilio) errorf(err error) error {
	return fmt.Errorf("sms twilio %s: %w", t.desc, err)
}
