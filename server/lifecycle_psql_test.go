package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPsqlLifecycle drives the job lifecycle from psql against weir serve's
// wire protocol: snapshot, update, a refused update with its DETAIL, EXPLAIN
// JOB ... UPDATE, drain, restore, cancel. (engine/lifecycle_test.go checks
// the results; this checks what a psql user sees.)
func TestPsqlLifecycle(t *testing.T) {
	psql := needTool(t, "psql", "apt-get install postgresql-client")
	ts, _ := startEngineServer(t, Config{})
	q := func(where, groupBy string) string {
		return `INSERT INTO per_minute SELECT window_start, device, count(*), PANE_TIMING()
  FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) ` + where + ` GROUP BY window_start, window_end, device` + groupBy
	}
	script := strings.Join([]string{
		`CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);`,
		`CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, pane VARCHAR);`,
		`CREATE JOB j AS ` + q("", "") + `;`,
		`INSERT INTO readings VALUES ('a', 1.0, TIMESTAMP '2024-01-01 00:00:10'), ('b', 2.0, TIMESTAMP '2024-01-01 00:00:20');`,
		`CREATE SNAPSHOT s1 FOR JOB j WITH SOURCE;`,
		`SELECT name, job, with_source, operators FROM weir_snapshots;`,
		`EXPLAIN JOB j UPDATE AS ` + q("WHERE temp > 0", "") + `;`,
		`ALTER JOB j UPDATE AS ` + q("WHERE temp > 0", "") + `;`,
		`ALTER JOB j UPDATE AS ` + q("", ", temp") + `;`,
		`SELECT state, count(*) FROM weir_jobs GROUP BY state ORDER BY state;`,
		`DRAIN JOB j;`,
		`SELECT device, n, pane FROM per_minute ORDER BY device;`,
		`CREATE JOB r FROM SNAPSHOT s1;`,
		`CANCEL JOB r;`,
		`SHOW SNAPSHOTS;`,
		`DROP SNAPSHOT s1;`,
	}, "\n")
	sf := filepath.Join(t.TempDir(), "lifecycle.sql")
	if err := os.WriteFile(sf, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := runClient(t, nil, psql, "-X", "-v", "VERBOSITY=verbose", "-A", "-F", "|", "-d", ts.url("psql", ""), "-f", sf)
	for _, want := range []string{
		"CREATE SNAPSHOT",
		"s1|j|t|window_agg_device",
		"accepted: state, in-flight data and source positions stay in place",
		"window_agg_device -> window_agg_device: carried",
		"ALTER JOB",
		`ERROR:  55000: cannot update job "j": 1 operator(s) cannot carry their state over`,
		"DETAIL:  window_agg_device: no operator of the new job is named window_agg_device (renamed or removed",
		"HINT:  Nothing was changed; the job keeps running.",
		"RUNNING|1",
		"UPDATED|1",
		"DRAIN JOB",
		"a|1|DRAINED",
		"b|1|DRAINED",
		"CREATE JOB",
		"CANCEL JOB",
		"DROP SNAPSHOT",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("psql output:\n%s", out)
	}
}
