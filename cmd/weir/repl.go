package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/repl"
)

func cmdRepl(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir repl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "", "data directory of the embedded engine (default: a temporary directory)")
	connect := fs.String("connect", "", "connect to a Weir (or any Postgres) server: postgres://user@host:port/db")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weir [repl] [--data DIR | --connect URL]\n\nThe interactive shell: an embedded engine by default, or a client of a server.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *data != "" && *connect != "" {
		fmt.Fprintln(stderr, "weir repl: --data and --connect are mutually exclusive")
		return 2
	}
	cfg := repl.Config{In: stdin, Out: stdout, Err: stderr, ConnectURL: *connect, DataDir: *data, Version: Version}
	if *connect == "" {
		e, err := engine.Open(engine.Options{DataDir: *data})
		if err != nil {
			fmt.Fprintln(stderr, "weir repl:", err)
			return 1
		}
		defer e.Close()
		s := e.NewSession()
		defer s.Close()
		cfg.Session = s
	}
	if err := repl.Run(context.Background(), cfg); err != nil {
		if !errors.Is(err, repl.ErrStopped) {
			fmt.Fprintln(stderr, "weir repl:", err)
		}
		return 1
	}
	return 0
}
