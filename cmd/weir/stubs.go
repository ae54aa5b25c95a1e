package main

import (
	"fmt"
	"io"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir serve: not available in this build yet")
	return 1
}

func cmdRepl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir repl: not available in this build yet")
	return 1
}

func cmdBench(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "weir bench: not available in this build yet")
	return 1
}
