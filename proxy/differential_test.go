package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/otpgate/otpgate/proxy/webservertest"
)

// The differential test holds otpgate's access decisions against the way
// real servers route the same request targets: Go's http.ServeMux and
// nginx (both real, over TCP), a servlet container (the Servlet spec's
// canonicalisation, strict and lenient) and IIS. Whenever otpgate does not
// refuse a target, the rule that any reader's reading of it selects must
// be no more permissive than otpgate's verdict: "a path that two servers
// could read two ways is refused (400) or judged by the strictest rule
// that any reading would match, never the loosest."

const diffHost = "app.example.test"

const diffRulesText = `
* /public/** bypass
* /healthz bypass
* /internal/** deny
* /admin/** two_factor groups=admins
`

// diffReader is one reader's readings of the whole corpus.
type diffReader struct {
	name string
	// fold: the reader compares names case-insensitively (IIS), so it is
	// held only against otpgate's verdict with ignoreCase.
	fold     bool
	readings []diffReading
}

// inProcessReader reads one target without a server.
type inProcessReader struct {
	name string
	fold bool
	read func(string) diffReading
}

// inProcessReaders are the readers that need no server: ServeMux behind
// Go's own request parser, the servlet canonicalisations and IIS.
func inProcessReaders(mux http.Handler) []inProcessReader {
	return []inProcessReader{
		{"servemux", false, func(s string) diffReading { return muxReadInProcess(mux, s) }},
		{"servlet", false, func(s string) diffReading { return servletRead(s, true) }},
		{"servlet-lenient", false, func(s string) diffReading { return servletRead(s, false) }},
		{"iis", true, iisRead},
	}
}

// diffCheck holds one reader's reading of target against otpgate's
// verdicts (by ignoreCase) and returns what is looser than it should be.
func diffCheck(rules Rules, target, reader string, fold bool, rd diffReading, verdict map[bool]Verdict) []string {
	if !rd.reached() {
		return nil
	}
	// The rule for the path the handler sees and, where the server chose
	// a handler, the rule for that handler's area.
	paths := []string{rd.path}
	if sample, ok := diffAreaSample[rd.area]; ok {
		paths = append(paths, sample)
	}
	settings := []bool{false, true}
	if fold {
		settings = []bool{true}
	}
	var out []string
	for _, p := range paths {
		match := p
		if fold {
			match = iisFold(p)
		}
		r := rules.Match(diffHost, match)
		for _, ic := range settings {
			v := verdict[ic]
			if why := looserThan(v, r); why != "" {
				out = append(out, fmt.Sprintf("%q: %s reads %q (area %s); %q selects line %d (%v, groups %q), "+
					"but otpgate with ignoreCase=%v decided %v with groups %q (line %d): %s",
					target, reader, rd.path, rd.area, p, r.Line, r.Policy, r.Groups, ic, v.Policy(), v.Groups(), v.Rule.Line, why))
			}
		}
	}
	return out
}

// looserThan says how verdict v lets through what rule r would not, or "".
func looserThan(v Verdict, r Rule) string {
	switch {
	case r.Policy == PolicyDeny && v.Policy() != PolicyDeny:
		return "the reader's rule denies"
	case r.Policy == PolicyTwoFactor && v.Policy() == PolicyBypass:
		return "the reader's rule needs a sign-in"
	case r.Policy == PolicyTwoFactor && v.Policy() == PolicyTwoFactor && len(r.Groups) > 0:
		// The user in every group the verdict names but none of the
		// rule's: if the verdict admits them, it admits someone the rule
		// keeps out.
		var user []string
		for _, gs := range v.Groups() {
			for _, g := range gs {
				if !inAnyGroup([]string{g}, r.Groups) {
					user = append(user, g)
				}
			}
		}
		if v.Admits(user) {
			return fmt.Sprintf("it admits a user in %q, in none of %q", user, r.Groups)
		}
	}
	return ""
}

