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

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
)

// kafkaJSON renders an oracle event as the JSON value of a Kafka record
// (NULLs as JSON null or a missing key).
func kafkaJSON(rng *rand.Rand, e oEvent) []byte {
	var f []string
	if e.device != nil {
		f = append(f, fmt.Sprintf(`"device": %q`, *e.device))
	} else if rng.Intn(2) == 0 {
		f = append(f, `"device": null`)
	}
	if e.temp != nil {
		f = append(f, `"temp": `+strconv.FormatFloat(*e.temp, 'g', -1, 64))
	}
	if e.rpm != nil {
		f = append(f, `"rpm": `+strconv.FormatInt(*e.rpm, 10))
	}
	if e.ok != nil {
		f = append(f, `"ok": `+strconv.FormatBool(*e.ok))
	}
	f = append(f, fmt.Sprintf(`"ts": %q`, datum.FormatTimestamp(e.ts)))
	rng.Shuffle(len(f), func(a, b int) { f[a], f[b] = f[b], f[a] })
	return []byte("{" + strings.Join(f, ", ") + "}")
}

// TestKafkaOracle is the SQL oracle test over a 4-partition Kafka topic:
// the oracle's out-of-order readings, with late records and a share of
// malformed values, are spread over the partitions at random; the
// windowed jobs of TestSQLOracle read them through a kafka source and
// their tables must equal the brute-force oracle computed per partition
// (each partition has its own watermark, which decides lateness), with
// late_dropped and the dead letters (raw values) counted exactly. The
// engine is closed and reopened mid-stream: the jobs resume from the Kafka
// offsets of their last commits. A last record per partition, far ahead in
// event time under a device the oracle skips, moves every watermark past
// the data so every window fires (Kafka sources never end).
func TestKafkaOracle(t *testing.T) {
	seed := *oracleSeed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -seed %d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	c := kafkatest.Start(t)
	const parts = 4
	c.CreateTopic("readings", parts)
	evs := genOracleEvents(rng, 1200+rng.Intn(800))
	byPart := make([][]oEvent, parts)
	var recs []*kgo.Record
	badValues := map[string]bool{}
	bad := []string{`{"device": "d01", "temp": "abc", "ts": "2024-01-01 00:00:01"}`, `{"device": "d01", "ts": "yesterday"}`, `{"device": `, `not json`, `{"temp": 1}`}
	for _, e := range evs {
		p := rng.Intn(parts)
		if rng.Intn(100) == 0 {
			v := bad[rng.Intn(len(bad))]
			recs = append(recs, &kgo.Record{Topic: "readings", Partition: int32(p), Value: []byte(v)})
			badValues[v] = true
		}
		byPart[p] = append(byPart[p], e)
		recs = append(recs, &kgo.Record{Topic: "readings", Partition: int32(p), Value: kafkaJSON(rng, e)})
	}
	nbad := int64(len(recs) - len(evs))
	maxTS := evs[0].ts
	for _, e := range evs {
		maxTS = max(maxTS, e.ts)
	}
	endTS := maxTS + 3600*oSec
	// Half the records before the job starts, the rest while it runs.
	half := len(recs) / 2
	c.Produce(recs[:half]...)

	jobs := randomJobs(rng)
	var script strings.Builder
	fmt.Fprintf(&script, `CREATE SOURCE readings (device VARCHAR, temp DOUBLE, rpm BIGINT, ok BOOLEAN, ts TIMESTAMP NOT NULL,
  WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'kafka', brokers = '%s', topic = 'readings', format = 'json');
`, c.Addr())
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
	// Stop mid-stream once the first job has seen some data, reopen.
	if rj := e.runningJob(jobs[0].name); rj != nil {
		if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn > int64(half/3) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	s = e.NewSession()
	c.Produce(recs[half:]...)
	var ends []*kgo.Record
	for p := 0; p < parts; p++ {
		ends = append(ends, &kgo.Record{Topic: "readings", Partition: int32(p),
			Value: []byte(fmt.Sprintf(`{"device": "zz_end", "ts": %q}`, datum.FormatTimestamp(endTS)))})
	}
	c.Produce(ends...)
	for _, j := range jobs {
		rj := e.runningJob(j.name)
		if rj == nil {
			t.Fatalf("job %s is not running", j.name)
		}
		if err := rj.WaitWatermark(ctx, endTS-oDelay); err != nil {
			t.Fatalf("job %s: %v", j.name, err)
		}
	}
	dropped := checkBadRecords(t, ctx, s, jobs, nbad, badValues)
	checkJobTables(t, ctx, s, seed, jobs, dropped, func(j oJob) ([]string, int64) { return oracleForParts(j, byPart) })
}

// TestKafkaNewPartitions adds partitions to the topic while a job reads
// it: the job picks them up (discovery_interval) and their records count,
// also across a restart of the engine, exactly once.
func TestKafkaNewPartitions(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("ev", 1)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	want := map[string]int{} // window start + device → count
	rec := func(p int, dev string, ts int64) *kgo.Record {
		w := ts - ts%(10*oSec)
		if dev != "zz_end" {
			want[datum.FormatTimestamp(w)+" "+dev]++
		}
		return &kgo.Record{Topic: "ev", Partition: int32(p), Value: []byte(fmt.Sprintf(`{"device": %q, "ts": %q}`, dev, datum.FormatTimestamp(ts)))}
	}
	var first []*kgo.Record
	for i := 0; i < 100; i++ {
		first = append(first, rec(0, fmt.Sprintf("d%d", i%3), base+int64(i)*oSec))
	}
	c.Produce(first...)
	dir := t.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true, Parallelism: 2}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s := e.NewSession()
	if _, err := s.Exec(ctx, fmt.Sprintf(`CREATE SOURCE ev (device VARCHAR, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'ev', discovery_interval = '20 ms');
CREATE TABLE counts (w TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (w, device));
CREATE JOB j AS INSERT INTO counts SELECT window_start, device, count(*) FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;`, c.Addr())); err != nil {
		t.Fatal(err)
	}
	rj := e.runningJob("j")
	if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn == 100 }); err != nil {
		t.Fatal(err)
	}
	c.AddPartitions("ev", 3)
	// A new partition starts at the stage's watermark (event time 94 s
	// now): its record of second 0 is late, dropped and counted.
	c.Produce(&kgo.Record{Topic: "ev", Partition: 2, Value: []byte(fmt.Sprintf(`{"device": "late", "ts": %q}`, datum.FormatTimestamp(base)))})
	var more []*kgo.Record
	for i := 100; i < 200; i++ {
		more = append(more, rec(1+i%2, fmt.Sprintf("d%d", i%4), base+int64(i)*oSec))
	}
	c.Produce(more...)
	if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn == 201 }); err != nil {
		t.Fatalf("%v (read %d of 201)", err, rj.Status().EventsIn)
	}
	// Restart: the three partitions and their positions are persisted.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	s = e.NewSession()
	endTS := base + 3600*oSec
	c.Produce(rec(0, "zz_end", endTS), rec(1, "zz_end", endTS), rec(2, "zz_end", endTS))
	rj = e.runningJob("j")
	if err := rj.WaitWatermark(ctx, endTS-oDelay); err != nil {
		t.Fatal(err)
	}
	res, err := s.Exec(ctx, "SELECT w, device, n FROM counts WHERE device <> 'zz_end'")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range res[0].Rows {
		got[r[0].Format()+" "+r[1].Str()] = int(r[2].Int())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts differ:\ngot  %v\nwant %v", got, want)
	}
	st := rj.Status()
	if parts := len(st.Stages[0].Ranges); parts != 3 || st.LateDropped != 1 {
		t.Fatalf("source stage has %d units, %d late drops; want 3, 1", parts, st.LateDropped)
	}
}

