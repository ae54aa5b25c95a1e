package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// weirRun runs `weir ARGS...` in-process and returns its exit status,
// stdout and stderr.
func weirRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertNothingCreated opens the data directory a failed `weir run` was
// given and checks that none of names exists (or the directory was never
// created at all).
func assertNothingCreated(t *testing.T, dataDir string, names ...string) {
	t.Helper()
	if _, err := os.Stat(dataDir); os.IsNotExist(err) {
		return
	}
	e, err := engine.Open(engine.Options{DataDir: dataDir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	for _, n := range names {
		if _, err := s.Exec(context.Background(), "SELECT * FROM "+n); pgerr.Code(err) != pgerr.UndefinedTable {
			t.Errorf("%s exists after a failed run (SELECT: %v)", n, err)
		}
	}
	res, err := s.Exec(context.Background(), "SELECT count(*) FROM weir_jobs")
	if err != nil {
		t.Fatal(err)
	}
	if n := res[0].Rows[0][0].Int(); n != 0 {
		t.Errorf("%d jobs exist after a failed run", n)
	}
}

// TestRunMalformedSQL: every malformed statement of a file gets its own
// FILE:LINE:COL: SQLSTATE message, and nothing runs, not even the valid
// statements before the first error.
func TestRunMalformedSQL(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "bad.sql", `CREATE TABLE good (a BIGINT);
SELEC 1;
CREATE TABLE t2 (a BIGINT,
                 b BIGINT BIGINT);
INSERT INTO good VALUES (1);
  SELECT a FROM good WHERE;
CREATE JOB j AS INSERT INTO good SELECT 1 FROM;
SELECT 'unterminated;
`)
	data := filepath.Join(dir, "data")
	code, stdout, stderr := weirRun(t, "run", file, "--data", data)
	if code == 0 {
		t.Fatalf("weir run exited 0 on malformed SQL; stderr:\n%s", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout should be empty, got:\n%s", stdout)
	}
	// One error per malformed statement, at the offending token.
	want := []string{
		file + ":2:1: 42601 ",
		file + ":4:27: 42601 ",
		file + ":6:27: 42601 ",
		file + ":7:47: 42601 ",
		file + ":8:8: 42601 ",
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.HasPrefix(l, file+":") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("want %d errors, got %d:\n%s", len(want), len(lines), stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d: want prefix %q, got %q", i+1, w, lines[i])
		}
	}
	assertNothingCreated(t, data, "good", "t2")
}

// TestRunBadCSVRecords: malformed records of a CSV source never stop the
// job: it finishes DONE, the valid rows are aggregated, and each bad record
// is counted in weir_jobs.bad_records and listed once in weir_dead_letters
// with its position (byte offset), raw bytes and error.
func TestRunBadCSVRecords(t *testing.T) {
	dir := t.TempDir()
	header := "device,temp,rpm,ts\n"
	recs := []struct {
		line string
		bad  bool
	}{
		{"a,1.5,10,2024-01-01 00:00:01\n", false},
		{"a,abc,11,2024-01-01 00:00:02\n", true}, // bad number
		{"b,2.5,20,2024-01-01 00:00:03\n", false},
		{"b,3.5,21,not-a-time\n", true},                            // bad timestamp
		{"a,4.0,12\n", true},                                       // too few fields
		{"c,1.0,1,2024-01-01 00:00:04,extra\n", true},              // too many fields
		{"\xff\xfed,5.0,30,2024-01-01 00:00:05\n", true},           // invalid UTF-8
		{"a,,13,2024-01-01 00:00:06\n", false},                     // NULL temp
		{"b,6.5,,2024-01-01 00:01:07\n", false},                    // NULL rpm, next window
		{"a,7.0,99999999999999999999,2024-01-01 00:01:08\n", true}, // BIGINT out of range
	}
	var csv strings.Builder
	csv.WriteString(header)
	type dead struct {
		pos int64
		raw string
	}
	var wantDead []dead
	for _, r := range recs {
		if r.bad {
			wantDead = append(wantDead, dead{int64(csv.Len()), strings.TrimSuffix(r.line, "\n")})
		}
		csv.WriteString(r.line)
	}
	writeFile(t, dir, "readings.csv", csv.String())
	file := writeFile(t, dir, "job.sql", `CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (connector = 'file', path = 'readings.csv', format = 'csv');
CREATE TABLE per_minute (w TIMESTAMP, device VARCHAR, n BIGINT, total BIGINT, avg_temp DOUBLE, PRIMARY KEY (w, device));
CREATE JOB per_minute_job AS
  INSERT INTO per_minute
  SELECT window_start, device, count(*), sum(rpm), avg(temp)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, window_end, device;
SELECT * FROM per_minute ORDER BY w, device;
SELECT name, state, events_in, bad_records FROM weir_jobs;
SELECT job, source, position, error FROM weir_dead_letters ORDER BY position;
`)
	data := filepath.Join(dir, "data")
	code, stdout, stderr := weirRun(t, "run", file, "--data", data)
	if code != 0 {
		t.Fatalf("weir run exited %d; stderr:\n%s", code, stderr)
	}
	wantTable := `          w          | device | n | total | avg_temp
---------------------+--------+---+-------+----------
 2024-01-01 00:00:00 | a      | 2 |    23 |      1.5
 2024-01-01 00:00:00 | b      | 1 |    20 |      2.5
 2024-01-01 00:01:00 | b      | 1 |       |      6.5
(3 rows)
`
	wantJobs := `      name      | state | events_in | bad_records
----------------+-------+-----------+-------------
 per_minute_job | DONE  |         4 |           6
(1 row)
`
	wantDeadLetters := `      job       |  source  | position |                                   error
----------------+----------+----------+----------------------------------------------------------------------------
 per_minute_job | readings |       48 | column "temp": invalid input syntax for type double precision: "abc"
 per_minute_job | readings |      106 | column "ts": invalid input syntax for type timestamp: "not-a-time"
 per_minute_job | readings |      126 | missing data for column "ts"
 per_minute_job | readings |      135 | extra data after last expected column
 per_minute_job | readings |      169 | invalid byte sequence for encoding "UTF8": 0xff
 per_minute_job | readings |      253 | column "rpm": value "99999999999999999999" is out of range for type BIGINT
(6 rows)
`
	if !strings.Contains(stdout, wantDeadLetters) {
		t.Errorf("weir_dead_letters: want\n%s\ngot stdout:\n%s", wantDeadLetters, stdout)
	}
	if !strings.Contains(stdout, wantTable) {
		t.Errorf("per_minute: want\n%s\ngot stdout:\n%s", wantTable, stdout)
	}
	if !strings.Contains(stdout, wantJobs) {
		t.Errorf("weir_jobs: want\n%s\ngot stdout:\n%s", wantJobs, stdout)
	}

	// The dead letters, read back from the data directory: one per bad
	// record, in file order, with the raw bytes as they were in the file.
	e, err := engine.Open(engine.Options{DataDir: data, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	res, err := s.Exec(context.Background(), "SELECT job, source, position, raw, error FROM weir_dead_letters ORDER BY position")
	if err != nil {
		t.Fatal(err)
	}
	rows := res[0].Rows
	if len(rows) != len(wantDead) {
		t.Fatalf("want %d dead letters, got %d:\n%s", len(wantDead), len(rows), stdout)
	}
	for i, r := range rows {
		if r[0].Str() != "per_minute_job" || r[1].Str() != "readings" {
			t.Errorf("dead letter %d: job %q source %q", i, r[0].Str(), r[1].Str())
		}
		if r[2].Int() != wantDead[i].pos {
			t.Errorf("dead letter %d: position %d, want %d", i, r[2].Int(), wantDead[i].pos)
		}
		if raw := strings.TrimRight(string(r[3].Bytes()), "\r\n"); raw != wantDead[i].raw {
			t.Errorf("dead letter %d: raw %q, want %q", i, raw, wantDead[i].raw)
		}
		if r[4].IsNull() || r[4].Str() == "" {
			t.Errorf("dead letter %d: no error text", i)
		}
	}
}

// TestRunParams: ${NAME} is replaced by --param values, in code and in
// string literals; a missing parameter is an error before anything runs.
func TestRunParams(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "in.csv", "k,v,ts\nx,1,2024-01-01 00:00:01\ny,5,2024-01-01 00:00:02\nx,7,2024-01-01 00:00:03\n")
	file := writeFile(t, dir, "p.sql", `CREATE SOURCE src (k VARCHAR, v BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts)
  WITH (connector = 'file', path = '${INPUT}', format = 'csv');
CREATE TABLE big (k VARCHAR, v BIGINT);
CREATE JOB big_job AS INSERT INTO big SELECT k, v * ${FACTOR} FROM src WHERE v > ${MIN};
SELECT * FROM big ORDER BY v;
`)
	code, stdout, stderr := weirRun(t, "run", file, "--param", "INPUT=in.csv", "--param", "FACTOR=10", "--param", "MIN=2")
	if code != 0 {
		t.Fatalf("weir run exited %d; stderr:\n%s", code, stderr)
	}
	want := ` k | v
---+----
 y | 50
 x | 70
(2 rows)

`
	if stdout != want {
		t.Errorf("want\n%q\ngot\n%q", want, stdout)
	}

	// MIN is missing: 42P02 at its ${, and nothing runs.
	data := filepath.Join(dir, "data")
	code, stdout, stderr = weirRun(t, "run", file, "--data", data, "--param", "INPUT=in.csv", "--param", "FACTOR=10")
	if code == 0 {
		t.Fatalf("weir run exited 0 with a missing parameter")
	}
	if stdout != "" {
		t.Errorf("stdout should be empty, got:\n%s", stdout)
	}
	wantErr := file + `:4:82: 42P02 parameter "MIN" has no value`
	if !strings.Contains(stderr, wantErr) {
		t.Errorf("want %q in stderr, got:\n%s", wantErr, stderr)
	}
	assertNothingCreated(t, data, "src", "big")

	// A syntax error after a substitution on the same line is reported at
	// its place in the file, not in the expanded text.
	file2 := writeFile(t, dir, "p2.sql", "SELECT ${LONG}, 1 +;\n")
	code, _, stderr = weirRun(t, "run", file2, "--param", "LONG=123456789")
	if code == 0 {
		t.Fatalf("weir run exited 0 on a syntax error")
	}
	if want := file2 + ":1:20: 42601 "; !strings.HasPrefix(stderr, want) {
		t.Errorf("want prefix %q, got:\n%s", want, stderr)
	}
}