// The comparison the differential test rests on.
func TestLooserThan(t *testing.T) {
	rules, err := ParseRules(`* /deny/** deny
* /bypass/** bypass
* /signin/** two_factor
* /admins/** two_factor groups=admins
* /either/** two_factor groups=admins,ops
* /staff/** two_factor groups=staff`)
	if err != nil {
		t.Fatal(err)
	}
	deny, bypass, signin, admins, either, staff := rules[0], rules[1], rules[2], rules[3], rules[4], rules[5]
	tests := []struct {
		name    string
		verdict Verdict
		rule    Rule
		looser  bool
	}{
		{"deny by bypass", Verdict{Rule: bypass}, deny, true},
		{"deny by a sign-in", Verdict{Rule: admins}, deny, true},
		{"deny by deny", Verdict{Rule: deny}, deny, false},
		{"sign-in by bypass", Verdict{Rule: bypass}, signin, true},
		{"sign-in by sign-in", Verdict{Rule: signin}, signin, false},
		{"admins by bypass", Verdict{Rule: bypass}, admins, true},
		{"admins by any sign-in", Verdict{Rule: signin}, admins, true},
		{"admins by admins or ops", Verdict{Rule: either}, admins, true},
		{"admins by admins", Verdict{Rule: admins}, admins, false},
		{"admins by staff and admins", Verdict{Rule: staff, Also: []Rule{admins}}, admins, false},
		{"admins or ops by admins", Verdict{Rule: admins}, either, false},
		{"admins by deny", Verdict{Rule: deny}, admins, false},
		{"bypass by bypass", Verdict{Rule: bypass}, bypass, false},
	}
	for _, tt := range tests {
		why := looserThan(tt.verdict, tt.rule)
		if got := why != ""; got != tt.looser {
			t.Errorf("%s: looser %v (%s), want %v", tt.name, got, why, tt.looser)
		}
	}
}