// TestKafkaBrokerOutage runs a job while its broker refuses every request
// and then while it is closed and restarted: the job keeps RUNNING (it
// waits), resumes, and every record counts exactly once.
func TestKafkaBrokerOutage(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("ev", 2)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	want := map[string]int{}
	n := 0
	produce := func(k int) {
		var recs []*kgo.Record
		for i := 0; i < k; i++ {
			ts := base + int64(n)*oSec/10
			dev := fmt.Sprintf("d%d", n%3)
			want[datum.FormatTimestamp(ts-ts%(10*oSec))+" "+dev]++
			recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(n % 2), Value: []byte(fmt.Sprintf(`{"device": %q, "ts": %q}`, dev, datum.FormatTimestamp(ts)))})
			n++
		}
		c.Produce(recs...)
	}
	produce(100)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := Open(Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	if _, err := s.Exec(ctx, fmt.Sprintf(`CREATE SOURCE ev (device VARCHAR, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
  WITH (connector = 'kafka', brokers = '%s', topic = 'ev');
CREATE TABLE counts (w TIMESTAMP, device VARCHAR, n BIGINT, PRIMARY KEY (w, device));
CREATE JOB j AS INSERT INTO counts SELECT window_start, device, count(*) FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, device;`, c.Addr())); err != nil {
		t.Fatal(err)
	}
	rj := e.runningJob("j")
	waitIn := func(k int64) {
		t.Helper()
		if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn == k }); err != nil {
			t.Fatalf("%v (read %d of %d)", err, rj.Status().EventsIn, k)
		}
	}
	waitIn(100)
	end := c.Outage()
	// While the broker refuses everything the job waits: still running.
	octx, ocancel := context.WithTimeout(ctx, 500*time.Millisecond)
	ok, _ := rj.WaitFor(octx, func() bool { st, _ := rj.Outcome(); return st != "RUNNING" })
	ocancel()
	if ok {
		st, err := rj.Outcome()
		t.Fatalf("job %s during the outage: %v", st, err)
	}
	end()
	produce(100)
	waitIn(200)
	c.Restart()
	produce(100)
	waitIn(300)
	endTS := base + 3600*oSec
	c.Produce(&kgo.Record{Topic: "ev", Partition: 0, Value: []byte(fmt.Sprintf(`{"device": "zz_end", "ts": %q}`, datum.FormatTimestamp(endTS)))},
		&kgo.Record{Topic: "ev", Partition: 1, Value: []byte(fmt.Sprintf(`{"device": "zz_end", "ts": %q}`, datum.FormatTimestamp(endTS)))})
	if err := rj.WaitWatermark(ctx, endTS-oSec); err != nil {
		t.Fatal(err)
	}
	res, err := s.Exec(ctx, "SELECT w, device, n FROM counts WHERE device <> 'zz_end'")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range res[0].Rows {
		got[r[0].Format()+" "+r[1].Str()] = int(r[2].Int())
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts differ:\ngot  %v\nwant %v", got, want)
	}
}

