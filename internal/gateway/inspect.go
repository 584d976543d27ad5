package gateway

import (
	"errors"

	"github.com/otpgate/otpgate/internal/setting"
)

// This file is what other code of this repository may ask of otpgate's
// configuration without running it: the deploy module's tests check the
// Kubernetes manifests against it.

// Variable is one OTPGATE_ variable otpgate reads.
type Variable struct {
	Name    string // e.g. OTPGATE_LISTEN_ADDR, or OTPGATE_COOKIE_SECRET_FILE
	Default string // the value in force when the variable is unset; "" for none
}

// Variables lists every OTPGATE_ variable otpgate reads, in the order
// `otpgate -help` lists them, each variable that may be read from a file
// followed by its _FILE form (which has no default).
func Variables() []Variable {
	var c Config
	var vars []Variable
	for _, spec := range c.specs() {
		for _, v := range setting.Vars(envPrefix, spec) {
			vars = append(vars, Variable{Name: v.Key, Default: v.Default})
			if v.File {
				vars = append(vars, Variable{Name: v.Key + "_FILE"})
			}
		}
	}
	return vars
}

// CheckEnvironment reads the configuration from environ (KEY=value pairs,
// not the process's environment) and checks it as start-up does before it
// assembles the parts: every unreadable value, unreadable _FILE and
// unknown OTPGATE_ variable, and every part's check of its own settings.
// What is checked only when a part is made (the directory's attributes,
// an SMS provider's URL and headers) is not, and nothing is connected to.
// It returns nil when otpgate would get past that point.
func CheckEnvironment(environ []string) error {
	cfg, err := loadConfig(environ)
	_, problems := cfg.validate()
	return errors.Join(append([]error{err}, problems...)...)
}
