package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunResume checks `weir run --resume`: a second run of the same file
// on the same data directory fails without it ("already exists") and
// succeeds with it, keeping the objects, adopting the finished job instead
// of launching it again (the table is not filled twice), and running the
// other statements.
func TestRunResume(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "r.csv"), []byte("device,rpm,ts\nd1,5,2024-01-01 00:00:01\nbroken,x,y\nd2,7,2024-01-01 00:00:02\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "job.sql")
	if err := os.WriteFile(file, []byte(`CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'file', path = 'r.csv', format = 'csv');
CREATE TABLE per_window (window_start TIMESTAMP, device VARCHAR, n BIGINT);
CREATE SINK quiet (device VARCHAR) WITH (connector = 'blackhole');
CREATE JOB j AS INSERT INTO per_window
  SELECT window_start, device, count(*) FROM TUMBLE(readings, ts, INTERVAL '10' SECOND)
  GROUP BY window_start, window_end, device;
SELECT count(*) AS rows_now FROM per_window;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	weir := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	if code, out, errs := weir("run", file, "--data", data); code != 0 || !strings.Contains(out, " 2\n") {
		t.Fatalf("first run: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := weir("run", file, "--data", data); code == 0 || !strings.Contains(errs, "already exists") {
		t.Fatalf("second run without --resume: %d %s", code, errs)
	}
	code, out, errs := weir("run", file, "--data", data, "--resume")
	if code != 0 {
		t.Fatalf("run --resume: %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, " 2\n") || !strings.Contains(out, `relation "per_window" already exists, skipping`) {
		t.Fatalf("run --resume output:\n%s", out)
	}
	if code, _, errs := weir("run", file, "--resume"); code != 2 || !strings.Contains(errs, "--resume needs --data") {
		t.Fatalf("--resume without --data: %d %s", code, errs)
	}
}

func TestParseCrashSpec(t *testing.T) {
	for _, c := range []struct {
		spec          string
		before, after float64
		bad           bool
	}{
		{spec: "0.25", before: 0.25, after: 0.25},
		{spec: "before=0.1,after=0.2", before: 0.1, after: 0.2},
		{spec: "after=1", after: 1},
		{spec: "during=1", bad: true},
		{spec: "x", bad: true},
	} {
		b, a, err := parseCrashSpec(c.spec)
		if (err != nil) != c.bad || (!c.bad && (b != c.before || a != c.after)) {
			t.Errorf("%q: %v %v %v", c.spec, b, a, err)
		}
	}
}
