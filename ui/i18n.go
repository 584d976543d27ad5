package ui

import (
	"embed"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	"github.com/otpgate/otpgate/auth"
)

// The pages' words live in message files, one per language, named by its
// BCP 47 tag (de.toml, pt-BR.toml). The built-in ones are embedded; a
// directory of the same files (TRANSLATIONS_DIR) adds languages or
// overrides single messages, so a translator never touches Go. English is
// the reference: every other language falls back to it, message by message.

//go:embed locales/*.toml
var localeFS embed.FS

// sourceLanguage is the language of the reference catalogue.
var sourceLanguage = language.English

// smsMessageID is the catalogue's SMS text, with {code}, {ttl} and {host}.
const smsMessageID = "SMSMessage"

// Catalog is the pages' messages in every offered language.
type Catalog struct {
	bundle     *i18n.Bundle
	offered    []language.Tag // the first is the fallback
	matcher    language.Matcher
	forced     bool
	localizers []*Localizer // one per offered language, same order
	// smsFromDir: languages whose SMS text came from TRANSLATIONS_DIR, so
	// that it wins over an SMS_MESSAGE set for every language.
	smsFromDir map[language.Tag]bool
	ids        []string // every message ID of the reference catalogue
	builtinSMS string   // the built-in English SMS text, SMS_MESSAGE's default
}

// CatalogOptions choose the offered languages and where extra message
// files come from.
type CatalogOptions struct {
	Dir       string   // extra message files; "": none
	Languages []string // offered languages, the first the fallback; empty: all, English first
	Force     string   // one language for every page; "": from Accept-Language
}

// catalogProblem is one problem of the catalogue's settings; Var names the
// variable's end (TRANSLATIONS_DIR, LANGUAGES, LANGUAGE).
type catalogProblem struct {
	Var  string
	Text string
}

func (p catalogProblem) Error() string { return p.Var + ": " + p.Text }

// NewCatalog loads the built-in catalogues and opt.Dir's files and checks
// them: every problem at once.
func NewCatalog(opt CatalogOptions) (*Catalog, []error) {
	var problems []error
	c := &Catalog{bundle: i18n.NewBundle(sourceLanguage), smsFromDir: map[language.Tag]bool{}}
	c.bundle.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	builtin, err := fs.Glob(localeFS, "locales/*.toml")
	if err != nil {
		return nil, []error{err}
	}
	known := map[string]bool{} // English's message IDs, the only ones there are
	for _, name := range builtin {
		b, err := localeFS.ReadFile(name)
		if err != nil {
			return nil, []error{err}
		}
		mf, err := c.bundle.ParseMessageFileBytes(b, name)
		if err != nil {
			return nil, []error{fmt.Errorf("built-in catalogue %s: %w", name, err)} // fixed at build time
		}
		if mf.Tag == sourceLanguage {
			for _, m := range mf.Messages {
				known[m.ID] = true
				c.ids = append(c.ids, m.ID)
				if m.ID == smsMessageID {
					c.builtinSMS = m.Other
				}
			}
		}
	}
	if opt.Dir != "" {
		problems = append(problems, c.loadDir(opt.Dir, known)...)
	}
	for _, tag := range c.bundle.LanguageTags() {
		if tmpl := c.rawMessage(tag, smsMessageID); !strings.Contains(tmpl, "{code}") {
			problems = append(problems, catalogProblem{"TRANSLATIONS_DIR", fmt.Sprintf("the %s SMS text (%s) must contain {code}", tag, smsMessageID)})
		}
	}
	problems = append(problems, c.offer(opt)...)
	return c, problems
}

