package gateway

// The pages in a real headless Chromium (internal/browsertest): the whole
// sign-in on a desktop and a phone, and every error page, each without a
// console error or CSP violation, with labels, focus, contrast and tap
// targets checked in the page as rendered.

import (
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/otpgate/otpgate/auth/slapdtest"
	"github.com/otpgate/otpgate/internal/browsertest"
)

// UpdateScreenshotsEnv, set to 1, makes the browser tests rewrite the
// README's screenshots under docs/screenshots.
const UpdateScreenshotsEnv = "OTPGATE_UPDATE_SCREENSHOTS"

// pageAudit finds, in the page as rendered, what WCAG 2.2 AA asks of it:
// every form field labelled, text contrast at least 4.5:1 against what is
// behind it, and on a phone every field, button and button-like link at
// least 44 CSS pixels high (inline links in a sentence are exempt, as in
// WCAG 2.5.8) and no sideways scrolling. It returns one line per finding.
const pageAudit = `(() => {
  const out = [];
  const rgb = c => { const p = c.match(/[\d.]+/g).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const behind = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const name = el => '<' + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '> "' + el.textContent.trim().slice(0, 40) + '"';
  for (const el of document.querySelectorAll('body *')) {
    const cs = getComputedStyle(el);
    if (cs.display === 'none' || cs.visibility === 'hidden' || el.disabled) continue;
    if (![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const r = ratio(rgb(cs.color), behind(el));
    if (r < 4.5) out.push('text contrast ' + r.toFixed(2) + ':1 < 4.5:1: ' + name(el));
  }
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!el.labels || !el.labels.length || !el.labels[0].textContent.trim()) out.push('no label: <input name=' + el.name + '>');
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!el.textContent.trim() && !el.getAttribute('aria-label')) out.push('no accessible name: ' + name(el));
  }
  if (matchMedia('(pointer: coarse)').matches) {
    for (const el of document.querySelectorAll('input:not([type=hidden]), button, a.button')) {
      const h = el.getBoundingClientRect().height;
      if (h < 44) out.push('tap target ' + h.toFixed(1) + 'px high < 44px: ' + name(el));
    }
    if (document.documentElement.scrollWidth > innerWidth) out.push('scrolls sideways: ' + document.documentElement.scrollWidth + 'px wide in ' + innerWidth);
  }
  return out;
})()`

// focusAudit checks the focused element's focus ring: drawn, at least 2px,
// and at least 3:1 against the background around it (WCAG 1.4.11).
const focusAudit = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return 'nothing focused';
  const rgb = c => { const p = c.match(/[\d.]+/g).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const behind = el => { for (let e = el; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const cs = getComputedStyle(el);
  const what = '<' + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '>';
  if (cs.outlineStyle === 'none' || parseFloat(cs.outlineWidth) < 2) return 'no focus ring on ' + what;
  const r = ratio(rgb(cs.outlineColor), behind(el.parentElement));
  return r >= 3 ? '' : 'focus ring contrast ' + r.toFixed(2) + ':1 < 3:1 on ' + what;
})()`

// audit runs pageAudit and then tabs through every focusable element,
// checking its focus ring, and fails the test on any finding.
func audit(t *testing.T, tab *browsertest.Tab, page string) {
	t.Helper()
	for _, f := range browsertest.Run(tab, chromedp.Evaluate[[]string](pageAudit)) {
		t.Errorf("%s page: %s", page, f)
	}
	// One step: start from the page, not from an autofocused field, so
	// that Tab visits every focusable element, and check each.
	findings := browsertest.Run(tab, func(ctx context.Context, tgt *chromedp.Target) ([]string, error) {
		n, err := chromedp.Evaluate[int](`document.body.tabIndex = -1, document.body.focus(), document.body.removeAttribute('tabindex'), document.querySelectorAll('input:not([type=hidden]):not(:disabled), button:not(:disabled), a[href]').length`)(ctx, tgt)
		if err != nil {
			return nil, err
		}
		var out []string
		for range n {
			if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tgt); err != nil {
				return nil, err
			}
			f, err := chromedp.Evaluate[string](focusAudit)(ctx, tgt)
			if err != nil {
				return nil, err
			}
			if f != "" {
				out = append(out, f)
			}
		}
		return out, nil
	})
	for _, f := range findings {
		t.Errorf("%s page: %s", page, f)
	}
}

// focused returns the id of the focused element.
func focused(tab *browsertest.Tab) string {
	return browsertest.Run(tab, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`))
}

