package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/render"
	"github.com/weir-sql/weir/sql"
)

// paramFlags collects repeated --param NAME=VALUE flags.
type paramFlags map[string]string

func (p paramFlags) String() string { return "" }
func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("--param wants NAME=VALUE, got %q", v)
	}
	p[k] = val
	return nil
}

// parseInterspersed parses flags that may come after positional arguments
// (weir run FILE.sql --data DIR).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, nil
}

// formatError prints an error as FILE:LINE:COL: SQLSTATE message.
func formatError(file string, err error) string {
	pe := pgerr.Wrap(err)
	loc := file
	if pe.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, pe.Line, pe.Col)
	}
	s := fmt.Sprintf("%s: %s %s", loc, pe.Code, pe.Message)
	if pe.Detail != "" {
		s += "\nDETAIL:  " + pe.Detail
	}
	if pe.Hint != "" {
		s += "\nHINT:  " + pe.Hint
	}
	return s
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("weir run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data", "", "data directory (default: a temporary directory)")
	resume := fs.Bool("resume", false, "continue a run on an existing --data directory: sources, tables and sinks that exist are kept,\n"+
		"and a CREATE JOB whose job was launched before is not launched again (a live job resumes from its last commit)")
	params := paramFlags{}
	fs.Var(params, "param", "NAME=VALUE: replaces ${NAME} in the file (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weir run FILE.sql [--data DIR [--resume]] [--param NAME=VALUE]...\n\n"+
			"Runs the file's statements in order on an embedded engine. Bounded jobs run to\n"+
			"completion; with unbounded sources it keeps running: the first SIGINT/SIGTERM\n"+
			"drains, a second cancels. After a crash or kill, run the same file again with\n"+
			"--resume on the same --data directory to continue where it stopped (statements\n"+
			"other than CREATE SOURCE/TABLE/SINK/JOB run again).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) != 1 {
		fs.Usage()
		return 2
	}
	if *resume && *dataDir == "" {
		fmt.Fprintln(stderr, "weir run: --resume needs --data DIR")
		return 2
	}
	file := files[0]
	raw, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "weir run: %v\n", err)
		return 1
	}
	// ParseScript expands ${NAME}s itself (a missing one is the only error)
	// and maps error positions back to the file, not the expanded text.
	stmts, errs := sql.ParseScript(string(raw), sql.ParseOptions{Params: params})
	if len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, formatError(file, e))
		}
		return 1
	}
	absDir, _ := filepath.Abs(filepath.Dir(file))
	scale, err := chaosFromEnv()
	if err != nil {
		fmt.Fprintf(stderr, "weir run: %v\n", err)
		return 2
	}
	e, err := engine.Open(engine.Options{DataDir: *dataDir, BaseDir: absDir, Stdout: stdout, BundleSize: envInt("WEIR_BUNDLE_SIZE"),
		Scale: scale, ReconfigureHook: reconfigureCrashHook(), CommitHook: commitCrashHook(), SinkHook: sinkCrashHook(), Logf: envLogf(stderr)})
	if err != nil {
		fmt.Fprintf(stderr, "weir run: %v\n", err)
		return 1
	}
	defer e.Close()
	s := e.NewSession()
	s.WaitForBoundedJobs = true
	defer s.Close()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; !ok {
			return
		}
		stop() // first signal: stop waiting; jobs drain below
	}()

	for _, st := range stmts {
		if *resume {
			if done, err := resumeStatement(s, st); err != nil {
				fmt.Fprintln(stderr, formatError(file, err))
				return 1
			} else if done {
				continue
			}
		}
		r, err := s.ExecStatement(ctx, st, nil)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if pe := pgerr.Wrap(err); *dataDir != "" && !*resume && pe.Hint == "" &&
				(pe.Code == pgerr.DuplicateTable || pe.Code == pgerr.DuplicateObject) {
				err = pe.WithHint("to continue an earlier run on this data directory, add --resume")
			}
			fmt.Fprintln(stderr, formatError(file, err))
			return 1
		}
		printResult(stdout, r)
	}
	// Unbounded jobs keep running until a signal: the first drains, a
	// second cancels.
	if s.HasUnboundedJobs() && ctx.Err() == nil {
		fmt.Fprintln(stderr, "weir run: jobs are running; press Ctrl-C to drain them (twice to cancel)")
		<-ctx.Done()
	}
	if s.HasUnboundedJobs() {
		done := make(chan struct{})
		go func() {
			s.DrainJobs(context.Background())
			close(done)
		}()
		select {
		case <-done:
		case <-sigs:
			s.CancelJobs()
			<-done
		}
	} else if err := s.WaitJobs(ctx); err != nil {
		fmt.Fprintln(stderr, formatError(file, err))
		return 1
	}
	if err := s.JobsError(); err != nil {
		fmt.Fprintln(stderr, formatError(file, err))
		return 1
	}
	return 0
}

// resumeStatement makes st idempotent for --resume: CREATE SOURCE, TABLE
// and SINK keep an existing object, and a CREATE JOB whose job was launched
// before adopts it instead (done reports that st needs no execution).
func resumeStatement(s *engine.Session, st sql.Statement) (done bool, err error) {
	switch n := st.(type) {
	case *sql.CreateSource:
		n.IfNotExists = true
	case *sql.CreateTable:
		n.IfNotExists = true
	case *sql.CreateSink:
		n.IfNotExists = true
	case *sql.CreateJob:
		return s.ResumeJob(n.Name)
	}
	return false, nil
}

// envLogf returns a logger of background events (reconfigurations, ...)
// to w when WEIR_LOG is set, else nil.
func envLogf(w io.Writer) func(string, ...any) {
	if os.Getenv("WEIR_LOG") == "" {
		return nil
	}
	return func(f string, a ...any) { fmt.Fprintf(w, "weir: "+f+"\n", a...) }
}

// envInt reads a tuning knob from the environment (0 when unset or bad):
// WEIR_BUNDLE_SIZE caps the records per bundle (crash tests use small
// bundles to get many commits).
func envInt(name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// printResult prints a statement's result like psql.
func printResult(w io.Writer, r *engine.Result) {
	for _, n := range r.Notices {
		fmt.Fprintf(w, "NOTICE:  %s\n", n)
	}
	if r.Columns == nil {
		return
	}
	cols := make([]render.Column, len(r.Columns))
	for i, c := range r.Columns {
		cols[i] = render.Column{Name: c.Name, Type: c.Type}
	}
	_ = render.Table(w, cols, r.Rows, render.Options{})
}
