package engine

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
	"github.com/weir-sql/weir/internal/natstest"
	"github.com/weir-sql/weir/internal/pgtest"
	"github.com/weir-sql/weir/internal/sinktest"
)

// TestKafkaToSinksOracle reads a 4-partition Kafka topic of out-of-order
// readings with some late ones (each partition's watermark decides
// lateness) into two jobs, TUMBLE count and sum per device, one writing a
// Kafka sink (transactions, read back with read_committed) and one
// appending to a real PostgreSQL table. The engine is closed and reopened
// mid-stream. Both outputs must equal the brute-force oracle exactly: each
// window once, late records dropped.
func TestKafkaToSinksOracle(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	pg := pgtest.Start(t)
	c := kafkatest.Start(t)
	const parts = 4
	c.CreateTopic("ev", parts)
	c.CreateTopic("kout", 2)
	sinktest.Exec(t, pg.URL, "CREATE TABLE pout (window_start timestamp, device text, n bigint, total bigint)")

	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	type agg struct{ n, total int64 }
	want := map[string]*agg{}
	byPart := make([][]*kgo.Record, parts)
	endTS := base
	for p := 0; p < parts; p++ {
		maxTS := int64(-1 << 62)
		for i := 0; i < 400+rng.Intn(400); i++ {
			ts := base + int64(i)*100_000 - rng.Int63n(3*oSec)
			if rng.Intn(25) == 0 {
				ts -= 20*oSec + rng.Int63n(20*oSec) // late
			}
			dev := fmt.Sprintf("d%d", rng.Intn(8))
			v := rng.Int63n(1000)
			start := ts - ((ts%(10*oSec))+10*oSec)%(10*oSec)
			if start+10*oSec > maxTS-oDelay { // on time in its partition
				k := datum.FormatTimestamp(start) + " " + dev
				if want[k] == nil {
					want[k] = &agg{}
				}
				want[k].n++
				want[k].total += v
			}
			maxTS = max(maxTS, ts)
			endTS = max(endTS, ts)
			byPart[p] = append(byPart[p], &kgo.Record{Topic: "ev", Partition: int32(p),
				Value: []byte(fmt.Sprintf(`{"device": %q, "v": %d, "ts": %q}`, dev, v, datum.FormatTimestamp(ts)))})
		}
	}
	// Interleave the partitions (each keeps its order), so every partition
	// has records before and after the restart.
	var recs []*kgo.Record
	for i := 0; len(recs) < len(byPart[0])+len(byPart[1])+len(byPart[2])+len(byPart[3]); i++ {
		for p := range byPart {
			if i < len(byPart[p]) {
				recs = append(recs, byPart[p][i])
			}
		}
	}
	var wantLines []string
	for k, a := range want {
		wantLines = append(wantLines, fmt.Sprintf("%s %d %d", k, a.n, a.total))
	}
	sort.Strings(wantLines)
	endTS += 3600 * oSec

	script := fmt.Sprintf(`CREATE SOURCE ev (device VARCHAR NOT NULL, v BIGINT, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', brokers = '%[1]s', topic = 'ev', format = 'json');
CREATE SINK kout (window_start TIMESTAMP NOT NULL, device VARCHAR NOT NULL, n BIGINT, total BIGINT, PRIMARY KEY (window_start, device))
  WITH (connector = 'kafka', brokers = '%[1]s', topic = 'kout', format = 'json');
CREATE SINK pout (window_start TIMESTAMP, device VARCHAR, n BIGINT, total BIGINT)
  WITH (connector = 'postgres', url = '%[2]s', table = 'pout');
CREATE JOB kj WITH (parallelism = '2') AS INSERT INTO kout SELECT window_start, device, count(*), sum(v)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;
CREATE JOB pj WITH (parallelism = '2') AS INSERT INTO pout SELECT window_start, device, count(*), sum(v)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;
`, c.Addr(), pg.URL)
	// Everything is in the topic before the jobs start: this test is about
	// the sinks (records produced while a job runs, after a restart, are
	// TestKafkaProducedAfterRestart's).
	half := len(recs) / 2
	c.Produce(recs...)
	var ends []*kgo.Record
	for p := 0; p < parts; p++ {
		ends = append(ends, &kgo.Record{Topic: "ev", Partition: int32(p),
			Value: []byte(fmt.Sprintf(`{"device": "zz_end", "v": 0, "ts": %q}`, datum.FormatTimestamp(endTS)))})
	}
	c.Produce(ends...)

	dir := t.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true, Parallelism: 2, BundleSize: 1 + rng.Intn(100), Logf: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	if _, err := e.NewSession().Exec(ctx, script); err != nil {
		t.Fatal(err)
	}
	if rj := e.runningJob("kj"); rj != nil {
		if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn > int64(half/3) }); err != nil {
			st := rj.Status()
			var wms []string
			for _, s := range st.Stages {
				for _, r := range s.Ranges {
					wms = append(wms, fmt.Sprintf("%s/u%d p%d wm=%d ev=%d backlog=%d", s.Name, r.Unit, r.Partition, r.Watermark, r.Events, r.Backlog))
				}
			}
			t.Fatalf("%v: %s %v in=%d outbox=%d units %v bundle %d", err, st.State, st.Err, st.EventsIn, rj.OutboxRows(), wms, opts.BundleSize)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kj", "pj"} {
		rj := e.runningJob(name)
		if rj == nil {
			t.Fatalf("job %s is not running", name)
		}
		if err := rj.WaitWatermark(ctx, endTS-oDelay); err != nil {
			st := rj.Status()
			var wms []string
			for _, s := range st.Stages {
				for _, r := range s.Ranges {
					wms = append(wms, fmt.Sprintf("%s/u%d p%d wm=%d ev=%d", s.Name, r.Unit, r.Partition, r.Watermark, r.Events))
				}
			}
			t.Fatalf("job %s: %v; %s %v in=%d outbox=%d; want wm %d; units %v", name, err, st.State, st.Err, st.EventsIn, rj.OutboxRows(), endTS-oDelay, wms)
		}
		if ok, err := rj.WaitFor(ctx, func() bool { return rj.OutboxRows() == 0 }); !ok || err != nil {
			st, jerr := rj.Outcome()
			t.Fatalf("job %s: outbox not delivered (%v); job %s: %v", name, err, st, jerr)
		}
	}
	got := sinktest.JSONLines(t, c.ConsumeAll("kout", true), []string{"window_start", "device", "n", "total"})
	if !oSameLines(wantLines, got) {
		t.Fatalf("seed %d: Kafka sink (read_committed) differs from the oracle\n%s", seed, oDiff(wantLines, got))
	}
	got = sinktest.PGLines(t, pg.URL, "SELECT window_start, device, n, total FROM pout")
	if !oSameLines(wantLines, got) {
		t.Fatalf("seed %d: PostgreSQL sink differs from the oracle\n%s", seed, oDiff(wantLines, got))
	}
	t.Logf("%d records over %d partitions, %d windows in Kafka and PostgreSQL", len(recs), parts, len(wantLines))
}

