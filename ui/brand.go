package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Brand is how the pages name and show the organisation: all optional.
type Brand struct {
	Name     string // "Sign in to Acme"; "": neutral wording
	HelpText string // shown at the foot of every page
	HelpURL  template.URL
	helpKind string // "https", "tel" or "mailto"
	color    string // #rrggbb accent; "": the stylesheet's own
	logo     *asset

	LogoURL  string // under the prefix; "": no logo
	StyleURL string // the brand's stylesheet under the prefix; "": none
}

// asset is a file otpgate serves for the brand, under a name that changes
// with its content, so that browsers may keep it for good.
type asset struct {
	name        string // logo-<hash>.png
	contentType string
	body        []byte
	etag        string
}

func newAsset(stem, ext, contentType string, body []byte) *asset {
	sum := sha256.Sum256(body)
	h := hex.EncodeToString(sum[:6])
	return &asset{name: stem + "-" + h + ext, contentType: contentType, body: body, etag: `"` + h + `"`}
}

// HelpLabel is the help link's words: the number or address it calls or
// writes to, or "Get help" for a web page.
func (b *Brand) HelpLabel(l *Localizer) string {
	switch b.helpKind {
	case "tel", "mailto":
		u, err := url.Parse(string(b.HelpURL))
		if err == nil {
			if s, err := url.PathUnescape(u.Opaque); err == nil {
				return s
			}
		}
	}
	return l.T("HelpLink")
}

// maxLogoBytes bounds the logo: it is sent with the pages and kept in memory.
const maxLogoBytes = 512 << 10

// Page colours the brand colour is drawn on: the white card, and the page
// around it (style.css).
var (
	cardColor = rgb{0xff, 0xff, 0xff}
	pageColor = rgb{0xee, 0xf1, 0xf5}
)

// Least contrasts (WCAG 2.2, 1.4.3 and 1.4.11): text, and a focus ring or
// other part of the interface.
const (
	textContrast = 4.5
	ringContrast = 3.0
)

var (
	colorPattern = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
	telPattern   = regexp.MustCompile(`^\+?[0-9][0-9 ().-]*$`)
	mailPattern  = regexp.MustCompile(`^[^@\s/?]+@[^@\s/?]+$`)
)

// brandProblem is one problem of a brand setting; Var names the variable's
// end (BRAND_COLOR).
type brandProblem = catalogProblem

// checkBrand reads and checks the brand settings, with every problem.
func checkBrand(s Settings) (Brand, []error) {
	var p []error
	b := Brand{Name: strings.TrimSpace(s.BrandName), HelpText: strings.TrimSpace(s.BrandHelpText)}
	if bad := oneLine(b.Name, 100); bad != "" {
		p = append(p, brandProblem{"BRAND_NAME", bad})
	}
	if bad := oneLine(b.HelpText, 300); bad != "" {
		p = append(p, brandProblem{"BRAND_HELP_TEXT", bad})
	}
	if s.BrandColor != "" {
		c, err := checkColor(s.BrandColor)
		if err != nil {
			p = append(p, brandProblem{"BRAND_COLOR", err.Error()})
		}
		b.color = c
	}
	if s.BrandHelpURL != "" {
		kind, err := checkHelpURL(s.BrandHelpURL)
		if err != nil {
			p = append(p, brandProblem{"BRAND_HELP_URL", err.Error()})
		}
		b.HelpURL, b.helpKind = template.URL(s.BrandHelpURL), kind //nolint:gosec // checked: https, tel or mailto only
	}
	if s.BrandLogoFile != "" {
		logo, err := readLogo(s.BrandLogoFile)
		if err != nil {
			p = append(p, brandProblem{"BRAND_LOGO_FILE", err.Error()})
		}
		b.logo = logo
	}
	return b, p
}

