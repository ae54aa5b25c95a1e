//go:build unix

package expr

import "syscall"

// cpuNanos is the process's user+system CPU time, for benchmark metrics
// that stay meaningful on a busy machine.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
