//go:build unix

package state

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user and system) the process has used,
// Pebble's background flushes and compactions included. Benchmarks report
// it per key because wall time on a shared machine says little.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
