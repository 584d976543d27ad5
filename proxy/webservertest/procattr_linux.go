package webservertest

import "syscall"

// childAttr makes the kernel kill the server if the test binary dies
// without running its cleanups (a panic, a `go test -timeout`), so no stray
// nginx or Caddy outlives the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
