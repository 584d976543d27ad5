package slapdtest

import "syscall"

// childAttr makes the kernel kill slapd if the test binary dies without
// running its cleanups (a panic, a `go test -timeout`), so no stray slapd
// outlives the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
