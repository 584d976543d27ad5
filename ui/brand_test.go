package ui

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// validBrand checks s as the settings would and fails on any problem.
func validBrand(t *testing.T, s Settings) Checked {
	t.Helper()
	c, problems := s.Validate("OTPGATE_")
	if len(problems) > 0 {
		t.Fatalf("Validate: %v", problems)
	}
	return c
}

func brandedPortal(t *testing.T, c Checked) *portal {
	t.Helper()
	return newPortalWith(t, flowConfig(), nil, func(cfg *Config) { cfg.Brand, cfg.Catalog = c.Brand, c.Catalog })
}

// TestBrandName: the name is in the sign-in heading and every window
// title; without one the wording is neutral, naming no product.
func TestBrandName(t *testing.T) {
	tests := []struct {
		name, brand, lang, path string
		wantHeading, wantTitle  string
	}{
		{"sign-in", "Acme", "en", "signin", "<h1>Sign in to Acme</h1>", "<title>Sign in to Acme</title>"},
		{"sign-in in German", "Acme", "de", "signin", "<h1>Bei Acme anmelden</h1>", "<title>Bei Acme anmelden</title>"},
		{"another page", "Acme", "en", "logout", "<h1>Sign out</h1>", "<title>Sign out · Acme</title>"},
		{"an error page", "Acme", "fr", "nowhere", "<h1>Page introuvable</h1>", "<title>Page introuvable · Acme</title>"},
		{"no brand", "", "en", "signin", "<h1>Sign in</h1>", "<title>Sign in</title>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := brandedPortal(t, validBrand(t, Settings{BrandName: tt.brand}))
			p.lang = tt.lang
			pg := p.get(tt.path)
			for _, want := range []string{tt.wantHeading, tt.wantTitle} {
				if !strings.Contains(pg.body, want) {
					t.Errorf("got page without %q:\n%s", want, pg.body)
				}
			}
			if tt.brand == "" && strings.Contains(pg.body, "otpgate</") {
				t.Errorf("got a page naming otpgate without a brand:\n%s", pg.body)
			}
		})
	}
}

// TestBrandColor: a colour is refused at start-up, with the contrast it
// got, unless white text on it and it as a focus ring stay legible.
func TestBrandColor(t *testing.T) {
	tests := []struct {
		color string
		want  string // the problem; "": accepted
	}{
		{"#0b57d0", ""},
		{"#767676", ""}, // 4.54:1, just enough
		{"#1B1F24", ""},
		{"#777777", "OTPGATE_BRAND_COLOR: #777777 has a contrast of 4.47:1 with white, but button text and links need at least 4.5:1"},
		{"#ffcc00", "OTPGATE_BRAND_COLOR: #ffcc00 has a contrast of 1.51:1 with white"},
		{"#ffffff", "contrast of 1.00:1"},
		{"blue", `OTPGATE_BRAND_COLOR: "blue" is not a colour written #rrggbb`},
		{"#12345", `"#12345" is not a colour written #rrggbb`},
	}
	for _, tt := range tests {
		_, problems := Settings{BrandColor: tt.color}.Validate("OTPGATE_")
		switch {
		case tt.want == "" && len(problems) > 0:
			t.Errorf("%s: got %v, want accepted", tt.color, problems)
		case tt.want != "" && (len(problems) != 1 || !strings.Contains(problems[0].Error(), tt.want)):
			t.Errorf("%s: got %v, want %q", tt.color, problems, tt.want)
		}
	}
}

// TestBrandColorStylesheet: the colour comes in a stylesheet of
// otpgate's own, as the CSP allows no inline style.
func TestBrandColorStylesheet(t *testing.T) {
	p := brandedPortal(t, validBrand(t, Settings{BrandColor: "#0B57D0"}))
	pg := p.get("signin")
	href := regexp.MustCompile(`<link rel="stylesheet" href="/otpgate/(brand/style-[0-9a-f]+\.css)">`).FindStringSubmatch(pg.body)
	if href == nil {
		t.Fatalf("got no brand stylesheet:\n%s", pg.body)
	}
	css := p.get(href[1])
	p.want(css, http.StatusOK, ":root { --accent: #0b57d0; }")
	p.want(css, http.StatusOK, ":focus-visible { outline-color: #0b57d0; }")
	if strings.Contains(pg.body, "style=") || strings.Contains(pg.body, "<style") {
		t.Errorf("got inline style:\n%s", pg.body)
	}
}

