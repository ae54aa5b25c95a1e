package engine

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/natstest"
)

// TestNatsOracle runs the windowed jobs of TestSQLOracle over a NATS
// JetStream source (a real nats-server): the oracle's out-of-order
// readings with late records and malformed messages are published to the
// stream; the engine is closed and reopened mid-stream; the tables and
// late_dropped counts must equal the brute-force oracle, and each
// malformed message must be one dead letter per job carrying its bytes.
func TestNatsOracle(t *testing.T) {
	srv := natstest.Start(t)
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	srv.CreateStream("READINGS", "readings.>")
	evs := genOracleEvents(rng, 600+rng.Intn(600))
	bad := []string{`{"device": "d01", "temp": "abc", "ts": "2024-01-01 00:00:01"}`, `{"device": `, `not json`}
	type msg struct {
		subject string
		data    []byte
	}
	var msgs []msg
	badValues := map[string]bool{}
	for _, e := range evs {
		if rng.Intn(50) == 0 {
			v := bad[rng.Intn(len(bad))]
			msgs = append(msgs, msg{"readings.a", []byte(v)})
			badValues[v] = true
		}
		msgs = append(msgs, msg{"readings.a", kafkaJSON(rng, e)})
	}
	nbad := int64(len(msgs) - len(evs))
	half := len(msgs) / 2
	for _, m := range msgs[:half] {
		srv.Publish(m.subject, m.data)
	}
	jobs := randomJobs(rng)
	var script strings.Builder
	fmt.Fprintf(&script, `CREATE SOURCE readings (device VARCHAR, temp DOUBLE, rpm BIGINT, ok BOOLEAN, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'nats', url = '%s', stream = 'READINGS', subject = 'readings.>', format = 'json');
`, srv.URL)
	for _, j := range jobs {
		script.WriteString(j.sql())
	}
	dir := t.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true, BundleSize: 1 + rng.Intn(200)}
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
	rj := e.runningJob(jobs[0].name)
	if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn > int64(half/3) }); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	s = e.NewSession()
	for _, m := range msgs[half:] {
		srv.Publish(m.subject, m.data)
	}
	maxTS := evs[0].ts
	for _, e := range evs {
		maxTS = max(maxTS, e.ts)
	}
	endTS := maxTS + 3600*oSec
	srv.Publish("readings.a", []byte(fmt.Sprintf(`{"device": "zz_end", "ts": %q}`, datum.FormatTimestamp(endTS))))
	for _, j := range jobs {
		if err := e.runningJob(j.name).WaitWatermark(ctx, endTS-oDelay); err != nil {
			t.Fatalf("job %s: %v", j.name, err)
		}
	}
	dropped := checkBadRecords(t, ctx, s, jobs, nbad, badValues)
	checkJobTables(t, ctx, s, seed, jobs, dropped, func(j oJob) ([]string, int64) { return oracleFor(j, evs) })
}
