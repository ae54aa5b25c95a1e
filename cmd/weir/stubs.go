package main

import (
	"fmt"
	"io"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir serve: not available in this build yet")
	return 1
}

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir bench: not available in this build yet")
	return 1
}
