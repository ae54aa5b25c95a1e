//go:build !unix

package expr

func cpuNanos() int64 { return 0 }
