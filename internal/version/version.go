// Package version says which otpgate this is: its release, the commit it
// was built from and the Go release that built it.
package version

import (
	"runtime"
	"runtime/debug"
)

// stamped is the release, set by the build when it knows better than the
// module system (a release build from a tarball has no VCS information):
//
//	go build -ldflags "-X github.com/otpgate/otpgate/internal/version.stamped=v1.4.0"
var stamped string

// Info is what a build knows of itself.
type Info struct {
	Version  string // v1.4.0, or "devel" for a build of a work tree
	Commit   string // VCS revision, with "-dirty" when the tree had changes; "" if unknown
	Go       string // go1.26.11
	Modified bool
}

// Get reads the build's own information: the ldflags stamp first, then the
// module version and VCS settings Go records in every binary (so that
// `go build` and `go install ...@v1.4.0` need no flags; `go run .` says
// "devel").
func Get() Info {
	info := Info{Version: stamped, Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if info.Version == "" {
			info.Version = "devel"
		}
		return info
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" || info.Version == "(devel)" {
		info.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Commit = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if info.Commit != "" && info.Modified {
		info.Commit += "-dirty"
	}
	return info
}

// String is the one line `otpgate version` prints.
func (i Info) String() string {
	s := "otpgate " + i.Version
	if i.Commit != "" {
		s += " (commit " + i.Commit + ")"
	}
	return s + " " + i.Go
}