func TestDifferentialAccessDecisions(t *testing.T) {
	start := time.Now()
	rules, err := ParseRules(diffRulesText)
	if err != nil {
		t.Fatal(err)
	}
	corpus := diffCorpus()
	nginx := webservertest.StartNginx(t, diffNginxConf)
	muxServer := httptest.NewServer(diffMux())
	defer muxServer.Close()

	readers := []diffReader{{name: "servemux"}, {name: "nginx"}}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, addr := range []string{muxServer.Listener.Addr().String(), nginx} {
		wg.Go(func() { readers[i].readings, errs[i] = serverReadings(addr, corpus) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", readers[i].name, err)
		}
	}
	for _, r := range inProcessReaders(nil) {
		if r.name == "servemux" {
			continue // read from the real server above
		}
		rds := make([]diffReading, len(corpus))
		for i, target := range corpus {
			rds[i] = r.read(target)
		}
		readers = append(readers, diffReader{name: r.name, fold: r.fold, readings: rds})
	}

	// otpgate's verdicts, and those of a gateway that judges only the
	// decoded path, case-sensitively: the test must catch that one.
	verdicts := make([]map[bool]Verdict, len(corpus))
	weak := make([]map[bool]Verdict, len(corpus))
	refused := 0
	for i, target := range corpus {
		o, err := readOriginal("http", diffHost, target)
		if err != nil {
			refused++
			continue
		}
		verdicts[i] = map[bool]Verdict{false: rules.Decide(o.Host, o.Path, false), true: rules.Decide(o.Host, o.Path, true)}
		w := Verdict{Rule: rules.Match(o.Host, o.Path.String())}
		weak[i] = map[bool]Verdict{false: w, true: w}
	}

	var failures []string
	weakCaught := map[string]int{}
	type key struct{ reader, area string }
	accepted, refusedBy := map[key]int{}, map[key]int{}         // routed to each area
	acceptedTrick, refusedTrick := map[key]int{}, map[key]int{} // ... though the target does not name it
	for _, r := range readers {
		for i, target := range corpus {
			rd := r.readings[i]
			area := rd.area
			if !rd.reached() {
				area = "not reached"
			}
			literal, _, _ := strings.Cut(target, "?")
			trick := rd.reached() && rd.area != "root" && diffArea(literal) != rd.area
			if verdicts[i] == nil {
				refusedBy[key{r.name, area}]++
				if trick {
					refusedTrick[key{r.name, area}]++
				}
				continue
			}
			accepted[key{r.name, area}]++
			if trick {
				acceptedTrick[key{r.name, area}]++
			}
			failures = append(failures, diffCheck(rules, target, r.name, r.fold, rd, verdicts[i])...)
			if len(diffCheck(rules, target, r.name, r.fold, rd, weak[i])) > 0 {
				weakCaught[r.name]++
			}
		}
	}
	for i, f := range failures {
		if i == 40 {
			t.Errorf("... and %d more", len(failures)-i)
			break
		}
		t.Error(f)
	}

	t.Logf("corpus: %d request targets; otpgate refused %d, judged %d (%v)", len(corpus), refused, len(corpus)-refused, time.Since(start).Round(time.Millisecond))
	t.Logf("where each reader routes them, as area routed/of those by a trick (the target does not name the area):")
	areas := []string{"public", "healthz", "internal", "admin", "root", "not reached"}
	for _, r := range readers {
		var acc, ref []string
		for _, a := range areas {
			acc = append(acc, fmt.Sprintf("%s %d/%d", a, accepted[key{r.name, a}], acceptedTrick[key{r.name, a}]))
			ref = append(ref, fmt.Sprintf("%s %d/%d", a, refusedBy[key{r.name, a}], refusedTrick[key{r.name, a}]))
		}
		t.Logf("%-15s judged: %s", r.name, strings.Join(acc, ", "))
		t.Logf("%-15s refused: %s", "", strings.Join(ref, ", "))
	}
	t.Logf("a gateway judging only the decoded path, case-sensitively, is caught by: %v", sortedCounts(weakCaught))

	// The corpus must exercise what the test is about, so that it cannot
	// pass by testing nothing.
	if refused == 0 || refused == len(corpus) {
		t.Errorf("otpgate refused %d of %d targets; the corpus must hold both kinds", refused, len(corpus))
	}
	for _, r := range readers {
		for _, area := range []string{"admin", "internal"} {
			if acceptedTrick[key{r.name, area}] == 0 {
				t.Errorf("%s: no target that otpgate judges reaches /%s/ by a trick", r.name, area)
			}
		}
		if refusedTrick[key{r.name, "admin"}] == 0 {
			t.Errorf("%s: no target that otpgate refuses would have reached /admin/ by a trick", r.name)
		}
	}
	for _, name := range []string{"servlet", "servlet-lenient", "iis"} {
		if weakCaught[name] == 0 {
			t.Errorf("%s: a gateway judging only the decoded path, case-sensitively, was not caught", name)
		}
	}
}

func sortedCounts(m map[string]int) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s %d", k, v))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// FuzzDifferential is the differential test on fuzzed request targets,
// with the readers that need no server: ServeMux behind Go's own request
// parser, the servlet canonicalisations and IIS.
func FuzzDifferential(f *testing.F) {
	readers := inProcessReaders(diffMux())
	// Seeds: the known attacks, and the corpus targets that otpgate judges
	// and some reader routes to an area they do not name. (All of the
	// corpus would take the fuzzer minutes to measure.)
	for _, s := range diffKnownAttacks {
		f.Add(s)
	}
	for _, s := range diffCorpus() {
		if _, err := readOriginal("http", diffHost, s); err != nil {
			continue
		}
		literal, _, _ := strings.Cut(s, "?")
		for _, r := range readers {
			if rd := r.read(s); rd.reached() && rd.area != "root" && rd.area != diffArea(literal) {
				f.Add(s)
				break
			}
		}
	}
	rules, err := ParseRules(diffRulesText)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		o, err := readOriginal("http", diffHost, target)
		if err != nil {
			return
		}
		verdict := map[bool]Verdict{false: rules.Decide(o.Host, o.Path, false), true: rules.Decide(o.Host, o.Path, true)}
		for _, r := range readers {
			if failures := diffCheck(rules, target, r.name, r.fold, r.read(target), verdict); len(failures) > 0 {
				t.Fatal(strings.Join(failures, "\n"))
			}
		}
	})
}

