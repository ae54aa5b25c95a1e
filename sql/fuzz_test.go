package sql

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that no input makes the parser panic, and that whatever
// parses formats to text that parses again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT a, b::int FROM t WHERE c ~ 'x' ORDER BY 1 NULLS LAST LIMIT 3",
		"CREATE SOURCE s (a INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'log')",
		"SELECT window_start, count(*) FROM TUMBLE(r, ts, INTERVAL '1' MINUTE) GROUP BY window_start",
		"INSERT INTO t VALUES (1, 'a') ON CONFLICT DO NOTHING RETURNING a",
		"SELECT (f(x)).y, arr[1], ARRAY[1], E'\\n', $$x$$, $1 FROM generate_series(1, 2) g(n)",
		"COPY t FROM STDIN WITH CSV HEADER; SHOW ALL; SET x TO 1",
		"CREATE TEMPLATE t (p INT) AS INSERT INTO x SELECT ${p}",
		"SELECT 'unterminated", "/* x", "SELECT (((", "SELECT a::", "x[", "CAST(",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		stmts, _ := ParseScript(text, ParseOptions{})
		for _, s := range stmts {
			_ = Tree(s, true)
			out := Format(s)
			if _, err := ParseOne(out); err != nil {
				t.Errorf("formatted %q (from %q) does not parse: %v", out, text, err)
			}
		}
		Split(text)
		_, _ = ParseExpr(text)
		_, _ = ExpandParams(text, map[string]string{"x": "1"})
	})
}

// TestPathologicalInputs guards against inputs that are slow to parse.
func TestPathologicalInputs(t *testing.T) {
	for _, s := range []string{
		strings.Repeat("(", 2000),
		"SELECT " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500),
		"SELECT " + strings.Repeat("a::int::text", 300),
		"SELECT " + strings.Repeat("f(", 300) + strings.Repeat(")", 300),
		strings.Repeat("SELECT 1;", 3000),
		"SELECT " + strings.Repeat("x[1]", 500),
		strings.Repeat("(SELECT ", 300),
		"SELECT * FROM " + strings.Repeat("(", 300) + "t" + strings.Repeat(")", 300),
		"SELECT " + strings.Repeat("CASE WHEN ", 300),
		strings.Repeat("'", 3001),
		strings.Repeat("$$", 3001),
		strings.Repeat("/*", 3000),
	} {
		start := time.Now()
		ParseScript(s, ParseOptions{})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q... took %v", s[:20], d)
		}
	}
}

// TestConcurrentParse parses from many goroutines at once (run with -race).
func TestConcurrentParse(t *testing.T) {
	done := make(chan string)
	for g := 0; g < 8; g++ {
		go func() {
			var last string
			for i := 0; i < 50; i++ {
				s, err := ParseOne("SELECT a, count(*) FROM TUMBLE(r, ts, INTERVAL '1' MINUTE) WHERE b ~ 'x' GROUP BY a")
				if err != nil {
					last = err.Error()
					break
				}
				last = Format(s)
			}
			done <- last
		}()
	}
	first := <-done
	for g := 1; g < 8; g++ {
		if got := <-done; got != first {
			t.Errorf("got %q, want %q", got, first)
		}
	}
}
