package testserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// allThreadsStopped reports whether every thread of process pid is in the
// stopped state ("T", or "t" when traced), from /proc/PID/task/*/stat.
func allThreadsStopped(pid int) (bool, error) {
	stats, err := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "task", "*", "stat"))
	if err != nil {
		return false, err
	}
	if len(stats) == 0 {
		return false, fmt.Errorf("no threads of process %d in /proc", pid)
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // a thread that has just exited
		}
		if err != nil {
			return false, err
		}
		// "pid (comm) S ...": comm may hold spaces and brackets, the
		// state follows the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			return false, fmt.Errorf("%s: unexpected format %q", f, s)
		}
		if state := s[i+2]; state != 'T' && state != 't' {
			return false, nil
		}
	}
	return true, nil
}
