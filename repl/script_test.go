package repl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// fakeClock returns a clock that starts at noon on 2024-01-02 (UTC) and
// advances 1.234567 ms each time it is read, so \timing and \watch print
// the same thing on every run.
func fakeClock() func() time.Time {
	t := time.Date(2024, 1, 2, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(1234567 * time.Nanosecond)
		return t
	}
}

// fakeTicks returns a Tick that fires n times and then stops (ending
// \watch).
func fakeTicks(n int) func(time.Duration) (<-chan time.Time, func()) {
	return func(time.Duration) (<-chan time.Time, func()) {
		c := make(chan time.Time, n)
		for i := 0; i < n; i++ {
			c <- time.Time{}
		}
		close(c)
		return c, func() {}
	}
}

// TestScript runs the shell in script mode (input that is not a terminal)
// over a fake session. Each file of testdata/script shares one session.
//
//	file NAME      writes the input to NAME in a temporary directory ($TMP)
//	run [ticks=N]  runs the input as a script; prints stdout and stderr as
//	               they interleave, then "[exit: ...]" if Run failed
//
// Rewrite expected output with -rewrite.
func TestScript(t *testing.T) {
	datadriven.Walk(t, "testdata/script", func(t *testing.T, path string) {
		f := newFakeSession()
		dir := t.TempDir()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			input := strings.ReplaceAll(d.Input, "$TMP", dir)
			switch d.Cmd {
			case "file":
				if err := os.WriteFile(filepath.Join(dir, d.CmdArgs[0].Vals[0]), []byte(input+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return ""
			case "run":
				ticks := 0
				if d.HasArg("ticks") {
					d.ScanArgs(t, "ticks", &ticks)
				}
				var out bytes.Buffer
				err := Run(context.Background(), Config{
					In: strings.NewReader(input), Out: &out, Err: &out, Session: f,
					Now: fakeClock(), Tick: fakeTicks(ticks),
				})
				if err != nil {
					fmt.Fprintf(&out, "[exit: %v]\n", err)
				}
				return strings.ReplaceAll(out.String(), dir, "$TMP")
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}
