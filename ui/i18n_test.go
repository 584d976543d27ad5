package ui

import (
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/otpgate/otpgate/auth"
)

// catalogueFile reads a built-in catalogue as written: ID to its forms
// ("other" for a message without plurals).
func catalogueFile(t *testing.T, name string) map[string]map[string]string {
	t.Helper()
	b, err := localeFS.ReadFile("locales/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := toml.Unmarshal(b, &raw); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]map[string]string{}
	for id, v := range raw {
		switch x := v.(type) {
		case string:
			out[id] = map[string]string{"other": x}
		case map[string]any:
			out[id] = map[string]string{}
			for form, s := range x {
				out[id][form], _ = s.(string)
			}
		default:
			t.Errorf("%s: %s is neither text nor plural forms", name, id)
		}
	}
	return out
}

var (
	templateField = regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)
	smsField      = regexp.MustCompile(`\{(code|ttl|host)\}`)
)

// markup is what a message's text must keep from English: its fields,
// SMS placeholders, links and bold parts, counted.
func markup(s string) []string {
	var out []string
	for _, m := range templateField.FindAllStringSubmatch(s, -1) {
		out = append(out, "{{."+m[1]+"}}")
	}
	out = append(out, smsField.FindAllString(s, -1)...)
	for _, tag := range []string{"<a>", "</a>", "<strong>", "</strong>"} {
		for range strings.Count(s, tag) {
			out = append(out, tag)
		}
	}
	slices.Sort(out)
	return out
}

// TestCataloguesComplete fails when a built-in catalogue lacks a message of
// the English one, has one English does not, or drops or adds a field, a
// link or a bold part; and when pages or handlers use an ID English lacks.
func TestCataloguesComplete(t *testing.T) {
	en := catalogueFile(t, "en.toml")
	files, err := localeFS.ReadDir("locales")
	if err != nil {
		t.Fatal(err)
	}
	var langs []string
	for _, f := range files {
		langs = append(langs, strings.TrimSuffix(f.Name(), ".toml"))
	}
	if want := []string{"de", "en", "es", "fr", "nl"}; !slices.Equal(langs, want) {
		t.Errorf("got catalogues %q, want %q", langs, want)
	}
	for _, lang := range langs {
		if lang == "en" {
			continue
		}
		t.Run(lang, func(t *testing.T) {
			cat := catalogueFile(t, lang+".toml")
			for _, id := range slices.Sorted(maps.Keys(en)) {
				forms, ok := cat[id]
				if !ok {
					t.Errorf("%s lacks %s (en: %q)", lang, id, en[id]["other"])
					continue
				}
				for form, text := range en[id] {
					got, ok := forms[form]
					if !ok {
						t.Errorf("%s.%s lacks the %q form", lang, id, form)
						continue
					}
					if g, w := markup(got), markup(text); !slices.Equal(g, w) {
						t.Errorf("%s.%s[%s]: got fields and markup %q, want %q as in English", lang, id, form, g, w)
					}
				}
			}
			for id := range cat {
				if _, ok := en[id]; !ok {
					t.Errorf("%s has %s, which English lacks", lang, id)
				}
			}
		})
	}
	for _, id := range usedIDs(t) {
		if _, ok := en[id]; !ok {
			t.Errorf("message %s is used by the pages but not in en.toml", id)
		}
	}
}

// usedIDs finds the message IDs the templates and handlers name.
func usedIDs(t *testing.T) []string {
	t.Helper()
	inTemplate := regexp.MustCompile(`\.(?:T|HTML) "(\w+)"`)
	inGo := regexp.MustCompile(`\b(?:m|T|HTML)\("(\w+)"|"(Mobile\w+)",$`)
	var ids []string
	tmpls, _ := filepath.Glob("templates/*.html")
	for _, name := range tmpls {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range inTemplate.FindAllStringSubmatch(string(b), -1) {
			ids = append(ids, m[1])
		}
	}
	srcs, _ := filepath.Glob("*.go")
	for _, name := range srcs {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			for _, m := range inGo.FindAllStringSubmatch(strings.TrimSpace(line), -1) {
				ids = append(ids, m[1]+m[2])
			}
		}
	}
	if len(ids) < 100 {
		t.Fatalf("found only %d uses of messages; has the way pages name them changed?", len(ids))
	}
	return ids
}

