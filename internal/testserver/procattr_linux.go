package testserver

import "syscall"

// childAttr makes the kernel kill the child if the test binary dies
// without running its cleanups, so no stray server outlives the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
