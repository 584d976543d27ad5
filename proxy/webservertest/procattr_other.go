//go:build !linux

package webservertest

import "syscall"

func childAttr() *syscall.SysProcAttr { return nil }
