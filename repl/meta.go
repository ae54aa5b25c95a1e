package repl

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const helpText = `General
  \q                     quit (or Ctrl-D)
  \?                     show this help
  \i FILE                run the statements of FILE, stopping at an error
  \echo TEXT             print TEXT
  \conninfo              show what the shell is connected to

Query buffer
  \g                     run the query buffer (or the last statement)
  \watch [SECONDS]       run the query buffer (or the last statement) every
                         SECONDS (default 2) until Ctrl-C
  \p                     show the query buffer
  \r                     reset (clear) the query buffer

Informational
  \d                     list tables, sources, sinks and jobs
  \d NAME                describe a table, source or sink (columns, key,
                         watermark, options) or a job (stages, operators)
  \jobs                  show the weir_jobs system table

Formatting
  \x [on|off]            toggle expanded output (one block per row)
  \timing [on|off]       toggle timing of statements
  \pset null TEXT        show NULL as TEXT (default "NULL")
  \pset footer [on|off]  toggle the "(N rows)" footer

Keys
  Enter after ';' runs a statement; without ';' the statement continues.
  Ctrl-C clears the line, or cancels a running statement or \watch.
  Ctrl-R searches the history (~/.weir_history); Tab completes keywords,
  object and column names; Ctrl-D quits.

`