// loadDir adds the message files in dir over the built-in ones.
func (c *Catalog) loadDir(dir string, known map[string]bool) []error {
	problem := func(format string, args ...any) error {
		return catalogProblem{"TRANSLATIONS_DIR", fmt.Sprintf(format, args...)}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []error{problem("cannot read: %v", err)}
	}
	var problems []error
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if ext := filepath.Ext(name); ext != ".toml" && ext != ".json" {
			problems = append(problems, problem("%s: want a .toml or .json message file named by its language, like de.toml", name))
			continue
		}
		tag, err := language.Parse(strings.TrimSuffix(name, filepath.Ext(name)))
		if err != nil {
			problems = append(problems, problem("%s: the name is not a language tag (like de, pt-BR)", name))
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			problems = append(problems, problem("%v", err))
			continue
		}
		mf, err := c.bundle.ParseMessageFileBytes(b, tag.String()+filepath.Ext(name))
		if err != nil {
			problems = append(problems, problem("%s: %v", name, err))
			continue
		}
		for _, m := range mf.Messages {
			if !known[m.ID] {
				problems = append(problems, problem("%s: %q is no message of otpgate's pages (see ui/locales/en.toml)", name, m.ID))
			}
			if m.ID == smsMessageID {
				c.smsFromDir[tag] = true
			}
		}
	}
	return problems
}

// offer settles the offered languages and builds their localizers.
func (c *Catalog) offer(opt CatalogOptions) []error {
	var problems []error
	have := c.bundle.LanguageTags()
	available := func(s, name string) (language.Tag, bool) {
		tag, err := language.Parse(strings.TrimSpace(s))
		if err == nil && slices.Contains(have, tag) {
			return tag, true
		}
		problems = append(problems, catalogProblem{name, fmt.Sprintf("%q is not an available language (%s)", s, tagList(have))})
		return tag, false
	}
	for _, s := range opt.Languages {
		if strings.TrimSpace(s) == "" {
			continue
		}
		if tag, ok := available(s, "LANGUAGES"); ok && !slices.Contains(c.offered, tag) {
			c.offered = append(c.offered, tag)
		}
	}
	if len(c.offered) == 0 {
		c.offered = append([]language.Tag{sourceLanguage}, slices.DeleteFunc(slices.Clone(have), func(t language.Tag) bool { return t == sourceLanguage })...)
	}
	if opt.Force != "" {
		if tag, ok := available(opt.Force, "LANGUAGE"); ok {
			c.offered, c.forced = []language.Tag{tag}, true
		}
	}
	c.matcher = language.NewMatcher(c.offered)
	for _, tag := range c.offered {
		c.localizers = append(c.localizers, &Localizer{Tag: tag, l: i18n.NewLocalizer(c.bundle, tag.String())})
	}
	return problems
}

func tagList(tags []language.Tag) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = t.String()
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// rawMessage is message id of tag as written, falling back to English.
func (c *Catalog) rawMessage(tag language.Tag, id string) string {
	s, _ := i18n.NewLocalizer(c.bundle, tag.String()).Localize(&i18n.LocalizeConfig{MessageID: id})
	return s
}

// UsesHost says whether any language's SMS text uses {host}.
func (c *Catalog) UsesHost() bool {
	for _, l := range c.localizers {
		if strings.Contains(l.raw(smsMessageID), "{host}") {
			return true
		}
	}
	return false
}

// Offered lists the offered languages, the fallback first.
func (c *Catalog) Offered() []language.Tag { return slices.Clone(c.offered) }

// For picks the language of r's pages: the forced one, or the best match
// of the browser's Accept-Language (q-values honoured; de-CH finds de),
// or the fallback.
func (c *Catalog) For(r *http.Request) *Localizer {
	if c.forced || r == nil {
		return c.localizers[0]
	}
	prefs, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(prefs) == 0 {
		return c.localizers[0]
	}
	_, i, conf := c.matcher.Match(prefs...)
	if conf == language.No {
		return c.localizers[0]
	}
	return c.localizers[i]
}

// smsWording is the SMS text in l's language: TRANSLATIONS_DIR's for it;
// else configured, the SMS_MESSAGE set for every language, unless it is
// the built-in English text (its default); else the built-in one. {ttl}
// is always in l's language.
func (c *Catalog) smsWording(l *Localizer, configured string, ttl time.Duration) auth.Wording {
	tmpl := configured
	if tmpl == "" || tmpl == c.builtinSMS || c.smsFromDir[l.Tag] {
		tmpl = l.raw(smsMessageID)
	}
	return auth.Wording{Template: tmpl, TTL: l.Duration(ttl)}
}