// TestPageLanguage: the sign-in page is in the browser's language, or the
// forced one, or the first offered when none matches.
func TestPageLanguage(t *testing.T) {
	tests := []struct {
		name           string
		acceptLanguage string
		opt            CatalogOptions
		wantLang       string
		wantHeading    string
	}{
		{"German", "de", CatalogOptions{}, "de", "Anmelden"},
		{"Swiss German finds German", "de-CH", CatalogOptions{}, "de", "Anmelden"},
		{"unknown language: English", "xx", CatalogOptions{}, "en", "Sign in"},
		{"none sent: English", "", CatalogOptions{}, "en", "Sign in"},
		{"q-values", "fr;q=0.5, nl;q=0.9, en;q=0.1", CatalogOptions{}, "nl", "Inloggen"},
		{"regional Spanish", "es-MX,es;q=0.9", CatalogOptions{}, "es", "Iniciar sesión"},
		{"French", "fr-FR,fr;q=0.9,en;q=0.8", CatalogOptions{}, "fr", "Connexion"},
		{"forced language wins", "de", CatalogOptions{Force: "fr"}, "fr", "Connexion"},
		{"first offered when none matches", "es", CatalogOptions{Languages: []string{"de", "en"}}, "de", "Anmelden"},
		{"only offered languages", "fr, en;q=0.5", CatalogOptions{Languages: []string{"de", "en"}}, "en", "Sign in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cat, problems := NewCatalog(tt.opt)
			if len(problems) > 0 {
				t.Fatal(problems)
			}
			p := newPortalWith(t, flowConfig(), nil, func(c *Config) { c.Catalog = cat })
			p.lang = tt.acceptLanguage
			pg := p.get("signin")
			p.want(pg, http.StatusOK, `<html lang="`+tt.wantLang+`">`)
			p.want(pg, http.StatusOK, "<h1>"+tt.wantHeading+"</h1>")
		})
	}
}

// TestPagesInGerman walks a German sign-in: every page, the error of a
// wrong code (with its plural) and the SMS are German.
func TestPagesInGerman(t *testing.T) {
	cfg := flowConfig()
	cfg.Message = builtinSMS(t) // SMS_MESSAGE left at its default
	p := newPortal(t, cfg, nil)
	p.lang = "de-DE,de;q=0.9,en;q=0.5"
	p.want(p.password(alice.Username, "wrong"), http.StatusUnauthorized, "Benutzername oder Passwort ist falsch.")
	p.want(p.password(alice.Username, alice.Password), http.StatusSeeOther, "")
	code := p.get("code")
	p.want(code, http.StatusOK, "<h1>Code eingeben</h1>")
	p.want(code, http.StatusOK, "Er ist 5 Minuten gültig.")
	// Right after sending, the cooldown runs: the time left, in German.
	p.want(code, http.StatusOK, "Einen neuen Code können Sie in 30 Sekunden anfordern. Laden Sie die Seite dann neu.")
	sent := p.sms.Sent()
	smsCode := regexp.MustCompile(`\d{6}`).FindString(sent[0].Text)
	if want := "Ihr Anmeldecode lautet " + smsCode + ". Er ist 5 Minuten gültig."; sent[0].Text != want {
		t.Errorf("got SMS %q, want %q", sent[0].Text, want)
	}
	p.want(p.post("code", url.Values{"code": {wrongCode(smsCode)}}), http.StatusUnauthorized, "Der Code ist falsch. Sie haben noch 2 Versuche.")
	p.want(p.post("code", url.Values{"code": {wrongCode(smsCode)}}), http.StatusUnauthorized, "Der Code ist falsch. Sie haben noch 1 Versuch.")
	p.want(p.get("nowhere"), http.StatusNotFound, "Diese Seite gibt es nicht.")
}

func builtinSMS(t *testing.T) string {
	t.Helper()
	return catalogueFile(t, "en.toml")[smsMessageID]["other"]
}

