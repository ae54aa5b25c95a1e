package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPsqlStreaming drives a windowed job through psql, as a user would:
// a log source, a keyed table and a job; rows arrive by INSERT and by
// \copy; each window's row shows in a SELECT only once later rows have
// moved the watermark past the window's end.
func TestPsqlStreaming(t *testing.T) {
	psql := needTool(t, "psql", "apt-get install postgresql-client")
	ts, _ := startEngineServer(t, Config{})
	dir := t.TempDir()
	run := func(sql string) string {
		t.Helper()
		f := filepath.Join(dir, "step.sql")
		if err := os.WriteFile(f, []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runClient(t, nil, psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "|",
			"-d", ts.url("psql", ""), "-f", f)
		if err != nil {
			t.Fatalf("psql: %v\n%s\n%s", err, sql, out)
		}
		return strings.TrimSpace(out)
	}
	// poll runs query until its output is want, or fails at the deadline.
	poll := func(query, want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := run(query)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s\ngot:\n%s\nwant:\n%s", query, got, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	const windows = "SELECT window_start, device, n, avg_temp FROM per_minute ORDER BY window_start, device;"
	const eventsIn = "SELECT events_in FROM weir_jobs WHERE name = 'per_minute_job';"

	run(`
CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, avg_temp DOUBLE,
  PRIMARY KEY (window_start, device));
CREATE JOB per_minute_job AS INSERT INTO per_minute
  SELECT window_start, device, count(*), avg(temp)
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, device;
INSERT INTO readings VALUES ('d1', 20, '2026-01-01 00:00:10'), ('d1', 22, '2026-01-01 00:00:40'),
  ('d2', 30, '2026-01-01 00:00:50');
`)
	// The job has read the rows, but the watermark (00:00:45) is before
	// the window's end: nothing shows.
	poll(eventsIn, "3")
	if got := run(windows); got != "" {
		t.Fatalf("a window showed before the watermark passed its end:\n%s", got)
	}

	// \copy more rows; the watermark moves to 00:00:57, still short.
	data := filepath.Join(dir, "more.tsv")
	if err := os.WriteFile(data, []byte("d2\t32\t2026-01-01 00:00:55\nd1\t25\t2026-01-01 00:01:02\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := run(`\copy readings from '` + data + `'`); out != "" {
		t.Logf("\\copy: %s", out)
	}
	poll(eventsIn, "5")
	if got := run(windows); got != "" {
		t.Fatalf("a window showed before the watermark passed its end:\n%s", got)
	}

	// A row at 00:01:10 moves the watermark to 00:01:05: the first window
	// closes; the second (which has the 00:01:02 row) does not.
	run(`INSERT INTO readings VALUES ('d1', 27, '2026-01-01 00:01:10');`)
	poll(windows, "2026-01-01 00:00:00|d1|2|21\n2026-01-01 00:00:00|d2|2|31")
	poll(eventsIn, "6")
	if got := run(windows); strings.Contains(got, "00:01:00") {
		t.Fatalf("the second window showed before the watermark passed its end:\n%s", got)
	}

	// A later row closes the second window.
	run(`INSERT INTO readings VALUES ('d2', 40, '2026-01-01 00:02:30');`)
	poll(windows, "2026-01-01 00:00:00|d1|2|21\n2026-01-01 00:00:00|d2|2|31\n2026-01-01 00:01:00|d1|2|26")
}