// Localizer writes the pages' messages in one language.
type Localizer struct {
	Tag language.Tag
	l   *i18n.Localizer
}

// Lang is the language's tag, for <html lang>.
func (l *Localizer) Lang() string { return l.Tag.String() }

// raw is message id as written, its template not run.
func (l *Localizer) raw(id string) string {
	s, _ := l.l.Localize(&i18n.LocalizeConfig{MessageID: id})
	return s
}

// timeLeft is a wait written for a person: how long until they may try
// again, rounded up ("in 45 seconds", "in 3 minutes"), never "in 0
// seconds" and never a clock time, which means little in another zone.
type timeLeft time.Duration

// T writes message id with args, pairs of a name and a value. A value
// named Count also picks the plural form; durations and clock times are
// written in the language.
func (l *Localizer) T(id string, args ...any) string {
	s, err := l.l.Localize(l.config(id, args))
	if err != nil && s == "" {
		var nf *i18n.MessageNotFoundErr
		if errors.As(err, &nf) {
			return id // a missing ID is a bug the catalogue test catches
		}
	}
	return s
}

func (l *Localizer) config(id string, args []any) *i18n.LocalizeConfig {
	lc := &i18n.LocalizeConfig{MessageID: id}
	if len(args) == 0 {
		return lc
	}
	data := make(map[string]any, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		v := args[i+1]
		switch x := v.(type) {
		case time.Duration:
			v = l.Duration(x)
		case timeLeft:
			v = l.left(time.Duration(x))
		}
		data[name] = v
		if name == "Count" {
			lc.PluralCount = v
		}
	}
	lc.TemplateData = data
	return lc
}

// HTML writes message id as HTML: all of it escaped, except <strong> and
// the links written <a>…</a>, whose targets are the values named "href"
// in args, in order. String values are escaped too, whatever they hold.
func (l *Localizer) HTML(id string, args ...any) template.HTML {
	var hrefs, values []string
	var rest []any
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		switch v := args[i+1].(type) {
		case string:
			if name == "href" {
				hrefs = append(hrefs, v)
				continue
			}
			// A placeholder stands in for the value while the message is
			// escaped, so that no value can bring markup in.
			rest = append(rest, name, fmt.Sprintf("\x00%d\x00", len(values)))
			values = append(values, html.EscapeString(v))
		default:
			rest = append(rest, name, v)
		}
	}
	s := html.EscapeString(l.T(id, rest...))
	s = strings.NewReplacer("&lt;strong&gt;", "<strong>", "&lt;/strong&gt;", "</strong>", "&lt;/a&gt;", "</a>").Replace(s)
	for _, href := range hrefs {
		s = strings.Replace(s, "&lt;a&gt;", `<a href="`+html.EscapeString(href)+`">`, 1)
	}
	for i, v := range values {
		s = strings.ReplaceAll(s, fmt.Sprintf("\x00%d\x00", i), v)
	}
	return template.HTML(s) //nolint:gosec // escaped above; only <strong> and <a href> with our own targets are markup
}

// Duration writes d in the largest unit that states it exactly (hours,
// minutes, seconds), never promising more time than d.
func (l *Localizer) Duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s > 0 && s%3600 == 0:
		return l.T("DurationHours", "Count", s/3600)
	case s > 0 && s%60 == 0:
		return l.T("DurationMinutes", "Count", s/60)
	default:
		return l.T("DurationSeconds", "Count", s)
	}
}

// left writes the wait d rounded up: seconds under a minute (at least
// one), minutes under two hours, then hours.
func (l *Localizer) left(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	switch {
	case s < 60:
		return l.T("TimeLeft", "In", l.T("DurationSeconds", "Count", max(s, 1)))
	case s < 2*3600:
		return l.T("TimeLeft", "In", l.T("DurationMinutes", "Count", (s+59)/60))
	default:
		return l.T("TimeLeft", "In", l.T("DurationHours", "Count", (s+3599)/3600))
	}
}
