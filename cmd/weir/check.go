package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/sql"
)

// cmdCheck parses and plans every statement of each file without running
// anything: DDL is applied to a scratch in-memory engine so later
// statements bind against it; jobs and queries are planned, not run.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weir check FILE.sql...\n\nParses and plans without running; prints each error as FILE:LINE:COL: SQLSTATE message.\n")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	nerr, nwarn, nstmt := 0, 0, 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
			nerr++
			continue
		}
		stmts, errs := sql.ParseScript(string(raw), sql.ParseOptions{})
		for _, e := range errs {
			fmt.Fprintln(stderr, formatError(file, e))
			nerr++
		}
		absDir, _ := filepath.Abs(filepath.Dir(file))
		e, err := engine.Open(engine.Options{FS: vfs.NewMem(), DataDir: "check", BaseDir: absDir, NoSync: true})
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", file, err)
			nerr++
			continue
		}
		s := e.NewSession()
		for _, st := range stmts {
			nstmt++
			warnings, err := s.Check(context.Background(), st)
			if err != nil {
				fmt.Fprintln(stderr, formatError(file, err))
				nerr++
			}
			for _, w := range warnings {
				fmt.Fprintln(stderr, formatError(file, w)+" (warning)")
				nwarn++
			}
		}
		s.Close()
		e.Close()
	}
	fmt.Fprintf(stdout, "%d files, %d statements: %d errors, %d warnings\n", len(files), nstmt, nerr, nwarn)
	if nerr > 0 {
		return 1
	}
	return 0
}