// TestPostgresSinkTargetErrors: a postgres sink whose table is missing, or
// whose columns do not match the target's, fails its job; weir_jobs shows
// FAILED with the SQLSTATE and the reason.
func TestPostgresSinkTargetErrors(t *testing.T) {
	pg := pgtest.Start(t)
	sinktest.Exec(t, pg.URL, "CREATE TABLE short (device text)", "CREATE TABLE typed (device text, n text)")
	e, err := Open(Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := e.NewSession()
	script := `CREATE SOURCE ev (device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
INSERT INTO ev VALUES ('a', '2024-01-01 00:00:00'), ('b', '2024-01-01 00:00:01');
`
	cases := []struct{ table, want string }{
		{"nope", `42P01`},
		{"short", `42703`},
		{"typed", `42804`},
	}
	for i, c := range cases {
		script += fmt.Sprintf(`CREATE SINK s%[1]d (device VARCHAR, n BIGINT) WITH (connector = 'postgres', url = '%[2]s', table = '%[3]s');
CREATE JOB j%[1]d AS INSERT INTO s%[1]d SELECT device, count(*) FROM ev GROUP BY device;
`, i, pg.URL, c.table)
	}
	if _, err := s.Exec(ctx, script); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		name := fmt.Sprintf("j%d", i)
		if err := e.WaitJob(ctx, name); err != nil {
			t.Fatalf("job %s did not end: %v", name, err)
		}
		res, err := s.Exec(ctx, "SELECT state, error FROM weir_jobs WHERE name = '"+name+"'")
		if err != nil {
			t.Fatal(err)
		}
		r := res[0].Rows
		if len(r) != 1 || r[0][0].Str() != "FAILED" || !strings.Contains(r[0][1].Str(), c.want) || !strings.Contains(r[0][1].Str(), c.table) {
			t.Fatalf("job %s (table %s): weir_jobs %v, want FAILED with %s naming the table", name, c.table, r, c.want)
		}
		t.Logf("%s: %s", name, r[0][1].Str())
	}
}

// TestNATSSinkOracle: a windowed job over a CSV file writes into a NATS
// JetStream stream; the stream holds each window once (Nats-Msg-Id dedup
// makes a re-delivery harmless), equal to the oracle.
func TestNATSSinkOracle(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	srv := natstest.Start(t)
	srv.CreateStream("OUT", "out.>")
	dir := t.TempDir()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	want := map[string]int{}
	var csv strings.Builder
	csv.WriteString("device,ts\n")
	for i := 0; i < 2000; i++ {
		ts := base + int64(i)*20_000 - rng.Int63n(2*oSec)
		dev := fmt.Sprintf("d%d", rng.Intn(7))
		want[datum.FormatTimestamp(ts-((ts%(10*oSec))+10*oSec)%(10*oSec))+" "+dev]++
		fmt.Fprintf(&csv, "%s,%s\n", dev, datum.FormatTimestamp(ts))
	}
	if err := os.WriteFile(filepath.Join(dir, "ev.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var wantLines []string
	for k, n := range want {
		wantLines = append(wantLines, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(wantLines)
	e, err := Open(Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true, BundleSize: 1 + rng.Intn(100)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := e.NewSession()
	if _, err := s.Exec(ctx, fmt.Sprintf(`CREATE SOURCE ev (device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (connector = 'file', path = 'ev.csv', format = 'csv');
CREATE SINK nout (window_start TIMESTAMP NOT NULL, device VARCHAR NOT NULL, n BIGINT, PRIMARY KEY (window_start, device))
  WITH (connector = 'nats', url = '%s', stream = 'OUT', subject = 'out.counts');
CREATE JOB nj AS INSERT INTO nout SELECT window_start, device, count(*)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;`, srv.URL)); err != nil {
		t.Fatal(err)
	}
	if err := s.WaitJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.JobsError(); err != nil {
		t.Fatal(err)
	}
	st, err := srv.JetStream().Stream(ctx, "OUT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &kgo.Record{Value: m.Data})
	}
	got := sinktest.JSONLines(t, recs, []string{"window_start", "device", "n"})
	if !oSameLines(wantLines, got) {
		t.Fatalf("seed %d: NATS stream differs from the oracle\n%s", seed, oDiff(wantLines, got))
	}
	t.Logf("%d windows in the stream, each once", len(wantLines))
}
