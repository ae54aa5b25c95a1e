package repl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// Config configures Run. Exactly one of Session and ConnectURL is set.
type Config struct {
	// In, Out and Err default to the process's standard streams. Results go
	// to Out; errors, notices and meta-command complaints go to Err.
	In       io.Reader
	Out, Err io.Writer
	// Session is an embedded engine session (engine.(*Engine).NewSession()).
	// Run does not close it.
	Session engine.SessionAPI
	// ConnectURL makes the shell a client of a running server (any
	// PostgreSQL connection string: postgres://user@host:5433/db or
	// "host=... port=..."). Run opens and closes the connection.
	ConnectURL string
	// DataDir is shown in the banner ("" for an embedded engine: a
	// temporary directory).
	DataDir string
	// Version is shown in the banner ("0.1.0" prints "weir 0.1.0").
	Version string
	// HistoryFile keeps the interactive history ("": ~/.weir_history).
	HistoryFile string
	// Interactive forces the interactive shell (prompts, line editing,
	// history, colors on a terminal). When false, the shell is interactive
	// if In is a terminal and runs as a script otherwise.
	Interactive bool

	// Interrupt delivers Ctrl-C while a statement or \watch runs. Nil: Run
	// subscribes to os.Interrupt itself for its duration.
	Interrupt <-chan os.Signal
	// Tick replaces time.NewTicker for \watch; stop releases the ticker.
	// Tests inject it so they need not sleep.
	Tick func(d time.Duration) (c <-chan time.Time, stop func())
	// Now replaces time.Now (\timing and \watch headers).
	Now func() time.Time
}

// ErrStopped is returned by Run when a script (input that is not a
// terminal) stopped at an error. The error has already been printed to
// Config.Err; the caller only has to exit with a non-zero status.
var ErrStopped = errors.New("repl: stopped at the first error")

var (
	// errQuit ends the shell normally (\q).
	errQuit = errors.New("repl: quit")
	// errFailed marks a statement or meta-command that failed and whose
	// error has been printed.
	errFailed = errors.New("repl: failed")
	// errInterrupted is what a line reader returns on Ctrl-C at the prompt.
	errInterrupted = errors.New("repl: interrupted")
)

// Run runs the shell until \q, end of input (Ctrl-D), or ctx is done. In
// script mode it returns ErrStopped at the first failing statement, without
// running anything after it.
func Run(ctx context.Context, cfg Config) error {
	sh, err := newShell(ctx, cfg)
	if err != nil {
		return err
	}
	defer sh.close()
	return sh.run(ctx)
}

// shell is one running REPL. Its fields are used by the goroutine that
// called Run, except where noted.
type shell struct {
	cfg         Config
	out, errw   io.Writer
	sess        engine.SessionAPI
	ownsSess    bool
	interactive bool
	color       bool // ANSI colors on Out/Err
	remote      string
	reader      lineReader
	objects     *objectCache
	now         func() time.Time
	tick        func(time.Duration) (<-chan time.Time, func())

	// sessMu serializes use of the session: the completer queries object
	// names from readline's goroutine while the main one is at the prompt.
	sessMu sync.Mutex

	// Printing options (\x, \timing, \pset).
	expanded bool
	timing   bool
	null     string
	noFooter bool

	// lastQuery is the last statement sent (\watch, \g with an empty buffer).
	lastQuery string
	// depth counts nested \i.
	depth int

	mu struct {
		sync.Mutex
		// cancel cancels the running statement or \watch (nil when idle).
		cancel context.CancelFunc
	}
	// runCancel stops a script run (Ctrl-C while a script waits for input).
	runCancel context.CancelFunc
}