// oneLine says what is wrong with s as a line of page text of at most max
// characters; "" when nothing is.
func oneLine(s string, max int) string {
	if n := len([]rune(s)); n > max {
		return fmt.Sprintf("%d characters; at most %d fit on the pages", n, max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "must be one line, without control characters"
	}
	return ""
}

// checkColor checks that c, as the pages' accent, keeps their text and
// focus ring legible, and returns it in lower case.
func checkColor(c string) (string, error) {
	if !colorPattern.MatchString(c) {
		return "", fmt.Errorf("%q is not a colour written #rrggbb, like #0b57d0", c)
	}
	col := parseRGB(c)
	if got := contrast(col, cardColor); got < textContrast {
		return "", fmt.Errorf("%s has a contrast of %.2f:1 with white, but button text and links need at least %.1f:1: choose a darker colour", c, floor2(got), textContrast)
	}
	if got := contrast(col, pageColor); got < ringContrast {
		return "", fmt.Errorf("%s has a contrast of %.2f:1 with the page background, but the focus ring needs at least %.0f:1: choose a darker colour", c, floor2(got), ringContrast)
	}
	return strings.ToLower(c), nil
}

// floor2 rounds down to two decimals, so that a refused colour is never
// reported as reaching the limit.
func floor2(x float64) float64 { return math.Floor(x*100) / 100 }

type rgb [3]uint8

func parseRGB(c string) rgb {
	var out rgb
	for i := range out {
		v, _ := strconv.ParseUint(c[1+2*i:3+2*i], 16, 8)
		out[i] = uint8(v)
	}
	return out
}

// luminance is the relative luminance of WCAG 2.2.
func (c rgb) luminance() float64 {
	var l [3]float64
	for i, v := range c {
		s := float64(v) / 255
		if s <= 0.04045 {
			l[i] = s / 12.92
		} else {
			l[i] = math.Pow((s+0.055)/1.055, 2.4)
		}
	}
	return 0.2126*l[0] + 0.7152*l[1] + 0.0722*l[2]
}

// contrast is the WCAG contrast ratio of a and b, from 1 to 21.
func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// checkHelpURL accepts a web page (https), a phone number (tel:) or an
// e-mail address (mailto:), and says which.
func checkHelpURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", s, err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "" && u.User == nil:
		return "https", nil
	case u.Scheme == "tel" && telPattern.MatchString(u.Opaque):
		return "tel", nil
	case u.Scheme == "mailto" && mailPattern.MatchString(u.Opaque):
		return "mailto", nil
	}
	return "", fmt.Errorf("%q: want an https:// page, a tel:+4930123456 number or a mailto:help@example.com address", s)
}

// readLogo reads the logo and tells its type from its content.
func readLogo(path string) (*asset, error) {
	f, err := os.Open(path) //nolint:gosec // the operator's own setting
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	defer func() { _ = f.Close() }()
	body, err := io.ReadAll(io.LimitReader(f, maxLogoBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(body) > maxLogoBytes {
		return nil, fmt.Errorf("%s is larger than %d KiB; a logo that size slows every page", path, maxLogoBytes>>10)
	}
	switch ct := http.DetectContentType(body); ct {
	case "image/png":
		return newAsset("logo", ".png", ct, body), nil
	case "image/jpeg":
		return newAsset("logo", ".jpg", ct, body), nil
	case "image/webp":
		return newAsset("logo", ".webp", ct, body), nil
	}
	if isSVG(body) {
		return newAsset("logo", ".svg", "image/svg+xml", body), nil
	}
	return nil, fmt.Errorf("%s is not a PNG, JPEG, WebP or SVG image", path)
}

// isSVG says whether body is an XML document whose root is an SVG element.
func isSVG(body []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		if el, ok := tok.(xml.StartElement); ok {
			return el.Name.Local == "svg" && el.Name.Space == "http://www.w3.org/2000/svg"
		}
	}
}

// stylesheet is the brand's CSS: the logo's place, the help text, and the
// accent colour on buttons, links and the focus ring. It is a file of its
// own, since the pages' CSP allows no inline style.
func (b *Brand) stylesheet() []byte {
	var buf bytes.Buffer
	buf.WriteString(".logo { display: block; max-width: 100%; max-height: 4rem; margin: 0 0 1rem; }\n")
	buf.WriteString(".help { color: var(--muted); font-size: .9375rem; margin-top: 1.5rem; border-top: 1px solid #d5dae1; }\n")
	if b.color != "" {
		fmt.Fprintf(&buf, ":root { --accent: %s; }\n:focus-visible { outline-color: %s; }\n", b.color, b.color)
	}
	return buf.Bytes()
}

// assets returns the brand's files by name, and sets the URLs the pages
// link to.
func (b *Brand) assets(prefix string) map[string]*asset {
	css := newAsset("style", ".css", "text/css; charset=utf-8", b.stylesheet())
	b.StyleURL = prefix + "brand/" + css.name
	out := map[string]*asset{css.name: css}
	if b.logo != nil {
		b.LogoURL = prefix + "brand/" + b.logo.name
		out[b.logo.name] = b.logo
	}
	return out
}

// brandHandler serves the brand's files. Their names change with their
// content, so they may be cached for a year.
func brandHandler(files map[string]*asset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := files[r.PathValue("file")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Set("ETag", a.etag)
		if a.contentType == "image/svg+xml" {
			// Opened on its own, an SVG is a document: no script, no
			// loads, nothing it could do in otpgate's origin.
			h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}