// press clicks the element on a desktop and taps it on a phone.
func press(vp browsertest.Viewport, sel string) chromedp.Action[chromedp.Void] {
	if vp.Mobile {
		return chromedp.Tap(chromedp.CSS(sel))
	}
	return chromedp.Click(chromedp.CSS(sel))
}

// keepScreenshot copies a screenshot to docs/screenshots when
// UpdateScreenshotsEnv is 1, for the README.
func keepScreenshot(t *testing.T, png []byte, name string) {
	t.Helper()
	if os.Getenv(UpdateScreenshotsEnv) != "1" {
		return
	}
	path := filepath.Join("..", "..", "docs", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("updated %s", path)
}

// The whole sign-in in Chromium, as a person does it, on a laptop and on
// a phone: the app's URL, the sign-in page, the password, the code the
// SMS brought, and the app with the user's identity.
func TestBrowserSignIn(t *testing.T) {
	for _, vp := range []browsertest.Viewport{browsertest.Desktop, browsertest.Phone} {
		t.Run(vp.Name, func(t *testing.T) {
			e := startEnv(t)
			alice := slapdtest.Alice
			tab := browsertest.NewTab(t, vp)

			tab.Navigate(e.gw.URL+"/app/page?x=1", http.StatusOK)
			if loc := browsertest.Run(tab, chromedp.Location()); loc != e.gw.URL+"/otpgate/signin?rd=%2Fapp%2Fpage%3Fx%3D1" {
				t.Fatalf("the app's URL led to %q, want the sign-in page", loc)
			}
			if got := focused(tab); got != "username" {
				t.Errorf("sign-in page: focus on %q, want username", got)
			}
			_, png := tab.Screenshot("signin")
			if vp == browsertest.Desktop {
				keepScreenshot(t, png, "signin-desktop.png")
			}
			audit(t, tab, "sign-in")

			tab.Do(chromedp.SendKeys(chromedp.ID("username"), alice.Username), chromedp.SendKeys(chromedp.ID("password"), alice.Password))
			tab.Submit(http.StatusOK, press(vp, `form button[type=submit]`))
			if loc := browsertest.Run(tab, chromedp.Location()); loc != e.gw.URL+"/otpgate/code" {
				t.Fatalf("after the password: at %q, want the code page", loc)
			}
			attrs := browsertest.Run(tab, chromedp.Attributes(chromedp.ID("code")))
			for name, want := range map[string]string{"autocomplete": "one-time-code", "inputmode": "numeric", "name": "code"} {
				if attrs[name] != want {
					t.Errorf("code field: %s = %q, want %q", name, attrs[name], want)
				}
			}
			if got := browsertest.Run(tab, chromedp.Evaluate[string](`document.getElementById('code').labels[0]?.htmlFor ?? ''`)); got != "code" {
				t.Errorf("code field: labelled by %q, want a <label for=code>", got)
			}
			if got := focused(tab); got != "code" {
				t.Errorf("code page: focus on %q, want code", got)
			}
			_, png = tab.Screenshot("code")
			if vp == browsertest.Phone {
				keepScreenshot(t, png, "code-phone.png")
			}
			audit(t, tab, "code")

			tab.Do(chromedp.SendKeys(chromedp.ID("code"), e.sms.lastCode(alice.Mobile)))
			tab.Submit(http.StatusOK, press(vp, `form[action$="/code"] button[type=submit]`))
			var seen map[string]any
			body := browsertest.Run(tab, chromedp.Text(chromedp.CSS("body")))
			if err := json.Unmarshal([]byte(body), &seen); err != nil {
				t.Fatalf("after the code: %q, want the app's answer: %v", body, err)
			}
			if seen["path"] != "/app/page?x=1" || strings.Join(headerValues(seen, "Remote-User"), ",") != "alice" {
				t.Errorf("app saw path %v, Remote-User %q; want /app/page?x=1 and alice", seen["path"], headerValues(seen, "Remote-User"))
			}
		})
	}
}

// Every error page renders in Chromium without a console error or CSP
// violation, with its labels, contrast, focus rings and tap targets right.
func TestBrowserErrorPages(t *testing.T) {
	for _, vp := range []browsertest.Viewport{browsertest.Desktop, browsertest.Phone} {
		t.Run(vp.Name, func(t *testing.T) {
			e := startEnv(t, func(c *Config) {
				c.Proxy.AccessRules = "* /admin/** two_factor groups=admins"
				c.Auth.Lockout.MaxFailures = 3
			})
			u := e.gw.URL
			signIn := func(tab *browsertest.Tab, user, password string, status int64) {
				t.Helper()
				tab.Navigate(u+"/otpgate/signin?rd=%2Fadmin%2F", http.StatusOK)
				tab.Do(chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), password))
				tab.Submit(status, press(vp, `form button[type=submit]`))
			}
			enterCode := func(tab *browsertest.Tab, code string, status int64) {
				t.Helper()
				tab.Do(chromedp.SendKeys(chromedp.ID("code"), code))
				tab.Submit(status, press(vp, `form[action$="/code"] button[type=submit]`))
			}
			// check audits the page and checks that its heading is the
			// expected page's: the title says which page this is.
			check := func(tab *browsertest.Tab, page, title string) {
				t.Helper()
				if got := browsertest.Run(tab, chromedp.Text(chromedp.CSS("h1"))); got != title {
					t.Errorf("%s page: heading %q, want %q", page, got, title)
				}
				tab.Screenshot(strings.ReplaceAll(page, " ", "-"))
				audit(t, tab, page)
			}
			alice, bob, carol := slapdtest.Alice, slapdtest.Bob, slapdtest.Carol

			t.Run("wrong password", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				signIn(tab, alice.Username, "not-the-password", http.StatusUnauthorized)
				check(tab, "wrong password", "Sign in")
				if got := browsertest.Run(tab, chromedp.AttributeValue(chromedp.ID("username"), "aria-describedby")); got.Value != "form-error" {
					t.Errorf("username field: aria-describedby %q, want form-error", got.Value)
				}
			})
			t.Run("wrong code, cooldown, expired", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				signIn(tab, alice.Username, alice.Password, http.StatusOK)
				if disabled := browsertest.Run(tab, chromedp.Evaluate[bool](`document.querySelector('form[action$="code/resend"] button').disabled`)); !disabled {
					t.Error("code page: Send a new code is enabled during the cooldown")
				}
				enterCode(tab, "000000", http.StatusUnauthorized)
				check(tab, "wrong code", "Enter your code")
				// A page from before the cooldown would offer the button.
				tab.Do(chromedp.RemoveAttribute(chromedp.CSS(`form[action$="code/resend"] button`), "disabled"))
				tab.Submit(http.StatusTooManyRequests, press(vp, `form[action$="code/resend"] button`))
				check(tab, "resend cooldown", "Please wait a moment")
				if got := browsertest.Run(tab, chromedp.Text(chromedp.CSS("main p"))); strings.Contains(got, "UTC") || !strings.Contains(got, " in ") || strings.Contains(got, " 0 seconds") {
					t.Errorf("cooldown page says %q, want the time left, no clock time", got)
				}
				tab.Navigate(u+"/otpgate/code", http.StatusOK)
				e.clock.Advance(6 * time.Minute) // past the code's 5 minutes
				enterCode(tab, e.sms.lastCode(alice.Mobile), http.StatusGone)
				check(tab, "expired code", "Sign-in expired")
			})
			t.Run("no mobile number", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				signIn(tab, bob.Username, bob.Password, http.StatusForbidden)
				check(tab, "no mobile", "No mobile number on file")
			})
			t.Run("locked out", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				for range 2 {
					signIn(tab, bob.Username, "guess", http.StatusUnauthorized)
				}
				signIn(tab, bob.Username, "guess", http.StatusTooManyRequests)
				check(tab, "locked", "Account locked")
			})
			t.Run("not allowed", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				signIn(tab, carol.Username, carol.Password, http.StatusOK)
				enterCode(tab, e.sms.lastCode(carol.Mobile), http.StatusForbidden)
				check(tab, "forbidden", "Not allowed")
			})
			t.Run("not found", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				tab.Navigate(u+"/otpgate/no-such-page", http.StatusNotFound)
				check(tab, "not found", "Page not found")
			})
			t.Run("directory down", func(t *testing.T) {
				tab := browsertest.NewTab(t, vp)
				e.dir.Stop()
				signIn(tab, alice.Username, alice.Password, http.StatusServiceUnavailable)
				check(tab, "directory down", "Sign-in is unavailable")
			})
		})
	}
}

