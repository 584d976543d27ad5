package proxy_test

import (
	"fmt"

	"github.com/otpgate/otpgate/proxy"
)

// Rules are judged on every reading of a path: a servlet container reads
// /admin;jsessionid=1 as /admin, so the admins' rule applies to it, and a
// path that climbs out of /public with a dot segment is refused outright.
func ExampleParseRules() {
	rules, err := proxy.ParseRules(`
*   /public/**  bypass
*   /admin/**   two_factor groups=admins,"Domain Admins"
`)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range []string{"/public/logo.png", "/admin;jsessionid=1", "/public/..;/admin"} {
		path, err := proxy.ReadPath(p)
		if err != nil {
			fmt.Printf("%s: refused\n", p)
			continue
		}
		v := rules.Decide("app.example.com", path, true)
		fmt.Printf("%s: %v %v\n", p, v.Policy(), v.Groups())
	}
	// Output:
	// /public/logo.png: bypass []
	// /admin;jsessionid=1: two_factor [[admins Domain Admins]]
	// /public/..;/admin: refused
}