// TestSMSLanguage: the SMS is in the language of the pages that sent it;
// an SMS_MESSAGE set away from its default is every language's text,
// except where TRANSLATIONS_DIR gives one.
func TestSMSLanguage(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "nl.toml"), `SMSMessage = "Code {code}, {ttl} geldig"`)
	tests := []struct {
		name, acceptLanguage, message, want string
	}{
		{"English by default", "en", "", "Your sign-in code is 123456. It expires in 5 minutes."},
		{"French", "fr", "", "Votre code de connexion est 123456. Il expire dans 5 minutes."},
		{"Spanish", "es", "", "Su código de acceso es 123456. Caduca en 5 minutos."},
		{"Dutch from the directory", "nl", "", "Code 123456, 5 minuten geldig"},
		{"SMS_MESSAGE set: every language", "de", "Acme: {code} ({ttl})", "Acme: 123456 (5 Minuten)"},
		{"the directory wins over SMS_MESSAGE", "nl", "Acme: {code}", "Code 123456, 5 minuten geldig"},
	}
	cat, problems := NewCatalog(CatalogOptions{Dir: dir})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := flowConfig()
			cfg.Message = tt.message
			if cfg.Message == "" {
				cfg.Message = builtinSMS(t)
			}
			p := newPortalWith(t, cfg, nil, func(c *Config) { c.Catalog = cat })
			p.lang = tt.acceptLanguage
			p.want(p.password(alice.Username, alice.Password), http.StatusSeeOther, "")
			sent := p.sms.Sent()
			if len(sent) != 1 {
				t.Fatalf("got %d SMS, want 1", len(sent))
			}
			got := regexp.MustCompile(`\d{6}`).ReplaceAllString(sent[0].Text, "123456")
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTranslationsDir: a translator's directory adds a language and
// overrides messages; what it lacks is English; mistakes are refused at
// start-up, each naming the variable.
func TestTranslationsDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "pt-BR.toml"), "SignInTitle = \"Entrar\"\n")
	writeFile(t, filepath.Join(dir, "de.toml"), "SignInTitle = \"Einloggen\"\n")
	writeFile(t, filepath.Join(dir, "README"), "notes")
	cat, problems := NewCatalog(CatalogOptions{Dir: dir})
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "TRANSLATIONS_DIR: README: want a .toml or .json message file") {
		t.Errorf("got problems %q, want one about README", problems)
	}
	for _, tt := range []struct{ accept, lang, title, hint string }{
		{"pt-BR", "pt-BR", "Entrar", "After your password, we send"},
		{"pt", "pt-BR", "Entrar", "After your password, we send"},
		{"de", "de", "Einloggen", "Nach Ihrem Passwort senden wir"},
	} {
		p := newPortalWith(t, flowConfig(), nil, func(c *Config) { c.Catalog = cat })
		p.lang = tt.accept
		pg := p.get("signin")
		p.want(pg, http.StatusOK, `<html lang="`+tt.lang+`">`)
		p.want(pg, http.StatusOK, "<h1>"+tt.title+"</h1>")
		p.want(pg, http.StatusOK, tt.hint)
	}

	for _, tt := range []struct {
		name, file, content string
		opt                 CatalogOptions
		want                string
	}{
		{"unknown ID", "fr.toml", `SignInTitel = "x"`, CatalogOptions{}, `TRANSLATIONS_DIR: fr.toml: "SignInTitel" is no message of otpgate's pages`},
		{"SMS without its code", "fr.toml", `SMSMessage = "Bonjour"`, CatalogOptions{}, "TRANSLATIONS_DIR: the fr SMS text (SMSMessage) must contain {code}"},
		{"not TOML", "fr.toml", `SignInTitle = `, CatalogOptions{}, "TRANSLATIONS_DIR: fr.toml:"},
		{"not a language", "french.toml", `SignInTitle = "x"`, CatalogOptions{}, "TRANSLATIONS_DIR: french.toml: the name is not a language tag"},
		{"forced language missing", "", "", CatalogOptions{Force: "it"}, `LANGUAGE: "it" is not an available language (de, en, es, fr, nl)`},
		{"offered language missing", "", "", CatalogOptions{Languages: []string{"de", "sv"}}, `LANGUAGES: "sv" is not an available language`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opt := tt.opt
			if tt.file != "" {
				opt.Dir = t.TempDir()
				writeFile(t, filepath.Join(opt.Dir, tt.file), tt.content)
			}
			_, problems := NewCatalog(opt)
			if len(problems) != 1 || !strings.Contains(problems[0].Error(), tt.want) {
				t.Errorf("got problems %q, want one with %q", problems, tt.want)
			}
		})
	}
	if _, problems := NewCatalog(CatalogOptions{Dir: filepath.Join(dir, "missing")}); len(problems) != 1 || !strings.Contains(problems[0].Error(), "TRANSLATIONS_DIR: cannot read") {
		t.Errorf("got problems %q, want TRANSLATIONS_DIR: cannot read", problems)
	}
}

