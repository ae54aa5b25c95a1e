package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/weir-sql/weir/slt"
)

func cmdTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rewrite := fs.Bool("rewrite", false, "write actual query results into the files")
	verbose := fs.Bool("v", false, "print every record")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weir test [--rewrite] FILE.slt...\n\nRuns sqllogictest files, each on a fresh embedded engine, and reports N passed, N failed.\n\nFlags:\n")
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
	sum, err := slt.RunFiles(files, slt.Options{Rewrite: *rewrite, Out: stdout, Verbose: *verbose})
	fmt.Fprintf(stdout, "%d passed, %d failed\n", sum.Passed, sum.Failed)
	if err != nil {
		fmt.Fprintf(stderr, "weir test: %v\n", err)
		return 1
	}
	if sum.Failed > 0 {
		return 1
	}
	return 0
}
