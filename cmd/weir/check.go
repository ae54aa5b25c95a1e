package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// cmdCheck parses and plans every statement of each file without running
// anything (engine.Checker): DDL is applied to a scratch in-memory engine,
// one per file, so later statements bind against it; jobs and queries are
// planned, not run. Each problem is printed to stderr as
// FILE:LINE:COL: SQLSTATE message, in file order, warnings as
// FILE:LINE:COL: 01000 warning: message; a summary line goes to stdout.
// The exit status is 1 when there was an error (or, with --strict, a
// warning), 2 for bad usage.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("weir check", flag.ContinueOnError)
	fset.SetOutput(stderr)
	params := paramFlags{}
	fset.Var(params, "param", "NAME=VALUE: replaces ${NAME} in the files (repeatable)")
	strict := fset.Bool("strict", false, "exit non-zero on warnings too")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "Usage: weir check [--param NAME=VALUE]... [--strict] FILE.sql|DIR...\n\n"+
			"Parses and plans without running; prints each problem as FILE:LINE:COL: SQLSTATE message\n"+
			"(warnings as FILE:LINE:COL: 01000 warning: message) and a summary. A directory stands for\n"+
			"the .sql files under it. Each file is checked on its own scratch engine. Exits 1 on errors.\n\nFlags:\n")
		fset.PrintDefaults()
	}
	args, err := parseInterspersed(fset, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(args) == 0 {
		fset.Usage()
		return 2
	}
	files, err := sqlFiles(args)
	if err != nil {
		fmt.Fprintf(stderr, "weir check: %v\n", err)
		return 2
	}
	var total checkCounts
	for _, file := range files {
		diags, n := checkFile(file, params)
		total.stmts += n
		for _, d := range diags {
			fmt.Fprintln(stderr, d.String(file))
			if d.warning {
				total.warnings++
			} else {
				total.errors++
			}
		}
	}
	fmt.Fprintf(stdout, "%s, %s: %s, %s\n", plural(len(files), "file"), plural(total.stmts, "statement"),
		plural(total.errors, "error"), plural(total.warnings, "warning"))
	if total.errors > 0 || (*strict && total.warnings > 0) {
		return 1
	}
	return 0
}

type checkCounts struct{ stmts, errors, warnings int }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// sqlFiles expands the arguments: a file stands for itself, a directory for
// the .sql files under it (sorted, recursively).
func sqlFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".sql") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no .sql files", a)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// diag is one problem found in a file.
type diag struct {
	err     *pgerr.Error
	warning bool
	seq     int // order found, to keep the order of problems at one position
}

// String formats d as FILE:LINE:COL: SQLSTATE message, with DETAIL and HINT
// lines as weir run prints them.
func (d diag) String(file string) string {
	e := d.err
	loc := file
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", file, e.Line, e.Col)
	}
	// One line per problem: a newline inside a message (quoted source
	// text) is shown escaped.
	msg := strings.ReplaceAll(e.Message, "\n", `\n`)
	if d.warning {
		msg = "warning: " + msg
	}
	s := fmt.Sprintf("%s: %s %s", loc, e.Code, msg)
	if e.Detail != "" {
		s += "\nDETAIL:  " + e.Detail
	}
	if e.Hint != "" {
		s += "\nHINT:  " + e.Hint
	}
	return s
}

// checkFile checks one file on a fresh scratch engine and returns its
// problems in file order and the number of statements.
func checkFile(file string, params map[string]string) ([]diag, int) {
	var diags []diag
	add := func(err error, warning bool) {
		diags = append(diags, diag{err: pgerr.Wrap(err), warning: warning, seq: len(diags)})
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		add(pgerr.New("58P01", "%v", err), false)
		return diags, 0
	}
	text := string(raw)
	if missing := missingParams(text, params); len(missing) > 0 {
		// Without their values the statements cannot be checked.
		for _, e := range missing {
			add(e, false)
		}
		return diags, 0
	}
	stmts, errs := sql.ParseScript(text, sql.ParseOptions{Params: params})
	nstmt := len(errs)
	for _, e := range errs {
		add(e, false)
	}
	absDir, _ := filepath.Abs(filepath.Dir(file))
	e, err := engine.Open(engine.Options{FS: vfs.NewMem(), DataDir: "check", BaseDir: absDir, NoSync: true})
	if err != nil {
		add(err, false)
		return diags, nstmt
	}
	defer e.Close()
	c := e.NewChecker()
	defer c.Close()
	for _, st := range stmts {
		if _, empty := st.(*sql.Empty); empty {
			continue
		}
		nstmt++
		warnings, err := c.Check(context.Background(), st)
		if err != nil {
			add(err, false)
		}
		for _, w := range warnings {
			add(w, true)
		}
	}
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].err, diags[j].err
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return diags[i].seq < diags[j].seq
	})
	return diags, nstmt
}

// missingParams returns an error (42P02, positioned) for every ${NAME} in
// text that has no value, each name once.
func missingParams(text string, params map[string]string) []error {
	have := map[string]string{}
	for k, v := range params {
		have[k] = v
	}
	var out []error
	for len(out) < 100 {
		_, err := sql.ExpandParams(text, have)
		pe, ok := err.(*pgerr.Error)
		if err == nil || !ok || pe.Code != pgerr.UndefinedParameter {
			break
		}
		out = append(out, pe)
		name := pe.Message
		if i := strings.IndexByte(name, '"'); i >= 0 {
			name = name[i+1:]
			if j := strings.IndexByte(name, '"'); j >= 0 {
				name = name[:j]
			}
		}
		if _, dup := have[name]; dup {
			break
		}
		have[name] = ""
	}
	for _, e := range out {
		pe := e.(*pgerr.Error)
		if pe.Hint == "" {
			pe.Hint = "Pass its value with --param NAME=VALUE."
		}
	}
	return out
}