// The readers are only as good as their model of the servers: these are
// the Servlet spec's own examples (§3.5.2) and IIS's known readings.
func TestDifferentialReaders(t *testing.T) {
	const rejected = "rejected"
	type readerCase struct {
		reader string
		read   func(string) diffReading
		in     string
		want   string // the path read, or "rejected"
	}
	var tests []readerCase
	for _, tt := range []struct{ in, strict, lenient string }{
		{"foo/bar", rejected, rejected},
		{"/foo/bar", "/foo/bar", "/foo/bar"},
		{"/foo/bar;jsessionid=1234", "/foo/bar", "/foo/bar"},
		{"/foo/bar/;jsessionid=1234", "/foo/bar/", "/foo/bar/"},
		{"/foo;/bar;/;", "/foo/bar/", "/foo/bar/"},
		{"/foo%00/bar/", rejected, rejected},
		{"/foo%7Fbar", rejected, rejected},
		{"/foo%2Fbar", rejected, rejected},
		{"/foo/b%25r", "/foo/b%r", "/foo/b%r"},
		{"/foo\\bar", rejected, rejected},
		{"/foo%5Cbar", rejected, rejected},
		{"/foo;%2F/bar", rejected, rejected},
		{"/foo/./bar", "/foo/bar", "/foo/bar"},
		{"/./foo/bar", "/foo/bar", "/foo/bar"},
		{"/foo/%2e/bar", rejected, "/foo/bar"},
		{"/foo/.;/bar", rejected, "/foo/bar"},
		{"/foo/bar/.", "/foo/bar", "/foo/bar"},
		{"/foo/bar/./", "/foo/bar/", "/foo/bar/"},
		{"/foo/bar/./;", "/foo/bar/", "/foo/bar/"},
		{"/foo/.bar", "/foo/.bar", "/foo/.bar"},
		{"/foo/../bar", "/bar", "/bar"},
		{"/foo/../../bar", rejected, rejected},
		{"/foo/%2e%2E/bar", rejected, "/bar"},
		{"/foo/..;/bar", rejected, "/bar"},
		{"/foo/%2e%2E;/bar", rejected, "/bar"},
		{"/foo/bar/..", "/foo", "/foo"},
		{"/foo/bar/../", "/foo/", "/foo/"},
		{"/foo/..bar", "/foo/..bar", "/foo/..bar"},
		{"/foo//bar", "/foo/bar", "/foo/bar"},
		{"//foo//bar//", "/foo/bar/", "/foo/bar/"},
		{"/;/foo;/;/bar/;/;", rejected, "/foo/bar/"},
		{"/foo//../bar", "/bar", "/bar"},
		{"/foo%E2%82%ACbar", "/foo€bar", "/foo€bar"},
		{"/foo%20bar", "/foo bar", "/foo bar"},
		{"/foo%E2%82", rejected, rejected},
		{"/foo%XX/bar", rejected, rejected},
		{"/foo/bar?q", "/foo/bar", "/foo/bar"},
		{"/foo/bar#f", rejected, "/foo/bar"},
		{"/foo/bar;?q", "/foo/bar", "/foo/bar"},
		{"//", "/", "/"},
		{"/.", "/", "/"},
		{"/..", rejected, rejected},
		{"/../", rejected, rejected},
	} {
		tests = append(tests,
			readerCase{"servlet", func(s string) diffReading { return servletRead(s, true) }, tt.in, tt.strict},
			readerCase{"servlet-lenient", func(s string) diffReading { return servletRead(s, false) }, tt.in, tt.lenient})
	}
	for _, tt := range []struct{ in, want string }{
		{"/admin/x", "/admin/x"},
		{"/admin./x", "/admin/x"},
		{"/admin%20/x", "/admin/x"},
		{"/admin. . /x", "/admin/x"},
		{"/public\\..\\admin\\x", "/admin/x"},
		{"/public/%u002e%u002e/admin/", "/admin/"},
		{"//admin//x", "/admin/x"},
		{"/admin/x?y", "/admin/x"},
		{"/..", rejected},
		{"/a%zz", rejected},
	} {
		tests = append(tests, readerCase{"iis", iisRead, tt.in, tt.want})
	}
	for _, tt := range tests {
		rd := tt.read(tt.in)
		got := rd.path
		if !rd.reached() {
			got = rejected
		}
		if got != tt.want {
			t.Errorf("%s reads %q: got %q (%s), want %q", tt.reader, tt.in, got, rd.note, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"/ADMIN/x", "/admin/x"},
		{"/ADMİN/x", "/admin/x"},
		{"/admın/x", "/admin/x"},
		{"/ａｄｍｉｎ/x", "/ａｄｍｉｎ/x"},
	} {
		if got := iisFold(tt.in); got != tt.want {
			t.Errorf("iisFold(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Found by the differential test: servers that compare names
// case-insensitively (Java's equalsIgnoreCase, Python's re.IGNORECASE)
// take the dotless "ı" and the dotted "İ" for "i", which Unicode case
// folding does not, so with ignoreCase "/ınternal/x" was not denied and
// "/ADMİN/x" asked for no group.
func TestDecideIgnoresCaseAsServersDo(t *testing.T) {
	rules, err := ParseRules(diffRulesText)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path       string
		ignoreCase bool
		policy     Policy
		groups     [][]string
	}{
		{"/ınternal/x", true, PolicyDeny, nil},
		{"/%C4%B1nternal/x", true, PolicyDeny, nil},
		{"/İNTERNAL", true, PolicyDeny, nil},
		{"/ınternal./x", true, PolicyDeny, nil},
		{"/admın/x", true, PolicyTwoFactor, [][]string{{"admins"}}},
		{"/ADMİN/x", true, PolicyTwoFactor, [][]string{{"admins"}}},
		{"/publıc/x", true, PolicyTwoFactor, nil},
		{"/public/x", true, PolicyBypass, nil},
		// A case-sensitive server reads none of them as the rule's path.
		{"/ınternal/x", false, PolicyTwoFactor, nil},
		{"/ADMİN/x", false, PolicyTwoFactor, nil},
	}
	for _, tt := range tests {
		v, err := decideFor(t, rules, diffHost, tt.path, tt.ignoreCase)
		if err != nil {
			t.Errorf("%s: refused (%v), want %v", tt.path, err, tt.policy)
			continue
		}
		if v.Policy() != tt.policy || !slices.EqualFunc(v.Groups(), tt.groups, slices.Equal) {
			t.Errorf("%s (ignoreCase %v): got %v with groups %q, want %v with %q", tt.path, tt.ignoreCase, v.Policy(), v.Groups(), tt.policy, tt.groups)
		}
	}
}

// diffKnownAttacks are targets found to walk around rules elsewhere (see
// target_test.go) or in other gateways.
var diffKnownAttacks = []string{
	"/public/..;/admin", "/public/.;/../admin", "/admin/%252e%252e/healthz", "/admin/..%252f..%252fpublic/x",
	"/public/%2e%2e;/admin", "/public;x/../admin", "/admin;/staff", "/healthz;x", "/public;x/y",
	"/public/x/../../admin/y", "/public/x/%2e%2e/%2e%2e/admin/y", "/healthz/../admin/y", "/healthz/..;/admin/y",
	"/admin;x/y", "/admin./y", "/admin%20/y", "//admin/y", "/ADMIN/y", "/ａｄｍｉｎ/y", "/admın/y", "/ADMİN/y",
	"/%61dmin/y", "/admin%3fx/y", "/admin%23x/y", "/internal;jsessionid=1/y", "/INTERNAL./y",
}

// diffCorpus generates the request targets: each area's name in many
// spellings (case, escapes, fullwidth and other Unicode forms) with
// suffixes that servers read differently (";params", trailing dots and
// spaces, encoded "?" and "#", NUL, escaped separators), and climbs from
// one area to another through dot segments in every spelling.
func diffCorpus() []string {
	words := []string{
		"admin", "public", "internal", "healthz", "x",
		"Admin", "ADMIN", "aDmIn", "Internal", "INTERNAL", "PUBLIC", "HEALTHZ",
		"%61dmin", "adm%69n", "%41DMIN", "%69nternal", "%70ublic", "%68ealthz",
		"ａｄｍｉｎ", "ｉｎｔｅｒｎａｌ", "%EF%BD%81dmin", "ＡＤＭＩＮ",
		"ADMİN", "admın", "ınternal", "İNTERNAL", "%C4%B1nternal", "adm%C4%B1n",
	}
	suffixes := []string{
		"", ".", "..", "...", ". ", ".%20", "%20", "%20.", "%20%20", " ", "%09", "%00", "%0a", "%0d", "%7f",
		";", ";x", ";jsessionid=1", ";.", ";..", "%3b", "%3bx", "%3B",
		"%3f", "%3fx", "%3F", "%23", "%23x", "?", "?x", "?/../internal/x", "#", "#x",
		"%2e", "%2E", "%2e%2e", "%c0%ae", "%e0%80%ae", "%u002e", "%u0020",
		"．", "%EF%BC%8E", "。", "%E2%80%8B", "%C2%A0", "%E3%80%80", "::$DATA", "~1",
		"/", "//", "\\", "%5c", "%5C", "%2f", "%2F", "%252f", "%25", "%2525", "%", "%zz", "%u",
		"／", "%EF%BC%8F", "＼", "+", "*",
	}
	dots := []string{
		".", "..", "...", "%2e", "%2e%2e", ".%2e", "%2e.", "%2E%2E", "%252e%252e",
		"..;", "..;x", ".;", "%2e%2e;", "..%3b", "..%3bx", ".. ", "..%20", "..%20.", ". .", "..%09", "..%00",
		"..%2f", "..%5c", "．．", "%EF%BC%8E%EF%BC%8E", "‥", "%E2%80%A5", "%c0%ae%c0%ae", "%u002e%u002e", "..%3f", "..?", "..#",
	}
	seps := []string{"/", "//", "\\", "%2f", "%2F", "%5c", "%5C", "%252f", "／", "%EF%BC%8F", "/;x/"}
	leads := []string{"/", "//", ";x/", ".;/", "./", "%2e/", "../", "..;/", ";/", "%3b/", "\\", "%2f"}

	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, w := range words {
		for _, s := range suffixes {
			for _, tail := range []string{"", "/y"} {
				add("/" + w + s + tail)
			}
		}
		for _, l := range leads {
			add("/" + l + w + "/y")
		}
	}
	// From the open areas and the admins' one, into the guarded ones.
	for _, from := range []string{"public", "healthz", "admin"} {
		for _, to := range []string{"admin", "internal"} {
			for _, d := range dots {
				for _, s := range seps {
					add("/" + from + s + d + s + to + "/y")
				}
			}
		}
	}
	for _, s := range diffKnownAttacks {
		add(s)
	}
	slices.Sort(out)
	return out
}
