package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/datum"
)

// TestLookupJoinSeesTableChanges checks joins of a stream with tables
// (side inputs): a point lookup by primary key, an indexed lookup by
// another column (LEFT, so unmatched rows come NULL-extended), a filter on
// the table side, and that a change to a table applies to the records read
// after it, not to those joined before. It also runs UNION ALL of two
// streams.
func TestLookupJoinSeesTableChanges(t *testing.T) {
	e, err := Open(Options{FS: vfs.NewMem(), Parallelism: 2, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	ctx := context.Background()
	exec := func(text string) {
		t.Helper()
		if _, err := s.Exec(ctx, text); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
	}
	exec(`
CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE SOURCE alarms (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE TABLE sites (device VARCHAR PRIMARY KEY, site VARCHAR, active BOOLEAN);
CREATE TABLE owners (site VARCHAR, owner VARCHAR);
CREATE TABLE by_site (device VARCHAR, rpm BIGINT, site VARCHAR);
CREATE TABLE by_owner (device VARCHAR, rpm BIGINT, owner VARCHAR);
CREATE TABLE merged (device VARCHAR, rpm BIGINT);
INSERT INTO sites VALUES ('d1', 'north', true), ('d2', 'south', true), ('d3', 'east', false);
INSERT INTO owners VALUES ('north', 'ann'), ('north', 'bob');
CREATE JOB point AS INSERT INTO by_site
  SELECT r.device, r.rpm, s.site FROM readings r JOIN sites s ON r.device = s.device WHERE s.active;
CREATE JOB indexed AS INSERT INTO by_owner
  SELECT r.device, r.rpm, o.owner FROM readings r JOIN sites s ON s.device = r.device
  LEFT JOIN owners o ON o.site = s.site;
CREATE JOB both AS INSERT INTO merged
  SELECT device, rpm FROM readings UNION ALL SELECT device, rpm * 10 FROM alarms WHERE rpm > 1;
`)
	wait := func(at string) {
		t.Helper()
		d, err := datum.Parse(datum.TypeTimestamp, at)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for _, src := range []string{"readings", "alarms"} {
			if err := e.AdvanceWatermark(src, d.Micros()); err != nil {
				t.Fatal(err)
			}
		}
		for _, src := range []string{"readings", "alarms"} {
			if err := e.WaitSourceWatermark(wctx, src, d.Micros()); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(query string, want ...string) {
		t.Helper()
		got := joRows(t, s, query)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s:\n%s\nwant\n%s", query, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	exec(`INSERT INTO readings VALUES ('d1', 1, '2024-01-01 00:00:01'), ('d2', 2, '2024-01-01 00:00:02'),
  ('d3', 3, '2024-01-01 00:00:03'), ('d4', 4, '2024-01-01 00:00:04');
INSERT INTO alarms VALUES ('d1', 1, '2024-01-01 00:00:01'), ('d5', 5, '2024-01-01 00:00:05')`)
	wait("2024-01-01 00:00:10")
	check("SELECT * FROM by_site", "d1 1 north", "d2 2 south")
	check("SELECT * FROM by_owner", "d1 1 ann", "d1 1 bob", "d2 2 NULL", "d3 3 NULL")
	check("SELECT * FROM merged", "d1 1", "d2 2", "d3 3", "d4 4", "d5 50")

	// Change the tables: later records see the change, earlier results stay.
	exec(`UPDATE sites SET site = 'south', active = true WHERE device = 'd3';
DELETE FROM sites WHERE device = 'd1';
INSERT INTO owners VALUES ('south', 'cy');
INSERT INTO readings VALUES ('d1', 11, '2024-01-01 00:00:11'), ('d2', 12, '2024-01-01 00:00:12'), ('d3', 13, '2024-01-01 00:00:13')`)
	wait("2024-01-01 00:00:20")
	check("SELECT * FROM by_site", "d1 1 north", "d2 12 south", "d2 2 south", "d3 13 south")
	check("SELECT * FROM by_owner", "d1 1 ann", "d1 1 bob", "d2 12 cy", "d2 2 NULL", "d3 13 cy", "d3 3 NULL")

	// EXPLAIN names the side inputs' lookups.
	res, err := s.Exec(ctx, "EXPLAIN JOB indexed")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for _, r := range res[0].Rows {
		plan = append(plan, r[0].Str())
	}
	text := strings.Join(plan, "\n")
	for _, want := range []string{"lookup_sites  LookupJoin inner table sites by primary key", "lookup_owners  LookupJoin left table owners indexed per bundle"} {
		if !strings.Contains(text, want) {
			t.Fatalf("EXPLAIN JOB indexed lacks %q:\n%s", want, text)
		}
	}
}
