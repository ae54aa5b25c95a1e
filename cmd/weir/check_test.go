package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of weir check in testdata/check/broken/*.out")

const checkDir = "../../testdata/check"

// runCheck runs `weir check args...` and returns its stdout, stderr and exit
// status.
func runCheck(args ...string) (stdout, stderr string, code int) {
	var out, errOut strings.Builder
	code = run(append([]string{"check"}, args...), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

// checkArgs reads a job file's leading `-- check-param: NAME=VALUE` lines
// into --param flags.
func checkArgs(t *testing.T, file string) []string {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var args []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p, ok := strings.CutPrefix(sc.Text(), "-- check-param: ")
		if !ok {
			break
		}
		args = append(args, "--param", p)
	}
	return args
}

// TestCheckBroken checks each deliberately broken job file in
// testdata/check/broken against its expected output (NAME.out: the
// problems, the summary and the exit status). Run with -rewrite to
// regenerate the .out files, then review the diff.
func TestCheckBroken(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(checkDir, "broken", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no broken job files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			args := append(checkArgs(t, file), file)
			stdout, stderr, code := runCheck(args...)
			// HINT lines are left out: they list things (valid options,
			// operators) that change as Weir grows.
			got := fmt.Sprintf("%s%sexit status %d\n", dropHints(stderr), stdout, code)
			got = strings.ReplaceAll(got, filepath.Dir(file)+string(filepath.Separator), "")
			golden := strings.TrimSuffix(file, ".sql") + ".out"
			if *rewrite {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/weir -run TestCheckBroken -rewrite)", err)
			}
			if got != string(want) {
				t.Errorf("weir check %s: output differs from %s\n--- want\n%s--- got\n%s", filepath.Base(file), filepath.Base(golden), want, got)
			}
			if code == 0 && !strings.Contains(got, ": 01000 ") {
				t.Errorf("%s is in broken/ but has neither errors nor warnings", filepath.Base(file))
			}
		})
	}
}

// dropHints removes the HINT lines of weir check's output.
func dropHints(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if !strings.HasPrefix(line, "HINT:  ") {
			b.WriteString(line)
		}
	}
	return b.String()
}

var summaryRE = regexp.MustCompile(`^\d+ files?, \d+ statements?: 0 errors, 0 warnings\n$`)

// TestCheckOK checks that correct job files pass: exit status 0, nothing but
// the summary, one file at a time and as a directory.
func TestCheckOK(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(checkDir, "ok", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no correct job files: %v", err)
	}
	var params []string
	for _, file := range files {
		args := checkArgs(t, file)
		params = append(params, args...)
		stdout, stderr, code := runCheck(append(args, file)...)
		if code != 0 || stderr != "" || !summaryRE.MatchString(stdout) {
			t.Errorf("weir check %s: exit status %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(file), code, stdout, stderr)
		}
	}
	stdout, stderr, code := runCheck(append(params, filepath.Join(checkDir, "ok"))...)
	if code != 0 || stderr != "" || !summaryRE.MatchString(stdout) || !strings.HasPrefix(stdout, fmt.Sprintf("%d files", len(files))) {
		t.Errorf("weir check ok/: exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestCheckDirectory checks a directory of broken files: every file is
// checked, each on its own engine, and the status is 1.
func TestCheckDirectory(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// b.sql would pass if a.sql's table leaked into its engine.
	write("a.sql", "CREATE TABLE t (a BIGINT);\nSELEC 1;\n")
	write("b.sql", "SELECT a FROM t;\n")
	write("notes.txt", "not SQL")
	stdout, stderr, code := runCheck(dir)
	want := fmt.Sprintf("%[1]s/a.sql:2:1: 42601 syntax error at or near \"SELEC\"\n%[1]s/b.sql:1:15: 42P01 relation \"t\" does not exist\n", dir)
	if code != 1 || stderr != want || stdout != "2 files, 3 statements: 2 errors, 0 warnings\n" {
		t.Errorf("exit status %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, stdout, stderr, want)
	}
}

// TestCheckStrict checks that warnings fail the check only with --strict.
func TestCheckStrict(t *testing.T) {
	file := filepath.Join(checkDir, "broken", "warnings.sql")
	if _, _, code := runCheck(file); code != 0 {
		t.Errorf("weir check warnings.sql: exit status %d, want 0", code)
	}
	if _, _, code := runCheck("--strict", file); code != 1 {
		t.Errorf("weir check --strict warnings.sql: exit status %d, want 1", code)
	}
	if stdout, _, code := runCheck("--help"); code != 0 || stdout != "" {
		t.Errorf("weir check --help: exit status %d, stdout %q", code, stdout)
	}
	if _, _, code := runCheck(); code != 2 {
		t.Errorf("weir check without files: exit status %d, want 2", code)
	}
}

// TestCheckJoinWarnings checks the time-bound warning of joins between two
// streams. Joins in jobs are newer than this test, so it looks only at the
// warnings (the planner may still refuse the joins).
func TestCheckJoinWarnings(t *testing.T) {
	file := filepath.Join(t.TempDir(), "joins.sql")
	text := `CREATE SOURCE a (k BIGINT, v BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE SOURCE b (k BIGINT, w BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE TABLE dim (k BIGINT, name VARCHAR, PRIMARY KEY (k));
CREATE TABLE out (k BIGINT, v BIGINT, w BIGINT);
CREATE JOB unbounded AS INSERT INTO out SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k;
CREATE JOB interval_join AS INSERT INTO out SELECT a.k, a.v, b.w FROM a JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '1' MINUTE AND b.ts;
CREATE JOB lookup AS INSERT INTO out SELECT a.k, a.v, 1 FROM a JOIN dim ON a.k = dim.k;
CREATE JOB window_join AS INSERT INTO out SELECT x.k, x.v, y.w FROM TUMBLE(a, ts, INTERVAL '1' MINUTE) x JOIN TUMBLE(b, ts, INTERVAL '1' MINUTE) y ON x.k = y.k AND x.window_start = y.window_start;
CREATE JOB comma AS INSERT INTO out SELECT a.k, a.v, b.w FROM a, b WHERE a.k = b.k;
CREATE JOB comma_bounded AS INSERT INTO out SELECT a.k, a.v, b.w FROM a, b WHERE a.k = b.k AND a.ts >= b.ts AND a.ts < b.ts + INTERVAL '1' SECOND;
`
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, _ := runCheck(file)
	var got []string
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, ": 01000 warning: ") {
			got = append(got, strings.TrimPrefix(line, file+":"))
		}
	}
	want := []string{
		"5:67: 01000 warning: job unbounded keeps unbounded state: the join of streams a and b has no time bound, so it keeps every row of both sides forever",
		"9:66: 01000 warning: job comma keeps unbounded state: the join of streams a and b has no time bound, so it keeps every row of both sides forever",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("join warnings:\n%s\nwant:\n%s\nfull output:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), stderr)
	}
}