// TestKafkaStartLatest: start = 'latest' skips what the topic held when
// the job first started, and that starting position is persisted: records
// produced while the engine is closed (before the job read anything) are
// read after the restart, none twice.
func TestKafkaStartLatest(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("ev", 2)
	n := 0
	produce := func(k int) {
		var recs []*kgo.Record
		for i := 0; i < k; i++ {
			recs = append(recs, &kgo.Record{Topic: "ev", Partition: int32(n % 2), Value: []byte(fmt.Sprintf(`{"n": %d}`, n))})
			n++
		}
		c.Produce(recs...)
	}
	produce(10) // skipped
	dir := t.TempDir()
	opts := Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, NoSync: true}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { e.Close() }()
	s := e.NewSession()
	if _, err := s.Exec(ctx, fmt.Sprintf(`CREATE SOURCE ev (n BIGINT) WITH (connector = 'kafka', brokers = '%s', topic = 'ev', start = 'latest');
CREATE TABLE seen (n BIGINT);
CREATE JOB j AS INSERT INTO seen SELECT n FROM ev;`, c.Addr())); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil { // before the job read anything
		t.Fatal(err)
	}
	produce(6)
	if e, err = Open(opts); err != nil {
		t.Fatal(err)
	}
	s = e.NewSession()
	produce(4)
	rj := e.runningJob("j")
	if _, err := rj.WaitFor(ctx, func() bool { return rj.Status().EventsIn >= 10 }); err != nil {
		t.Fatal(err)
	}
	res, err := s.Exec(ctx, "SELECT n FROM seen ORDER BY n")
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, r := range res[0].Rows {
		got = append(got, r[0].Int())
	}
	if fmt.Sprint(got) != "[10 11 12 13 14 15 16 17 18 19]" {
		t.Fatalf("read %v, want 10..19", got)
	}
}
