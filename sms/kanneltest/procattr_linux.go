package kanneltest

import "syscall"

// childAttr makes the kernel kill each Kannel process if the test binary
// dies without running its cleanups (a panic, a `go test -timeout`), so no
// stray bearerbox keeps its ports after the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
