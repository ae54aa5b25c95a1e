package engine

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
)

// TestKafkaProducedAfterRestart: records produced into a 4-partition
// topic after the job restarted and caught up are all read, with bundles
// so small that the source units keep hitting the keyed stage's
// backpressure limit. Several source units then wait for the same full
// downstream unit; before the executor woke every waiter (broadcast), one
// of them could stay blocked with the inbox already empty and its
// partition's watermark stalled. The table must equal a brute-force count
// per window and device.
func TestKafkaProducedAfterRestart(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	c := kafkatest.Start(t)
	const parts = 4
	c.CreateTopic("ev", parts)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	want := map[string]int64{}
	mk := func(from, to int) []*kgo.Record {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			for p := 0; p < parts; p++ {
				ts := base + int64(i)*100_000 - rng.Int63n(2*oSec) // out of order within the 5 s delay
				dev := fmt.Sprintf("d%d", rng.Intn(8))
				start := ts - ts%(10*oSec)
				want[datum.FormatTimestamp(start)+" "+dev]++
				recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(p),
					Value: []byte(fmt.Sprintf(`{"device": %q, "ts": %q}`, dev, datum.FormatTimestamp(ts)))})
			}
		}
		return recs
	}
	c.Produce(mk(0, 200)...)
	dir := t.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true, Parallelism: 2, BundleSize: 1 + rng.Intn(10), Logf: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	script := `CREATE SOURCE ev (device VARCHAR NOT NULL, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', brokers = '` + c.Addr() + `', topic = 'ev', format = 'json');
CREATE TABLE out (window_start TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (window_start, device));
CREATE JOB kj WITH (parallelism = '2') AS INSERT INTO out SELECT window_start, device, count(*)
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;
`
	if _, err := e.NewSession().Exec(ctx, script); err != nil {
		t.Fatal(err)
	}
	rj := e.runningJob("kj")
	if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn >= 200*parts }); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	rj = e.runningJob("kj")
	c.Produce(mk(200, 400)...)
	end := base + 3600*oSec
	var ends []*kgo.Record
	for p := 0; p < parts; p++ {
		ends = append(ends, &kgo.Record{Topic: "ev", Partition: int32(p),
			Value: []byte(fmt.Sprintf(`{"device": "zz", "ts": %q}`, datum.FormatTimestamp(end)))})
	}
	c.Produce(ends...)
	if err := rj.WaitWatermark(ctx, end-5*oSec); err != nil {
		var units []string
		for _, s := range rj.Status().Stages {
			for _, r := range s.Ranges {
				units = append(units, fmt.Sprintf("%s/u%d p%d wm=%d events=%d backlog=%d", s.Name, r.Unit, r.Partition, r.Watermark, r.Events, r.Backlog))
			}
		}
		t.Fatalf("seed %d, bundle %d: %v; units %v", seed, opts.BundleSize, err, units)
	}
	res, err := e.NewSession().Exec(ctx, "SELECT window_start, device, n FROM out WHERE device <> 'zz'")
	if err != nil {
		t.Fatal(err)
	}
	var got, wantLines []string
	for _, r := range res[0].Rows {
		got = append(got, fmt.Sprintf("%s %s %s", datum.FormatTimestamp(r[0].Micros()), r[1].Str(), fmt.Sprint(r[2].Int())))
	}
	for k, n := range want {
		wantLines = append(wantLines, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(got)
	sort.Strings(wantLines)
	if !oSameLines(wantLines, got) {
		t.Fatalf("seed %d: table differs from the oracle\n%s", seed, oDiff(wantLines, got))
	}
}