func newShell(ctx context.Context, cfg Config) (*shell, error) {
	if cfg.In == nil {
		cfg.In = os.Stdin
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Err == nil {
		cfg.Err = os.Stderr
	}
	sh := &shell{cfg: cfg, out: cfg.Out, errw: cfg.Err, null: "NULL", now: cfg.Now, tick: cfg.Tick}
	if sh.now == nil {
		sh.now = time.Now
	}
	if sh.tick == nil {
		sh.tick = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	switch {
	case cfg.Session != nil && cfg.ConnectURL != "":
		return nil, errors.New("repl: set either Session or ConnectURL, not both")
	case cfg.Session != nil:
		sh.sess = cfg.Session
	case cfg.ConnectURL != "":
		rs, err := Connect(ctx, cfg.ConnectURL)
		if err != nil {
			return nil, err
		}
		sh.sess, sh.ownsSess, sh.remote = rs, true, rs.describe()
	default:
		return nil, errors.New("repl: no session: set Config.Session or Config.ConnectURL")
	}
	sh.interactive = cfg.Interactive || isTerminal(cfg.In)
	sh.color = sh.interactive && isTerminal(cfg.Out) && os.Getenv("NO_COLOR") == ""
	sh.objects = &objectCache{sh: sh}
	if sh.interactive {
		hist := cfg.HistoryFile
		if hist == "" {
			if home, err := os.UserHomeDir(); err == nil {
				hist = filepath.Join(home, ".weir_history")
			}
		}
		r, err := newReadlineReader(cfg.In, cfg.Out, cfg.Err, hist, &completer{sh: sh})
		if err != nil {
			sh.close()
			return nil, err
		}
		sh.reader = r
	} else {
		sh.reader = newPlainReader(cfg.In)
	}
	return sh, nil
}

func (sh *shell) close() {
	if sh.reader != nil {
		sh.reader.close()
	}
	if sh.ownsSess {
		sh.sess.Close()
	}
}

// source is one stream of input lines: the terminal, piped stdin, or a
// file run with \i.
type source struct {
	name        string // for error locations ("" when interactive)
	stopOnError bool
	buf         string // pending (unfinished) input, whole lines
	bufLine     int    // input line number of buf's first line
	lineNo      int    // lines read so far
	// record makes the lines of this source history entries (the
	// terminal, not files run with \i).
	record  bool
	history []string
}

func (src *source) reset() {
	src.buf = ""
	src.history = nil
}

func (sh *shell) run(ctx context.Context) error {
	runCtx, runCancel := context.WithCancel(ctx)
	defer runCancel()
	sh.runCancel = runCancel
	defer sh.watchInterrupts(runCtx)()
	if sh.interactive {
		sh.banner()
	}
	src := &source{stopOnError: !sh.interactive, record: sh.interactive}
	if !sh.interactive {
		src.name = "<stdin>"
	}
	for {
		line, err := sh.reader.readLine(runCtx, sh.prompt(src))
		switch {
		case errors.Is(err, errInterrupted):
			src.reset()
			continue
		case errors.Is(err, io.EOF):
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if sh.interactive {
				return nil
			}
			if err := sh.finish(runCtx, src); err != nil {
				return sh.exitErr(err)
			}
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if runCtx.Err() != nil {
				// Ctrl-C while a script waited for input.
				return ErrStopped
			}
			return err
		}
		if err := sh.handleLine(runCtx, src, line); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, errQuit) {
				return nil
			}
			if src.stopOnError {
				return sh.exitErr(err)
			}
		}
	}
}

func (sh *shell) exitErr(err error) error {
	if errors.Is(err, errQuit) {
		return nil
	}
	if errors.Is(err, errFailed) {
		return ErrStopped
	}
	return err
}

// watchInterrupts routes Ctrl-C: it cancels the running statement or
// \watch; in a script waiting for input it stops the run. At the prompt the
// terminal is in raw mode and readline sees Ctrl-C as a key instead.
func (sh *shell) watchInterrupts(ctx context.Context) (stop func()) {
	ch := sh.cfg.Interrupt
	var sig chan os.Signal
	if ch == nil {
		sig = make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		ch = sig
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				sh.mu.Lock()
				cancel := sh.mu.cancel
				sh.mu.Unlock()
				switch {
				case cancel != nil:
					cancel()
				case !sh.interactive:
					sh.runCancel()
				}
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		close(done)
		if sig != nil {
			signal.Stop(sig)
		}
	}
}

// cancelable returns a context that Ctrl-C cancels until release is called.
func (sh *shell) cancelable(ctx context.Context) (context.Context, func()) {
	c, cancel := context.WithCancel(ctx)
	sh.mu.Lock()
	sh.mu.cancel = cancel
	sh.mu.Unlock()
	return c, func() {
		sh.mu.Lock()
		sh.mu.cancel = nil
		sh.mu.Unlock()
		cancel()
	}
}

func (sh *shell) banner() {
	where := "embedded engine, temporary data directory"
	switch {
	case sh.remote != "":
		where = "connected to " + sh.remote
	case sh.cfg.DataDir != "":
		where = "embedded engine, data in " + sh.cfg.DataDir
	}
	name := "weir"
	if sh.cfg.Version != "" {
		name += " " + sh.cfg.Version
	}
	fmt.Fprintf(sh.out, "%s (%s)\nType \\? for help, \\q or Ctrl-D to quit.\n\n", sh.bold(name), where)
}

// prompt is "weir=> " for a new statement and "weir-> " (or weir'> and so
// on, naming what is open) for a continuation line.
func (sh *shell) prompt(src *source) string {
	if !sh.interactive {
		return ""
	}
	p := "weir=> "
	if src.buf != "" {
		p = "weir" + string(lex(src.buf).promptChar()) + "> "
	}
	return sh.bold(p)
}

