//go:build !linux

package kanneltest

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