// metaArgs splits a meta-command line into the command and its arguments.
// 'single quotes' group words (” is a quote); "double quotes" are kept, so
// that \d "MixedCase" can tell a quoted identifier from an unquoted one.
func metaArgs(line string) (string, []string) {
	line = strings.TrimSpace(line)
	i := 1
	for i < len(line) && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	cmd, rest := line[:i], line[i:]
	var args []string
	for {
		rest = strings.TrimLeft(rest, " \t")
		if rest == "" {
			return cmd, args
		}
		switch rest[0] {
		case '\'':
			var b strings.Builder
			j := 1
			for j < len(rest) {
				if rest[j] == '\'' {
					if j+1 < len(rest) && rest[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					j++
					break
				}
				b.WriteByte(rest[j])
				j++
			}
			args = append(args, b.String())
			rest = rest[j:]
		case '"':
			j := 1
			for j < len(rest) {
				if rest[j] == '"' {
					if j+1 < len(rest) && rest[j+1] == '"' {
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
			args = append(args, rest[:j])
			rest = rest[j:]
		default:
			j := strings.IndexAny(rest, " \t")
			if j < 0 {
				j = len(rest)
			}
			args = append(args, rest[:j])
			rest = rest[j:]
		}
	}
}

// onOff reads an optional on/off argument; with none, it toggles cur.
func onOff(cmd string, args []string, cur bool) (bool, error) {
	if len(args) == 0 {
		return !cur, nil
	}
	switch strings.ToLower(args[0]) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return cur, fmt.Errorf("%s: unrecognized value %q: Boolean expected", cmd, args[0])
}

func onOffWord(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// metaCommand runs one backslash command. query is the unfinished
// statement typed before it (the query buffer), which \g, \watch and \r
// consume and every other command leaves in place.
func (sh *shell) metaCommand(ctx context.Context, src *source, line, query string, queryLine int) error {
	cmd, args := metaArgs(line)
	keep := func() {
		if query != "" {
			src.buf, src.bufLine = query, queryLine
		}
	}
	switch cmd {
	case `\q`, `\quit`:
		return errQuit
	case `\?`, `\help`:
		keep()
		fmt.Fprint(sh.out, helpText)
	case `\x`:
		keep()
		v, err := onOff(cmd, args, sh.expanded)
		if err != nil {
			return sh.complain("%v", err)
		}
		sh.expanded = v
		fmt.Fprintf(sh.out, "Expanded display is %s.\n", onOffWord(v))
	case `\timing`:
		keep()
		v, err := onOff(cmd, args, sh.timing)
		if err != nil {
			return sh.complain("%v", err)
		}
		sh.timing = v
		fmt.Fprintf(sh.out, "Timing is %s.\n", onOffWord(v))
	case `\pset`:
		keep()
		return sh.pset(args)
	case `\echo`:
		keep()
		fmt.Fprintln(sh.out, strings.Join(args, " "))
	case `\conninfo`:
		keep()
		switch {
		case sh.remote != "":
			fmt.Fprintf(sh.out, "You are connected to %s.\n", sh.remote)
		case sh.cfg.DataDir != "":
			fmt.Fprintf(sh.out, "You are using the embedded engine with data in %q.\n", sh.cfg.DataDir)
		default:
			fmt.Fprintln(sh.out, "You are using the embedded engine with a temporary data directory.")
		}
	case `\p`, `\print`:
		keep()
		switch {
		case query != "":
			fmt.Fprintln(sh.out, strings.TrimSpace(query))
		case sh.lastQuery != "":
			fmt.Fprintln(sh.out, sh.lastQuery)
		default:
			fmt.Fprintln(sh.out, "Query buffer is empty.")
		}
	case `\r`, `\reset`:
		fmt.Fprintln(sh.out, "Query buffer reset (cleared).")
	case `\g`, `\go`:
		q, qLine := query, queryLine
		if q == "" {
			q, qLine = sh.lastQuery, 0
		}
		if q == "" {
			return nil
		}
		return sh.runStatement(ctx, src, q, qLine)
	case `\watch`:
		q := query
		if q == "" {
			q = sh.lastQuery
		}
		return sh.watch(ctx, src, q, args)
	case `\d`, `\d+`, `\dt`:
		keep()
		if len(args) == 0 {
			return sh.listObjects(ctx)
		}
		return sh.describe(ctx, args[0])
	case `\jobs`:
		keep()
		return sh.runStatement(ctx, src, "SELECT * FROM weir_jobs", 0)
	case `\i`, `\include`, `\ir`:
		keep()
		if len(args) != 1 {
			return sh.complain(`%s: missing required argument`, cmd)
		}
		return sh.include(ctx, args[0])
	default:
		keep()
		return sh.complain("invalid command %s\nTry \\? for help.", cmd)
	}
	return nil
}

func (sh *shell) pset(args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(sh.out, "expanded %s\nfooter   %s\nnull     %q\n", onOffWord(sh.expanded), onOffWord(!sh.noFooter), sh.null)
		return nil
	}
	switch strings.ToLower(args[0]) {
	case "null":
		if len(args) > 1 {
			sh.null = args[1]
		} else {
			sh.null = ""
		}
		fmt.Fprintf(sh.out, "Null display is %q.\n", sh.null)
	case "expanded", "x":
		v, err := onOff(`\pset expanded`, args[1:], sh.expanded)
		if err != nil {
			return sh.complain("%v", err)
		}
		sh.expanded = v
		fmt.Fprintf(sh.out, "Expanded display is %s.\n", onOffWord(v))
	case "footer":
		v, err := onOff(`\pset footer`, args[1:], !sh.noFooter)
		if err != nil {
			return sh.complain("%v", err)
		}
		sh.noFooter = !v
		fmt.Fprintf(sh.out, "Default footer is %s.\n", onOffWord(v))
	default:
		return sh.complain(`\pset: unknown option: %s`, args[0])
	}
	return nil
}

// watch re-runs q every interval until Ctrl-C (which ends \watch normally)
// or an error.
func (sh *shell) watch(ctx context.Context, src *source, q string, args []string) error {
	q = strings.TrimSpace(q)
	if q == "" {
		return sh.complain(`\watch cannot be used with an empty query`)
	}
	interval := 2 * time.Second
	if len(args) > 0 {
		a := args[0]
		if k := strings.IndexByte(a, '='); k >= 0 {
			a = a[k+1:]
		}
		secs, err := strconv.ParseFloat(a, 64)
		if err != nil || secs <= 0 {
			return sh.complain(`\watch: incorrect interval value %q`, args[0])
		}
		interval = time.Duration(secs * float64(time.Second))
	}
	sh.lastQuery = q
	wctx, release := sh.cancelable(ctx)
	defer release()
	ticks, stop := sh.tick(interval)
	defer stop()
	for {
		fmt.Fprintf(sh.out, "%s (every %s)\n\n", sh.now().Format("Mon Jan _2 15:04:05 2006"), strconv.FormatFloat(interval.Seconds(), 'f', -1, 64)+"s")
		results, elapsed, err := sh.execIn(wctx, q)
		for _, r := range results {
			sh.printResult(r)
		}
		if err != nil && wctx.Err() != nil {
			break // Ctrl-C during a run ends \watch quietly
		}
		if err != nil {
			sh.printError(err, q, src.name, 0)
			return errFailed
		}
		if sh.timing {
			sh.printTiming(elapsed)
		}
		select {
		case _, ok := <-ticks:
			if ok {
				continue
			}
		case <-wctx.Done():
		}
		break // Ctrl-C, or the ticker stopped
	}
	return ctx.Err()
}

// include runs a file's statements (\i), stopping at the first error.
func (sh *shell) include(ctx context.Context, path string) error {
	if sh.depth >= 16 {
		return sh.complain(`\i: too many nested \i commands`)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return sh.complain(`\i: %v`, err)
	}
	sh.depth++
	defer func() { sh.depth-- }()
	src := &source{name: path, stopOnError: true}
	text := strings.TrimSuffix(string(data), "\n")
	for _, line := range strings.Split(text, "\n") {
		if err := sh.handleLine(ctx, src, line); err != nil {
			return err
		}
	}
	return sh.finish(ctx, src)
}