// TestLocalizerPlurals: counts and durations take each language's forms.
func TestLocalizerPlurals(t *testing.T) {
	checkDurations(t, (*Localizer).Duration, []durationCase{
		{"en", time.Minute, "1 minute"},
		{"en", 5 * time.Minute, "5 minutes"},
		{"en", 90 * time.Second, "90 seconds"},
		{"de", time.Second, "1 Sekunde"},
		{"de", 2 * time.Hour, "2 Stunden"},
		{"fr", time.Hour, "1 heure"},
		{"fr", 10 * time.Minute, "10 minutes"},
		{"es", 30 * time.Second, "30 segundos"},
		{"nl", time.Minute, "1 minuut"},
		{"nl", 3 * time.Hour, "3 uur"},
	})
}

type durationCase struct {
	lang string
	d    time.Duration
	want string
}

// checkDurations writes each case's duration with write, in the case's
// language as Accept-Language chooses it.
func checkDurations(t *testing.T, write func(*Localizer, time.Duration) string, tests []durationCase) {
	t.Helper()
	cat, problems := NewCatalog(CatalogOptions{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, tt := range tests {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Accept-Language", tt.lang)
		if got := write(cat.For(r), tt.d); got != tt.want {
			t.Errorf("%s %v: got %q, want %q", tt.lang, tt.d, got, tt.want)
		}
	}
}

// TestLocalizerTimeLeft: a wait is written as the time left, rounded up,
// never "in 0 seconds", in the page's language.
func TestLocalizerTimeLeft(t *testing.T) {
	checkDurations(t, (*Localizer).left, []durationCase{
		{"en", 45 * time.Second, "in 45 seconds"},
		{"en", 44*time.Second + time.Millisecond, "in 45 seconds"}, // rounded up, never down
		{"en", time.Second, "in 1 second"},
		{"en", 300 * time.Millisecond, "in 1 second"}, // never "in 0 seconds"
		{"en", 0, "in 1 second"},
		{"en", -time.Minute, "in 1 second"},
		{"en", 59*time.Second + 500*time.Millisecond, "in 1 minute"},
		{"en", 61 * time.Second, "in 2 minutes"},
		{"en", 14*time.Minute + time.Second, "in 15 minutes"},
		{"en", 65 * time.Minute, "in 65 minutes"},
		{"en", 2*time.Hour + time.Second, "in 3 hours"},
		{"de", 30 * time.Second, "in 30 Sekunden"},
		{"fr", 15 * time.Minute, "dans 15 minutes"},
		{"es", time.Minute, "dentro de 1 minuto"},
		{"nl", 3 * time.Hour, "over 3 uur"},
	})
}

// TestLocalizerHTML: only the catalogue's <strong> and <a> are markup;
// every value is escaped.
func TestLocalizerHTML(t *testing.T) {
	cat, _ := NewCatalog(CatalogOptions{})
	l := cat.localizers[0]
	tests := []struct {
		id   string
		args []any
		want string
	}{
		{"SignedInAs", []any{"User", `<script>x</script>&"`}, `You are signed in as <strong>&lt;script&gt;x&lt;/script&gt;&amp;&#34;</strong>.`},
		{"SignedInAs", []any{"User", "<strong>"}, `You are signed in as <strong>&lt;strong&gt;</strong>.`},
		{"BackupOtherWays", []any{"href", "/p/code", "href", `/p/signin?rd=%2F"x`}, `<a href="/p/code">Use the code from the text message</a> instead, or <a href="/p/signin?rd=%2F&#34;x">start again</a> with your password.`},
		{"BackupCodesLeft", []any{"Count", 1}, `You have <strong>1</strong> unused backup code.`},
	}
	for _, tt := range tests {
		if got := string(l.HTML(tt.id, tt.args...)); got != tt.want {
			t.Errorf("HTML(%s, %q): got %q, want %q", tt.id, tt.args, got, tt.want)
		}
	}
}

// TestSMSWordingConfigured: an SMS_MESSAGE set away from its default is
// the text in every language, its {ttl} in the pages' language.
func TestSMSWordingConfigured(t *testing.T) {
	cat, _ := NewCatalog(CatalogOptions{})
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Accept-Language", "de")
	w := cat.smsWording(cat.For(r), "Acme {code}", 5*time.Minute)
	if want := (auth.Wording{Template: "Acme {code}", TTL: "5 Minuten"}); w != want {
		t.Errorf("got %+v, want %+v", w, want)
	}
}
