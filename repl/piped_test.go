package repl

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the shell writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestPipedStopsAtFirstError: `weir repl < file.sql` runs statements in
// order, and the first error ends the run with a non-zero status before
// anything after it is sent.
func TestPipedStopsAtFirstError(t *testing.T) {
	f := newFakeSession()
	script := "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\nINSERT INTO nosuch VALUES (2);\nINSERT INTO t VALUES (3);\n\\echo after\n"
	var out, errs bytes.Buffer
	err := Run(context.Background(), Config{In: strings.NewReader(script), Out: &out, Err: &errs, Session: f})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("Run = %v, want ErrStopped", err)
	}
	want := []string{"CREATE TABLE t (a INT);", "INSERT INTO t VALUES (1);", "INSERT INTO nosuch VALUES (2);"}
	if got := f.Executed(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("executed %q, want %q", got, want)
	}
	if got := out.String(); got != "CREATE TABLE\nINSERT 0 1\n" {
		t.Errorf("stdout %q", got)
	}
	if got := errs.String(); !strings.HasPrefix(got, "<stdin>:3: ERROR:  42P01: relation \"nosuch\" does not exist\n") {
		t.Errorf("stderr %q", got)
	}
	// No prompts or colors in a script.
	if strings.Contains(out.String()+errs.String(), "weir=>") || strings.Contains(errs.String(), "\x1b") {
		t.Errorf("prompt or color in script output")
	}

	// A script without errors exits 0.
	if err := Run(context.Background(), Config{In: strings.NewReader("SELECT 1;\nSELECT 2"), Out: io.Discard, Err: io.Discard, Session: f}); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

// TestPipedInterrupt: Ctrl-C cancels a running statement and stops the
// script; Ctrl-C ends \watch, after which the script goes on.
func TestPipedInterrupt(t *testing.T) {
	f := newFakeSession()
	blocked := make(chan struct{}, 1)
	f.onBlock = func() { blocked <- struct{}{} }
	intr := make(chan os.Signal, 1)
	go func() {
		<-blocked
		intr <- os.Interrupt
	}()
	var out bytes.Buffer
	err := Run(context.Background(), Config{In: strings.NewReader("SELECT pg_sleep_forever();\nSELECT 1;\n"), Out: &out, Err: &out,
		Session: f, Interrupt: intr})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("Run = %v, want ErrStopped", err)
	}
	if !strings.Contains(out.String(), "ERROR:  57014: canceling statement due to user request") || len(f.Executed()) != 1 {
		t.Fatalf("output %q, executed %q", out.String(), f.Executed())
	}

	// \watch runs until Ctrl-C. The ticker never fires here: the first run
	// is immediate, then the shell waits for a tick or Ctrl-C.
	never := func(time.Duration) (<-chan time.Time, func()) { return make(chan time.Time), func() {} }
	var wout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{In: strings.NewReader("SELECT 6 \\watch 1\nSELECT 7;\n"), Out: &wout, Err: &wout,
			Session: f, Interrupt: intr, Tick: never})
	}()
	for !strings.Contains(wout.String(), "(1 row)") {
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v\n%s", err, wout.String())
		case <-time.After(time.Millisecond):
		}
	}
	intr <- os.Interrupt
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v\n%s", err, wout.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("\\watch did not stop")
	}
	if got := wout.String(); strings.Count(got, "(every 1s)") != 1 || !strings.Contains(got, "        7\n") {
		t.Errorf("output:\n%s", got)
	}
}

// TestRunContext: canceling Run's context ends it, even while it waits
// for input.
func TestRunContext(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{In: pr, Out: io.Discard, Err: io.Discard, Session: newFakeSession()})
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
}
