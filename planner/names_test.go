package planner

import (
	"slices"
	"testing"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/sql"
)

// TestStableNames checks the naming contract directly: edits that do not
// change a stateful operator keep its name, and changing its group keys
// renames it. (testdata/names shows the same cases as text.)
func TestStableNames(t *testing.T) {
	c := catalog.NewMemory()
	mustDefine(t, c, `
CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, rpm BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE TABLE per_minute (window_start TIMESTAMP, device VARCHAR, n BIGINT, avg_temp DOUBLE,
  PRIMARY KEY (window_start, device));
CREATE TABLE per_minute_rpm (window_start TIMESTAMP, device VARCHAR, rpm BIGINT, n BIGINT);
CREATE TABLE totals (device VARCHAR PRIMARY KEY, n BIGINT);`)

	const base = `CREATE JOB j AS INSERT INTO per_minute
		SELECT window_start, device, count(*), avg(temp)
		FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, device`
	want := statefulNames(t, c, base)
	if !slices.Equal(want, []string{"window_agg_device"}) {
		t.Fatalf("base job: stateful operators %v", want)
	}
	same := map[string]string{
		"filter added upstream": `CREATE JOB j AS INSERT INTO per_minute
			SELECT window_start, device, count(*), avg(temp)
			FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) WHERE temp > 0 GROUP BY window_start, device`,
		"projection added upstream": `CREATE JOB j AS INSERT INTO per_minute
			WITH r AS (SELECT device, temp * 2 AS t2, ts FROM readings)
			SELECT window_start, device, count(*), avg(t2)
			FROM TUMBLE(r, ts, INTERVAL '1' MINUTE) GROUP BY window_start, device`,
		"select list reordered": `CREATE JOB j AS INSERT INTO per_minute (n, device, window_start, avg_temp)
			SELECT count(*), device, window_start, avg(temp)
			FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY device, window_start`,
		"window size changed": `CREATE JOB j AS INSERT INTO per_minute
			SELECT window_start, device, count(*), avg(temp)
			FROM TUMBLE(readings, ts, INTERVAL '10' MINUTE) GROUP BY window_start, device`,
		"group-window form": `CREATE JOB j AS INSERT INTO per_minute
			SELECT TUMBLE_START(ts, INTERVAL '1' MINUTE), device, count(*), avg(temp)
			FROM readings GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE), device`,
		"projection added downstream": `CREATE JOB j AS INSERT INTO per_minute
			SELECT window_start, device, count(*) * 2, round(avg(temp))
			FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, device`,
	}
	for what, q := range same {
		if got := statefulNames(t, c, q); !slices.Equal(got, want) {
			t.Errorf("%s: stateful operators %v, want %v (unchanged)", what, got, want)
		}
	}
	renamed := map[string]string{
		"another group key": `CREATE JOB j AS INSERT INTO per_minute_rpm
			SELECT window_start, device, rpm, count(*)
			FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, device, rpm`,
		"a computed group key": `CREATE JOB j AS INSERT INTO per_minute
			SELECT window_start, lower(device) AS d, count(*), avg(temp)
			FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE) GROUP BY window_start, d`,
		"not windowed": `CREATE JOB j AS INSERT INTO totals SELECT device, count(*) FROM readings GROUP BY device`,
	}
	for what, q := range renamed {
		if got := statefulNames(t, c, q); slices.Equal(got, want) {
			t.Errorf("%s: stateful operators %v, want a new name", what, got)
		}
	}
}

func mustDefine(t *testing.T, c *catalog.Catalog, script string) {
	t.Helper()
	stmts, err := sql.Parse(script, sql.ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if err := define(c, s); err != nil {
			t.Fatal(err)
		}
	}
}

func statefulNames(t *testing.T, c *catalog.Catalog, q string) []string {
	t.Helper()
	s, err := sql.ParseOne(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	p, err := PlanCreateJob(c, s.(*sql.CreateJob))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var names []string
	for _, st := range p.Stages {
		for _, op := range st.Ops {
			if op.Stateful() {
				names = append(names, op.OpName())
			}
		}
	}
	return names
}
