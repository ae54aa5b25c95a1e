// Command weir is Weir's command-line interface: run .sql job files, serve
// the Postgres wire protocol, open the interactive shell, and check and test
// job files in CI. See README.md and `weir --help`.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

const usage = `weir: a SQL-first streaming engine.

Usage:
  weir run FILE.sql [--data DIR] [--param NAME=VALUE]...   run a job file on an embedded engine
  weir serve [--data DIR] [--listen ADDR] [--http ADDR]    serve the Postgres wire protocol
  weir [repl] [--data DIR | --connect URL]                 interactive shell
  weir test FILE.slt...                                    run sqllogictest files
  weir check FILE.sql...                                   parse and plan without running
  weir version                                             print the version

Run "weir COMMAND --help" for a command's flags.
`

// Version is Weir's version.
const Version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return cmdRepl(args, stdin, stdout, stderr)
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "repl":
		return cmdRepl(args[1:], stdin, stdout, stderr)
	case "test":
		return cmdTest(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "weir %s\n", Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	if strings.HasPrefix(args[0], "-") {
		return cmdRepl(args, stdin, stdout, stderr)
	}
	fmt.Fprintf(stderr, "weir: unknown command %q\n\n%s", args[0], usage)
	return 2
}
