package engine

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// oValues renders events as an INSERT's VALUES list.
func oValues(evs []oEvent) string {
	vals := make([]string, len(evs))
	for i, e := range evs {
		f := []string{"NULL", "NULL", "NULL", "NULL", "TIMESTAMP '" + datum.FormatTimestamp(e.ts) + "'"}
		if e.device != nil {
			f[0] = "'" + *e.device + "'"
		}
		if e.temp != nil {
			f[1] = strconv.FormatFloat(*e.temp, 'g', -1, 64)
		}
		if e.rpm != nil {
			f[2] = strconv.FormatInt(*e.rpm, 10)
		}
		if e.ok != nil {
			f[3] = strconv.FormatBool(*e.ok)
		}
		vals[i] = "(" + strings.Join(f, ", ") + ")"
	}
	return strings.Join(vals, ", ")
}

// TestPartitionedLogOracle runs the windowed jobs of TestSQLOracle over a
// log source with partitions = 4: INSERTs spread the oracle's out-of-order
// readings round robin (row i of the process's appends to the source goes
// to partition i mod 4), so the source stage runs as four units on the
// job's workers, each partition with its own watermark; the tables and
// late_dropped counts must equal the brute-force oracle computed per
// partition. The engine is closed and reopened mid-stream (round robin
// starts again at partition 0 in the new process). A last row per
// partition far ahead in event time makes every window fire.
func TestPartitionedLogOracle(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	const parts = 4
	evs := genOracleEvents(rng, 1200+rng.Intn(800))
	byPart := make([][]oEvent, parts)
	rr := 0 // the engine's round-robin position
	insert := func(s *Session, ctx context.Context, batch []oEvent) {
		t.Helper()
		for _, e := range batch {
			byPart[rr%parts] = append(byPart[rr%parts], e)
			rr++
		}
		if _, err := s.Exec(ctx, "INSERT INTO readings VALUES "+oValues(batch)); err != nil {
			t.Fatal(err)
		}
	}
	jobs := randomJobs(rng)
	var script strings.Builder
	script.WriteString(`CREATE SOURCE readings (device VARCHAR, temp DOUBLE, rpm BIGINT, ok BOOLEAN, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'log', partitions = 4);
`)
	for _, j := range jobs {
		script.WriteString(j.sql())
	}
	dir := t.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true, Parallelism: 2, BundleSize: 1 + rng.Intn(200)}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s := e.NewSession()
	if _, err := s.Exec(ctx, script.String()); err != nil {
		t.Fatal(err)
	}
	half := len(evs) / 2
	for i := 0; i < half; i += 250 {
		insert(s, ctx, evs[i:min(i+250, half)])
	}
	rj := e.runningJob(jobs[0].name)
	if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn > int64(half/3) }); err != nil {
		t.Fatal(err)
	}
	if n := len(rj.Status().Stages[0].Ranges); n != parts {
		t.Fatalf("the source stage runs %d units, want %d", n, parts)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	s = e.NewSession()
	rr = 0
	for i := half; i < len(evs); i += 250 {
		insert(s, ctx, evs[i:min(i+250, len(evs))])
	}
	maxTS := evs[0].ts
	for _, e := range evs {
		maxTS = max(maxTS, e.ts)
	}
	endTS := maxTS + 3600*oSec
	var ends []string
	for p := 0; p < parts; p++ {
		ends = append(ends, fmt.Sprintf("('zz_end', NULL, NULL, NULL, TIMESTAMP '%s')", datum.FormatTimestamp(endTS)))
	}
	if _, err := s.Exec(ctx, "INSERT INTO readings VALUES "+strings.Join(ends, ", ")); err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		rj := e.runningJob(j.name)
		if rj == nil {
			t.Fatalf("job %s is not running", j.name)
		}
		if err := rj.WaitWatermark(ctx, endTS-oDelay); err != nil {
			t.Fatalf("job %s: %v", j.name, err)
		}
	}
	res, err := s.Exec(ctx, "SELECT name, state, late_dropped, error FROM weir_jobs ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	dropped := map[string]int64{}
	for _, r := range res[0].Rows {
		if r[1].Str() != "RUNNING" {
			t.Fatalf("job %s is %s: %s", r[0].Str(), r[1].Str(), oDatum(r[3]))
		}
		dropped[r[0].Str()] = r[2].Int()
	}
	checkJobTables(t, ctx, s, seed, jobs, dropped, func(j oJob) ([]string, int64) { return oracleForParts(j, byPart) })
}

// TestPartitionByClause checks CREATE SOURCE ... PARTITION BY: it is kept
// as the log's partition_by option, names existing columns, and applies
// to log sources only.
func TestPartitionByClause(t *testing.T) {
	e, err := Open(Options{DataDir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	ctx := context.Background()
	if _, err := s.Exec(ctx, `CREATE SOURCE ev (k VARCHAR, v BIGINT) PARTITION BY (k) WITH (partitions = 3);
INSERT INTO ev VALUES ('a', 1), ('b', 2), ('a', 3), ('c', 4);`); err != nil {
		t.Fatal(err)
	}
	res, err := s.Exec(ctx, "SELECT k, v FROM ev ORDER BY v")
	if err != nil || len(res[0].Rows) != 4 {
		t.Fatalf("SELECT from a partitioned log: %v %v", res, err)
	}
	for _, tc := range []struct{ sql, code string }{
		{"CREATE SOURCE x (k VARCHAR) PARTITION BY (nope) WITH (partitions = 2)", "42703"},
		{"CREATE SOURCE x (k VARCHAR) PARTITION BY (k) WITH (connector = 'datagen')", "0A000"},
		{"CREATE SOURCE x (k VARCHAR) WITH (partitions = 0)", "22023"},
		{"CREATE SOURCE x (k VARCHAR) PARTITION BY k", "42601"},
	} {
		_, err := s.Exec(ctx, tc.sql)
		if code := pgerr.Code(err); code != tc.code {
			t.Errorf("%s: %v (%s), want %s", tc.sql, err, code, tc.code)
		}
	}
}
