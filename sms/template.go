package sms

import (
	"encoding/json"
	"encoding/xml"
	"net/url"
	"strings"
)

// The placeholders of WSO2 Identity Server's SMS OTP authenticator, kept
// so that gateway settings documented for WSO2 can be copied unchanged.
const (
	placeholderNum = "$ctx.num"
	placeholderMsg = "$ctx.msg"
)

// Sample values stand in for the real number and message when a template is
// checked at startup. The message holds characters that need escaping in
// every body type, so a template that only works for tame input fails early.
const (
	sampleNum = "+15550100006"
	sampleMsg = `Your code is 123456 & "more" <now>, 100% sure?`
)

// render substitutes the placeholders in tmpl with the escaped values. It
// is a single pass, so a message that itself contains "$ctx.num" is sent
// as text and never expanded again.
func render(tmpl string, escape func(string) string, num, msg string) string {
	return strings.NewReplacer(placeholderNum, escape(num), placeholderMsg, escape(msg)).Replace(tmpl)
}

// renderURL substitutes into a URL template, escaping for where each
// placeholder lands: path escaping before the first "?", query escaping
// after it. The template's own text is used as written.
func renderURL(tmpl, num, msg string) string {
	i := strings.IndexByte(tmpl, '?')
	if i < 0 {
		return render(tmpl, url.PathEscape, num, msg)
	}
	return render(tmpl[:i], url.PathEscape, num, msg) + render(tmpl[i:], url.QueryEscape, num, msg)
}

// bodyKind says how values are escaped in a request body.
type bodyKind int

const (
	// bodyForm: application/x-www-form-urlencoded, values query-escaped.
	bodyForm bodyKind = iota
	// bodyJSON: values escaped as JSON string contents; the template
	// supplies the surrounding quotes.
	bodyJSON
	// bodyXML: values escaped as XML character data, safe in attributes.
	bodyXML
	// bodyRaw: any other declared type (text/plain, ...). There is no
	// general escaping rule for an unknown format, so values are inserted
	// verbatim; the operator who declared the type owns its syntax.
	bodyRaw
)

func (k bodyKind) String() string {
	switch k {
	case bodyForm:
		return "form"
	case bodyJSON:
		return "JSON"
	case bodyXML:
		return "XML"
	default:
		return "raw"
	}
}

func (k bodyKind) escape(s string) string {
	switch k {
	case bodyForm:
		return url.QueryEscape(s)
	case bodyJSON:
		return jsonEscape(s)
	case bodyXML:
		return xmlEscape(s)
	default:
		return s
	}
}

// kindForContentType maps a configured Content-Type to a body kind by
// substring, so vendor types such as "application/vnd.api+json" and
// parameters such as "; charset=utf-8" are handled.
func kindForContentType(ct string) bodyKind {
	ct = strings.ToLower(ct)
	switch {
	case strings.Contains(ct, "json"):
		return bodyJSON
	case strings.Contains(ct, "x-www-form-urlencoded"):
		return bodyForm
	case strings.Contains(ct, "xml"):
		return bodyXML
	default:
		return bodyRaw
	}
}

// guessBody picks the body kind and Content-Type for a payload when none is
// configured: JSON if it starts with "{" or "[", otherwise a form.
func guessBody(payload string) (bodyKind, string) {
	t := strings.TrimLeft(payload, " \t\r\n")
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return bodyJSON, "application/json"
	}
	return bodyForm, "application/x-www-form-urlencoded"
}

// jsonEscape returns s as the inside of a JSON string literal. HTML
// escaping is off: it is valid either way and "&" reads better than
// "\u0026" in a gateway's logs. Invalid UTF-8 becomes U+FFFD.
func jsonEscape(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	out := b.String()
	return out[1 : len(out)-2] // drop the quotes and Encode's newline
}

// xmlEscape escapes s for XML text and attribute values (it escapes both
// quote characters). Characters XML cannot represent become U+FFFD.
func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}

// hasControl reports whether a header value has a character HTTP forbids
// in it: any ASCII control except horizontal tab. CR and LF matter most,
// since they would let a message inject headers.
func hasControl(s string) bool {
	for _, c := range []byte(s) {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}