func pngLogo(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 4, 2))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBrandLogo: the logo is checked at start-up and served from
// otpgate's own path, with its type and for a year, as its name changes
// with its content; an SVG cannot run anything even when opened alone.
func TestBrandLogo(t *testing.T) {
	dir := t.TempDir()
	svg := `<?xml version="1.0"?><!-- Acme --><svg xmlns="http://www.w3.org/2000/svg" width="4" height="2"><rect width="4" height="2"/></svg>`
	tests := []struct {
		file    string
		content []byte
		wantExt string
		wantCT  string
		wantCSP string
	}{
		{"logo.png", pngLogo(t), ".png", "image/png", ""},
		{"logo.svg", []byte(svg), ".svg", "image/svg+xml", "default-src 'none'; style-src 'unsafe-inline'; sandbox"},
		{"logo", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), ".jpg", "image/jpeg", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join(dir, tt.file)
			writeFile(t, name, string(tt.content))
			p := brandedPortal(t, validBrand(t, Settings{BrandLogoFile: name, BrandName: "Acme"}))
			pg := p.get("signin")
			src := regexp.MustCompile(`<img class="logo" src="/otpgate/(brand/logo-[0-9a-f]+\` + tt.wantExt + `)" alt="Acme">`).FindStringSubmatch(pg.body)
			if src == nil {
				t.Fatalf("got no logo:\n%s", pg.body)
			}
			resp, err := p.web.Get(p.srv.URL + prefix + src[1])
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			for _, h := range []struct{ name, want string }{
				{"Content-Type", tt.wantCT},
				{"Cache-Control", "public, max-age=31536000, immutable"},
				{"X-Content-Type-Options", "nosniff"},
				{"Content-Security-Policy", tt.wantCSP},
			} {
				if got := resp.Header.Get(h.name); got != h.want {
					t.Errorf("%s: got %q, want %q", h.name, got, h.want)
				}
			}
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body.Bytes(), tt.content) {
				t.Errorf("got status %d and %d bytes, want 200 and the file's %d", resp.StatusCode, body.Len(), len(tt.content))
			}
		})
	}
	p := newPortal(t, flowConfig(), nil)
	p.want(p.get("brand/logo-000000000000.png"), http.StatusNotFound, "")
}

// TestBrandLogoRefused: a logo otpgate would not serve is refused at
// start-up, naming the variable.
func TestBrandLogoRefused(t *testing.T) {
	dir := t.TempDir()
	big := append(pngLogo(t), make([]byte, maxLogoBytes)...)
	for _, tt := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"gif.gif", []byte("GIF89a\x01\x00\x01\x00"), "is not a PNG, JPEG, WebP or SVG image"},
		{"html.svg", []byte(`<html><svg xmlns="http://www.w3.org/2000/svg"></svg></html>`), "is not a PNG, JPEG, WebP or SVG image"},
		{"big.png", big, "is larger than 512 KiB"},
		{"missing.png", nil, "cannot read"},
	} {
		name := filepath.Join(dir, tt.name)
		if tt.content != nil {
			writeFile(t, name, string(tt.content))
		}
		_, problems := Settings{BrandLogoFile: name}.Validate("OTPGATE_")
		if len(problems) != 1 || !strings.HasPrefix(problems[0].Error(), "OTPGATE_BRAND_LOGO_FILE: ") || !strings.Contains(problems[0].Error(), tt.want) {
			t.Errorf("%s: got %v, want OTPGATE_BRAND_LOGO_FILE: …%s", tt.name, problems, tt.want)
		}
	}
}

// TestBrandHelp: the help line and link are on every page; only https,
// tel: and mailto: links are taken.
func TestBrandHelp(t *testing.T) {
	tests := []struct {
		url, lang, want string
	}{
		{"tel:+49 30 1234567", "de", `<footer class="help"><p>Problems? Call the service desk. <a href="tel:+49%2030%201234567">+49 30 1234567</a></p></footer>`},
		{"mailto:help@example.com", "en", `<a href="mailto:help@example.com">help@example.com</a>`},
		{"https://help.example.com/otp", "fr", `<a href="https://help.example.com/otp">Aide</a>`},
	}
	for _, tt := range tests {
		p := brandedPortal(t, validBrand(t, Settings{BrandHelpText: "Problems? Call the service desk.", BrandHelpURL: tt.url}))
		p.lang = tt.lang
		for _, path := range []string{"signin", "logout", "nowhere"} {
			if pg := p.get(path); !strings.Contains(pg.body, tt.want) {
				t.Errorf("%s %s: got page without %q:\n%s", tt.url, path, tt.want, pg.body)
			}
		}
	}
	for _, bad := range []string{"http://help.example.com", "javascript:alert(1)", "https://user@help.example.com", "tel:call-us", "mailto:nobody"} {
		_, problems := Settings{BrandHelpURL: bad}.Validate("OTPGATE_")
		if len(problems) != 1 || !strings.HasPrefix(problems[0].Error(), "OTPGATE_BRAND_HELP_URL: ") {
			t.Errorf("%s: got %v, want an OTPGATE_BRAND_HELP_URL problem", bad, problems)
		}
	}
	_, problems := Settings{BrandName: "Acme\nInc", BrandHelpText: strings.Repeat("x", 301)}.Validate("OTPGATE_")
	if len(problems) != 2 {
		t.Errorf("got %v, want problems with BRAND_NAME and BRAND_HELP_TEXT", problems)
	}
}
