// Command otpgate puts a second factor (a one-time code by SMS) in front of
// web apps that cannot do multi-factor sign-in, for users in LDAP or Active
// Directory. internal/gateway reads the settings and wires the parts.
package main

import (
	"os"

	"github.com/otpgate/otpgate/internal/gateway"
)

func main() {
	os.Exit(gateway.Main(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}