// handleLine adds one input line to src and runs every statement and
// meta-command it completes.
func (sh *shell) handleLine(ctx context.Context, src *source, line string) error {
	src.lineNo++
	line = strings.TrimRight(line, "\r")
	if src.buf == "" {
		src.bufLine = src.lineNo
		if strings.TrimSpace(line) == "" {
			return nil
		}
	}
	if src.record {
		src.history = append(src.history, line)
	}
	text := src.buf + line + "\n"
	sc := lex(text)
	start := 0
	for _, end := range sc.ends {
		if sc.hasTokens(start, end) {
			err := sh.runStatement(ctx, src, text[start:end], src.bufLine+strings.Count(text[:start], "\n"))
			if err != nil {
				if src.stopOnError || errors.Is(err, errQuit) || ctx.Err() != nil {
					return err
				}
				if errors.Is(err, errCanceled) {
					// Whatever followed the canceled statement is dropped.
					src.buf = ""
					sh.saveHistory(src)
					return err
				}
			}
		}
		start = end
	}
	if sc.meta >= 0 {
		query := text[start:sc.meta]
		if !sc.hasTokens(start, sc.meta) {
			query = ""
		}
		cmd := strings.TrimSpace(text[sc.meta:])
		queryLine := src.bufLine + strings.Count(text[:start], "\n")
		src.buf = ""
		sh.saveHistory(src)
		return sh.metaCommand(ctx, src, cmd, query, queryLine)
	}
	if sc.pending(start, len(text)) {
		src.bufLine += strings.Count(text[:start], "\n")
		src.buf = text[start:]
		return nil
	}
	src.buf = ""
	sh.saveHistory(src)
	return nil
}

// finish runs what is left in src at the end of a script (a last statement
// without ';' runs, as in psql).
func (sh *shell) finish(ctx context.Context, src *source) error {
	if src.buf == "" {
		return nil
	}
	text := src.buf
	src.buf = ""
	sc := lex(text)
	if sc.state == stComment || !sc.hasTokens(0, len(text)) {
		return nil
	}
	return sh.runStatement(ctx, src, text, src.bufLine)
}

// saveHistory records the lines of what just ran as one history entry.
func (sh *shell) saveHistory(src *source) {
	if len(src.history) == 0 {
		return
	}
	entry := oneLine(src.history)
	src.history = nil
	if entry != "" {
		sh.reader.saveHistory(entry)
	}
}

// errCanceled marks a statement canceled by Ctrl-C (its error is printed).
var errCanceled = fmt.Errorf("%w: canceled", errFailed)

// runStatement sends one statement (text, starting at input line line) to
// the session and prints its results or error.
func (sh *shell) runStatement(ctx context.Context, src *source, text string, line int) error {
	trimmed := strings.TrimLeft(text, " \t\r\n\f")
	line += strings.Count(text[:len(text)-len(trimmed)], "\n")
	text = strings.TrimRight(trimmed, " \t\r\n\f")
	sh.lastQuery = text
	results, elapsed, err := sh.exec(ctx, text)
	for _, r := range results {
		sh.printResult(r)
	}
	if err != nil {
		sh.printError(err, text, src.name, line)
	}
	if sh.timing {
		sh.printTiming(elapsed)
	}
	if err != nil {
		if pgerr.Code(err) == pgerr.QueryCanceled {
			return errCanceled
		}
		return errFailed
	}
	for _, r := range results {
		sh.objects.noteTag(r.Tag)
	}
	return nil
}

// exec runs text on the session; Ctrl-C cancels it.
func (sh *shell) exec(ctx context.Context, text string) ([]*engine.Result, time.Duration, error) {
	sctx, release := sh.cancelable(ctx)
	defer release()
	return sh.execIn(sctx, text)
}

// execIn runs text on the session under sctx, which the caller has made
// cancelable.
func (sh *shell) execIn(sctx context.Context, text string) ([]*engine.Result, time.Duration, error) {
	start := sh.now()
	sh.sessMu.Lock()
	results, err := sh.sess.Exec(sctx, text)
	sh.sessMu.Unlock()
	elapsed := sh.now().Sub(start)
	if err != nil && sctx.Err() != nil && pgerr.Code(err) != pgerr.QueryCanceled {
		// The session gave up with the context's error rather than a
		// SQLSTATE; say what happened the way PostgreSQL does.
		err = pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	return results, elapsed, err
}

// query runs an internal statement (object lists, \d) without printing.
func (sh *shell) query(ctx context.Context, text string) (*engine.Result, error) {
	sh.sessMu.Lock()
	defer sh.sessMu.Unlock()
	results, err := sh.sess.Exec(ctx, text)
	if err != nil {
		return nil, err
	}
	for _, r := range results {
		if r.Columns != nil {
			return r, nil
		}
	}
	return nil, fmt.Errorf("repl: %q returned no rows", text)
}