// The capture page on a phone: the tel field is styled as the others (a
// 44px tap target), and a refused number is described once, by the error.
func TestBrowserCapturePage(t *testing.T) {
	e := startEnvWithDirectory(t, []slapdtest.Option{slapdtest.WithServiceMobileWrite()}, func(c *Config) {
		c.Auth.CaptureMobile, c.Auth.DefaultRegion = true, "GB"
	})
	tab := browsertest.NewTab(t, browsertest.Phone)
	tab.Navigate(e.gw.URL+"/otpgate/signin", http.StatusOK)
	tab.Do(chromedp.SendKeys(chromedp.ID("username"), slapdtest.Bob.Username), chromedp.SendKeys(chromedp.ID("password"), slapdtest.Bob.Password))
	tab.Submit(http.StatusOK, chromedp.Tap(chromedp.CSS(`form button[type=submit]`)))
	if got := focused(tab); got != "mobile" {
		t.Errorf("capture page: focus on %q, want mobile", got)
	}
	tab.Screenshot("capture")
	audit(t, tab, "capture")

	tab.Do(chromedp.SendKeys(chromedp.ID("mobile"), "0800 123 4567"))
	tab.Submit(http.StatusBadRequest, chromedp.Tap(chromedp.CSS(`form button[type=submit]`)))
	tab.Screenshot("capture-refused")
	audit(t, tab, "capture, number refused")
	paragraphs := browsertest.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll('main p')].map(p => p.textContent.trim())`))
	var about []string
	for _, p := range paragraphs {
		if strings.Contains(p, "number") && !strings.Contains(p, "has no mobile number") {
			about = append(about, p)
		}
	}
	if len(about) != 1 || !strings.Contains(about[0], "not a mobile number") {
		t.Errorf("refused number: the page says %q about it, want one sentence, the error", about)
	}
}

// /favicon.ico is otpgate's icon, cached, for a browser without a session,
// and the app's for one with a session; the pages link the icon under the
// prefix.
func TestFavicon(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	for _, path := range []string{"/favicon.ico", "/otpgate/static/favicon.ico"} {
		r := b.get(path)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "image/x-icon" ||
			r.header.Get("Cache-Control") != "public, max-age=3600" || !strings.HasPrefix(r.body, "\x00\x00\x01\x00") {
			t.Errorf("GET %s without a session: %d, %q, Cache-Control %q; want 200, an image/x-icon, public, max-age=3600",
				path, r.status, r.header.Get("Content-Type"), r.header.Get("Cache-Control"))
		}
	}
	if r := b.get("/otpgate/signin"); !strings.Contains(r.body, `<link rel="icon" href="/otpgate/static/favicon.ico">`) {
		t.Error("sign-in page does not link the icon")
	}
	b.signIn(slapdtest.Alice, "/")
	if seen := b.appSaw("/favicon.ico"); seen["path"] != "/favicon.ico" {
		t.Errorf("with a session the app saw %v, want /favicon.ico", seen["path"])
	}
}

// The README shows the screenshots TestBrowserSignIn makes, at the size it
// makes them.
func TestREADMEScreenshots(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		width, height int
	}{
		{"signin-desktop.png", 1280, 800},
		{"code-phone.png", 390 * 3, 844 * 3},
	}
	for _, tt := range tests {
		if !strings.Contains(string(readme), `src="docs/screenshots/`+tt.name+`"`) {
			t.Errorf("README does not show docs/screenshots/%s", tt.name)
		}
		f, err := os.Open(filepath.Join("..", "..", "docs", "screenshots", tt.name))
		if err != nil {
			t.Fatalf("%v; %s=1 go test ./internal/gateway -run TestBrowserSignIn makes it", err, UpdateScreenshotsEnv)
		}
		cfg, err := png.DecodeConfig(f)
		f.Close()
		if err != nil || cfg.Width != tt.width || cfg.Height != tt.height {
			t.Errorf("%s: %dx%d (%v), want a %dx%d PNG", tt.name, cfg.Width, cfg.Height, err, tt.width, tt.height)
		}
	}
}
