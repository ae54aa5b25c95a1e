package repl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/weir-sql/weir/engine"
)

// The terminal tests run the shell in a child process (this test binary,
// re-executed) whose controlling terminal is a pseudo-terminal, so that
// Ctrl-C works as it does for a user: a key at the prompt (raw mode), a
// SIGINT while a statement runs.

const childEnv = "WEIR_REPL_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	os.Exit(m.Run())
}

// childMain runs the shell on the process's terminal. mode "fake" uses a
// fake session holding a table "readings"; mode "engine" an embedded
// engine in a temporary directory; mode "connect" connects to the server
// at $WEIR_REPL_TEST_URL.
func childMain(mode string) int {
	ctx := context.Background()
	cfg := Config{HistoryFile: os.Getenv("WEIR_REPL_TEST_HISTORY")}
	switch mode {
	case "fake":
		f := newFakeSession()
		f.onBlock = func() { fmt.Fprintln(os.Stderr, "[blocked]") }
		if _, err := f.Exec(ctx, "CREATE TABLE readings (device VARCHAR, temp DOUBLE)"); err != nil {
			panic(err)
		}
		cfg.Session = f
	case "connect":
		cfg.ConnectURL = os.Getenv("WEIR_REPL_TEST_URL")
	case "engine":
		e, err := engine.Open(engine.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer e.Close()
		s := e.NewSession()
		defer s.Close()
		cfg.Session = s
	}
	if err := Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	return 0
}

// term drives a child shell through the master side of its pty.
type term struct {
	t   *testing.T
	pty *os.File
	cmd *exec.Cmd

	mu   sync.Mutex
	raw  []byte // everything the child wrote
	seen int    // offset in clean(raw) consumed by expect
	more chan struct{}
	done chan struct{} // closed when the child's output ends
}

func startShell(t *testing.T, mode string, env ...string) *term {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "TERM=xterm")
	cmd.Env = append(cmd.Env, env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 50, Cols: 250})
	if err != nil {
		t.Fatal(err)
	}
	tm := &term{t: t, pty: f, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(tm.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			tm.mu.Lock()
			tm.raw = append(tm.raw, b[:n]...)
			tm.mu.Unlock()
			select {
			case tm.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	return tm
}

// clean drops ANSI escape sequences and carriage returns (readline's
// redrawing) from the complete part of raw.
func clean(raw []byte) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\r':
		case c == 0x1b:
			j := i + 1
			if j >= len(raw) {
				return b.String() // incomplete: wait for the rest
			}
			if raw[j] == '[' {
				j++
				for j < len(raw) && (raw[j] < 0x40 || raw[j] > 0x7e) {
					j++
				}
				if j >= len(raw) {
					return b.String()
				}
			}
			i = j
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// expect waits (up to a deadline, never a fixed sleep) until the output
// after what earlier expects consumed contains want, and consumes it.
func (tm *term) expect(want string) {
	tm.t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		out := clean(tm.raw)
		tm.mu.Unlock()
		if i := strings.Index(out[tm.seen:], want); i >= 0 {
			tm.seen += i + len(want)
			return
		}
		select {
		case <-tm.more:
		case <-tm.done:
			tm.mu.Lock()
			out = clean(tm.raw)
			tm.mu.Unlock()
			if strings.Contains(out[tm.seen:], want) {
				continue
			}
			tm.t.Fatalf("shell ended before printing %q; output after the last match:\n%s", want, out[tm.seen:])
		case <-deadline.C:
			tm.t.Fatalf("timed out waiting for %q; output after the last match:\n%s", want, out[tm.seen:])
		}
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.pty.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

// exit waits for the child to end and returns its exit code.
func (tm *term) exit() int {
	tm.t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- tm.cmd.Wait() }()
	select {
	case err := <-errc:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			tm.t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		tm.t.Fatal("shell did not exit")
		return -1
	}
}

// TestTerminalSession types into an embedded engine's shell: multi-line
// statements with continuation prompts, a result table, an error with a
// caret that leaves the session usable, tab completion of a table name and
// of a column name.
func TestTerminalSession(t *testing.T) {
	tm := startShell(t, "engine", "WEIR_REPL_TEST_HISTORY="+filepath.Join(t.TempDir(), "history"))
	tm.expect("Type \\? for help")
	tm.expect("weir=> ")

	tm.send("CREATE TABLE readings (device VARCHAR,\r")
	tm.expect("weir(> ")
	tm.send("  temp DOUBLE, PRIMARY KEY (device))\r")
	tm.expect("weir-> ")
	tm.send(";\r")
	tm.expect("CREATE TABLE")
	tm.expect("weir=> ")

	tm.send("INSERT INTO readings VALUES ('a', 21.5), ('b', NULL);\r")
	tm.expect("INSERT 0 2")
	tm.send("SELECT device, temp\r")
	tm.expect("weir-> ")
	tm.send("FROM readings ORDER BY device;\r")
	tm.expect(" device | temp\n")
	tm.expect("--------+------")
	tm.expect(" a      | 21.5")
	tm.expect(" b      | NULL")
	tm.expect("(2 rows)")
	tm.expect("weir=> ")

	// An error points at the offending word; the session goes on.
	tm.send("SELECT nosuch\r")
	tm.expect("weir-> ")
	tm.send("  FROM readings;\r")
	tm.expect("ERROR:  42703: ")
	tm.expect("LINE 1: SELECT nosuch")
	tm.expect("\n               ^\n")
	tm.expect("weir=> ")
	tm.send("SELECT count(*) AS n FROM readings;\r")
	tm.expect(" n\n---\n 2\n(1 row)")
	tm.expect("weir=> ")

	// Tab completes a table name (after FROM) and a column name.
	tm.send("SELECT dev\t")
	tm.expect("SELECT device ")
	tm.send("FROM rea\t")
	tm.expect("FROM readings ")
	tm.send("ORDER BY 1;\r")
	tm.expect(" device\n--------\n a\n b\n(2 rows)")
	tm.expect("weir=> ")

	tm.send("\\q\r")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestTerminalInterrupt checks Ctrl-C: during a statement it cancels the
// statement and the shell stays; at the prompt it clears the line; Ctrl-D
// quits.
func TestTerminalInterrupt(t *testing.T) {
	tm := startShell(t, "fake", "WEIR_REPL_TEST_HISTORY="+filepath.Join(t.TempDir(), "history"))
	tm.expect("weir=> ")
	tm.send("SELECT pg_sleep_forever();\r")
	tm.expect("[blocked]")
	tm.send("\x03")
	tm.expect("ERROR:  57014: canceling statement due to user request")
	tm.expect("weir=> ")

	tm.send("SELECT 1;\r")
	tm.expect("(1 row)")
	tm.expect("weir=> ")

	// Ctrl-C ends \watch.
	tm.send("SELECT 6 \\watch 0.05\r")
	tm.expect("(every 0.05s)")
	tm.expect("(every 0.05s)") // it repeats
	tm.send("\x03")
	tm.expect("weir=> ")
	tm.send("SELECT 7;\r")
	tm.expect("        7\n(1 row)")
	tm.expect("weir=> ")

	// Ctrl-C at the prompt drops the typed line, and any unfinished
	// statement before it.
	tm.send("SELECT\r")
	tm.expect("weir-> ")
	tm.send("garbage")
	tm.expect("garbage")
	tm.send("\x03")
	tm.expect("^C")
	tm.expect("weir=> ")
	tm.send("SELECT 2;\r")
	tm.expect(" ?column?\n----------\n        2\n(1 row)")
	tm.expect("weir=> ")

	tm.send("\x04")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestTerminalHistory checks that history is written to the history file
// and read back by the next session: Up recalls the last entry (a
// multi-line statement, as one line) and Ctrl-R searches.
func TestTerminalHistory(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "history")
	tm := startShell(t, "fake", "WEIR_REPL_TEST_HISTORY="+hist)
	tm.expect("weir=> ")
	tm.send("SELECT 41;\r")
	tm.expect("(1 row)")
	tm.send("SELECT\r")
	tm.expect("weir-> ")
	tm.send("42;\r")
	tm.expect("(1 row)")
	tm.expect("weir=> ")
	tm.send("\\q\r")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	data, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), "SELECT 41;\nSELECT 42;\n\\q\n"; got != want {
		t.Fatalf("history file:\n%q\nwant\n%q", got, want)
	}

	tm = startShell(t, "fake", "WEIR_REPL_TEST_HISTORY="+hist)
	tm.expect("weir=> ")
	tm.send("\x1b[A\x1b[A") // Up, Up: past \q to the multi-line statement
	tm.expect("SELECT 42;")
	tm.send("\r")
	tm.expect("       42\n(1 row)")
	tm.expect("weir=> ")
	tm.send("\x12") // Ctrl-R
	tm.send("41")
	tm.expect("SELECT 41;")
	tm.send("\r")
	tm.expect("       41\n(1 row)")
	tm.expect("weir=> ")
	tm.send("\x04")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestTerminalConnect runs the shell as a client of a server (the test's
// own, over a fake session): results, tab completion from the server's
// catalog, and Ctrl-C canceling a statement on the server while the
// connection stays.
func TestTerminalConnect(t *testing.T) {
	f := newFakeSession()
	if _, err := f.Exec(context.Background(), "CREATE TABLE readings (device VARCHAR, temp DOUBLE)"); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan struct{}, 1)
	f.onBlock = func() { blocked <- struct{}{} }
	url := serve(t, fakeBackend{f})
	tm := startShell(t, "connect", "WEIR_REPL_TEST_URL="+url, "WEIR_REPL_TEST_HISTORY="+filepath.Join(t.TempDir(), "history"))
	tm.expect(`connected to database "weir" as user "weir"`)
	tm.expect("weir=> ")
	tm.send("INSERT INTO readings VALUES ('a', 1.5);\r")
	tm.expect("INSERT 0 1")
	tm.send("SELECT * FROM rea\t")
	tm.expect("FROM readings ")
	tm.send(";\r")
	tm.expect(" a      |  1.5\n(1 row)")
	tm.expect("weir=> ")

	tm.send("SELECT pg_sleep_forever();\r")
	select {
	case <-blocked:
	case <-time.After(15 * time.Second):
		t.Fatal("the statement did not start")
	}
	tm.send("\x03")
	tm.expect("ERROR:  57014: canceling statement due to user request")
	tm.expect("weir=> ")
	tm.send("SELECT 3;\r")
	tm.expect("        3\n(1 row)")
	tm.expect("weir=> ")
	tm.send("\\q\r")
	if code := tm.exit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
