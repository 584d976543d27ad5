package proxy

import "testing"

// benchRules are a typical set: a few bypasses, a deny, a group rule.
func benchRules(b *testing.B) Rules {
	rules, err := ParseRules(`
* /healthz bypass
* /static/** bypass
* /internal/** deny
* /admin/** two_factor groups=admins
app.example.com /api/*/private deny
`)
	if err != nil {
		b.Fatal(err)
	}
	return rules
}

// BenchmarkDecide measures reading a path and judging it by the rules, for
// a plain path (the usual case, which must not allocate) and for paths
// with several readings.
func BenchmarkDecide(b *testing.B) {
	rules := benchRules(b)
	for _, p := range []string{"/dashboard/reports/2026", "/Static/App.js", "/admin;jsessionid=1/users", "/a%20b/c./d;x//e"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				path, err := ReadPath(p)
				if err != nil {
					b.Fatal(err)
				}
				_ = rules.Decide("app.example.com", path, true)
			}
		})
	}
}
