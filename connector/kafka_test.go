package connector

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/internal/kafkatest"
)

var kafkaSeed = flag.Int64("kafka-seed", 0, "seed of the randomized Kafka source tests (0: from the clock)")

func testSeed(t *testing.T, flagged int64) *rand.Rand {
	seed := flagged
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	t.Logf("seed %d (re-run with -kafka-seed=%d)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

var kafkaSchema = []string{"device VARCHAR NOT NULL", "temp DOUBLE", "ts TIMESTAMP NOT NULL",
	"_key VARCHAR", "_partition INT", "_offset BIGINT", "_headers VARCHAR"}

func openKafka(t *testing.T, c *kafkatest.Cluster, topic string, opts map[string]string, schema []string, timeCol int) Source {
	t.Helper()
	o := map[string]string{"brokers": c.Addr(), "topic": topic}
	for k, v := range opts {
		o[k] = v
	}
	src, err := OpenSource(SourceConfig{Name: "k", Connector: "kafka", Options: o, Schema: parseSchema(t, schema), TimeCol: timeCol}, Env{Clock: SystemClock()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.(*kafkaSource).Close() })
	return src
}

// readN reads from r until it has n records (waiting on Ready, never
// sleeping), or fails after a deadline.
func readN(t *testing.T, r Reader, n int) []Record {
	t.Helper()
	var out []Record
	deadline := time.After(30 * time.Second)
	for len(out) < n {
		var err error
		out, _, err = r.Read(out, n-len(out))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) >= n {
			break
		}
		select {
		case <-r.Ready():
		case <-deadline:
			t.Fatalf("read %d of %d records", len(out), n)
		}
	}
	return out
}

// kafkaEvent is one produced record and what the source must make of it.
type kafkaEvent struct {
	part   int32
	key    string
	device string
	temp   float64
	ts     int64 // millis
	hdr    string
}

func (e kafkaEvent) record(topic string) *kgo.Record {
	v := fmt.Sprintf(`{"device": %q, "temp": %g, "ts": %d}`, e.device, e.temp, e.ts)
	return &kgo.Record{Topic: topic, Partition: e.part, Key: []byte(e.key), Value: []byte(v),
		Headers: []kgo.RecordHeader{{Key: "h", Value: []byte(e.hdr)}}}
}

// expected is the row the source must produce for e at offset (the
// oracle: built from the event, not from a decoder).
func (e kafkaEvent) expected(offset int64) string {
	return fmtRow(datum.Row{datum.NewString(e.device), datum.NewFloat(e.temp), datum.NewTimestamp(e.ts * 1000),
		datum.NewString(e.key), datum.NewInt(int64(e.part)), datum.NewInt(offset), datum.NewString(`{"h":"` + e.hdr + `"}`)})
}

func randomEvents(rng *rand.Rand, n, parts int) []kafkaEvent {
	var evs []kafkaEvent
	base := int64(1_700_000_000_000)
	for i := 0; i < n; i++ {
		evs = append(evs, kafkaEvent{part: int32(rng.Intn(parts)), key: fmt.Sprintf("k%d", rng.Intn(20)),
			device: fmt.Sprintf("d%d", rng.Intn(50)), temp: float64(rng.Intn(10000)) / 8,
			ts: base + int64(i)*100 - int64(rng.Intn(5000)), hdr: fmt.Sprintf("v%d", rng.Intn(3))})
	}
	return evs
}

// TestKafkaSourceReads produces randomized, out-of-order records to three
// partitions and checks each partition's reader returns exactly its
// records, in offset order, with the metadata columns, and that a reader
// reopened at a committed position returns exactly the rest.
func TestKafkaSourceReads(t *testing.T) {
	rng := testSeed(t, *kafkaSeed)
	c := kafkatest.Start(t)
	const parts = 3
	c.CreateTopic("readings", parts)
	evs := randomEvents(rng, 600, parts)
	var recs []*kgo.Record
	for _, e := range evs {
		recs = append(recs, e.record("readings"))
	}
	c.Produce(recs...)
	want := make([][]string, parts) // per partition, in offset order
	for _, e := range evs {
		want[e.part] = append(want[e.part], e.expected(int64(len(want[e.part]))))
	}
	src := openKafka(t, c, "readings", nil, kafkaSchema, 2)
	if n := src.Partitions(8); n != parts {
		t.Fatalf("Partitions = %d, want %d", n, parts)
	}
	if src.Bounded() {
		t.Fatal("a kafka source is unbounded")
	}
	for p := 0; p < parts; p++ {
		r, err := src.Open(p, parts, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := readN(t, r, len(want[p]))
		for i, rec := range got {
			if rec.Err != nil || rec.Offset != int64(i) || fmtRow(rec.Row) != want[p][i] {
				t.Fatalf("partition %d record %d: got %s, want @%d %s", p, i, fmtRecord(rec), i, want[p][i])
			}
		}
		if r.NextOffset() != int64(len(want[p])) {
			t.Fatalf("NextOffset = %d, want %d", r.NextOffset(), len(want[p]))
		}
		if b := r.(BacklogReader).Backlog(); b != 0 {
			t.Fatalf("backlog %d after reading everything", b)
		}
		r.Close()
		// Restart from a committed position: exactly the rest.
		from := rng.Int63n(int64(len(want[p])))
		r, err = src.Open(p, parts, from)
		if err != nil {
			t.Fatal(err)
		}
		got = readN(t, r, len(want[p])-int(from))
		for i, rec := range got {
			off := from + int64(i)
			if rec.Offset != off || fmtRow(rec.Row) != want[p][off] {
				t.Fatalf("partition %d reopened at %d: record %d is %s, want @%d %s", p, from, i, fmtRecord(rec), off, want[p][off])
			}
		}
		r.Close()
	}
}

// TestKafkaSourceBadInput checks that malformed values become error
// records carrying the value as Raw (the dead letter's bytes), that good
// records around them are unaffected, and that RawAt returns a record's
// value.
func TestKafkaSourceBadInput(t *testing.T) {
	c := kafkatest.Start(t)
	for _, format := range []string{"json", "csv"} {
		topic := "bad_" + format
		c.CreateTopic(topic, 1)
		good := `{"device": "a", "temp": 1.5, "ts": 1000}`
		if format == "csv" {
			good = "a,1.5,1970-01-01 00:00:01"
		}
		big := strings.Repeat("x", MaxRecordBytes+10)
		values := []struct {
			v    string
			code string
		}{
			{good, ""},
			{`{"device": "a", "temp": }`, "22P02"},
			{`{"device": "a", "temp": "hot", "ts": 1}`, "22P02"},
			{"a,\"unterminated", "22P02"},
			{"\xff\xfe", "22021"},
			{`{"temp": 1}`, "23502"},
			{big, "54000"},
			{good, ""},
		}
		if format == "csv" {
			values[1].code, values[2].code, values[5].v, values[5].code = "22P04", "22P04", ",1,1970-01-01", "23502"
			values[2].v = "a,hot,1970-01-01"
			values[2].code = "22P02"
			values[3].code = "22P04"
		}
		var recs []*kgo.Record
		for _, v := range values {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(v.v)})
		}
		recs = append(recs, &kgo.Record{Topic: topic}) // a tombstone
		c.Produce(recs...)
		src := openKafka(t, c, topic, map[string]string{"format": format}, []string{"device VARCHAR NOT NULL", "temp DOUBLE", "ts TIMESTAMP"}, -1)
		r, err := src.Open(0, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := readN(t, r, len(recs))
		for i, rec := range got {
			if i == len(values) {
				if rec.Err == nil || pgerrCode(rec.Err) != "22004" {
					t.Fatalf("%s: tombstone: %s", format, fmtRecord(rec))
				}
				continue
			}
			v := values[i]
			if v.code == "" {
				if rec.Err != nil {
					t.Fatalf("%s: record %d: %s", format, i, fmtRecord(rec))
				}
				raw, err := src.(RawSource).RawAt(0, 1, rec.Offset)
				if err != nil || string(raw) != v.v {
					t.Fatalf("%s: RawAt(%d) = %q, %v; want %q", format, rec.Offset, raw, err, v.v)
				}
				continue
			}
			wantRaw := v.v
			if len(wantRaw) > MaxRecordBytes {
				wantRaw = wantRaw[:maxRawBytes]
			}
			if rec.Err == nil || pgerrCode(rec.Err) != v.code || string(rec.Raw) != wantRaw {
				t.Fatalf("%s: record %d (%.40q): got %.200s, want error %s with the raw value", format, i, v.v, fmtRecord(rec), v.code)
			}
		}
		r.Close()
		// RawAt of a record the reader no longer holds is fetched.
		raw, err := src.(RawSource).RawAt(0, 1, 0)
		if err != nil || string(raw) != values[0].v {
			t.Fatalf("%s: RawAt(0) after close = %q, %v", format, raw, err)
		}
	}
}

// TestKafkaSourceOptions checks option and schema validation errors.
func TestKafkaSourceOptions(t *testing.T) {
	for _, tc := range []struct {
		opts   map[string]string
		schema []string
		tcol   int
		code   string
	}{
		{map[string]string{"topic": "t"}, []string{"a INT"}, -1, "22023"},
		{map[string]string{"brokers": "x:1"}, []string{"a INT"}, -1, "22023"},
		{map[string]string{"brokers": "x:1", "topic": "t", "format": "avro"}, []string{"a INT"}, -1, "22023"},
		{map[string]string{"brokers": "x:1", "topic": "t", "start": "middle"}, []string{"a INT"}, -1, "22023"},
		{map[string]string{"brokers": "x:1", "topic": "t", "group_id": "g"}, []string{"a INT"}, -1, "42601"},
		{map[string]string{"brokers": "x:1", "topic": "t", "ts_from": "kafka_timestamp"}, []string{"a INT"}, -1, "22023"},
		{map[string]string{"brokers": "x:1", "topic": "t"}, []string{"_offset VARCHAR"}, -1, "42804"},
		{map[string]string{"brokers": "x:1", "topic": "t", "ts_from": "kafka_timestamp"}, []string{"ts INT"}, 0, "42804"},
	} {
		_, err := OpenSource(SourceConfig{Name: "k", Connector: "kafka", Options: tc.opts, Schema: parseSchema(t, tc.schema), TimeCol: tc.tcol}, Env{})
		if pgerrCode(err) != tc.code {
			t.Errorf("%v %v: error %v (%s), want %s", tc.opts, tc.schema, err, pgerrCode(err), tc.code)
		}
	}
}

// TestKafkaSourceOutage reads while the broker refuses every request and
// while it is closed and restarted: the reader returns nothing meanwhile
// (without spinning: it waits on Ready) and afterwards returns every
// record exactly once.
func TestKafkaSourceOutage(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("t", 1)
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf(`{"n": %d}`, i))})
		}
		c.Produce(recs...)
	}
	produce(0, 50)
	src := openKafka(t, c, "t", nil, []string{"n BIGINT"}, -1)
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []Record
	got = append(got, readN(t, r, 50)...)

	// A broker that refuses everything: nothing is read, Ready stays open.
	end := c.Outage()
	recs, _, err := r.Read(nil, 100)
	if err != nil || len(recs) != 0 {
		t.Fatalf("during the outage: %d records, %v", len(recs), err)
	}
	select {
	case <-r.Ready():
		if recs, _, _ := r.Read(nil, 100); len(recs) != 0 {
			t.Fatalf("read %d records during the outage", len(recs))
		}
	case <-time.After(300 * time.Millisecond):
	}
	end()
	produce(50, 100)
	got = append(got, readN(t, r, 50)...)

	// The broker goes away and comes back on the same port with its data.
	c.Restart()
	produce(100, 150)
	got = append(got, readN(t, r, 50)...)
	for i, rec := range got {
		if rec.Err != nil || rec.Offset != int64(i) || rec.Row[0].Int() != int64(i) {
			t.Fatalf("record %d: %s", i, fmtRecord(rec))
		}
	}
}

// TestKafkaSourceDeletedTopic deletes the topic under a reader: the reader
// returns nothing (no error: the job waits), and once a topic of the same
// name is back it reads on from its position: the new topic's records at
// offsets below it are not read (a recreated topic is a new log; its
// offsets restart, and Weir's positions are the old log's).
func TestKafkaSourceDeletedTopic(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("t", 1)
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			recs = append(recs, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf(`{"n": %d}`, i))})
		}
		c.Produce(recs...)
	}
	produce(0, 20)
	src := openKafka(t, c, "t", nil, []string{"n BIGINT"}, -1)
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readN(t, r, 20)
	c.DeleteTopic("t")
	if recs, _, err := r.Read(nil, 10); err != nil || len(recs) != 0 {
		t.Fatalf("read %d records, %v from a deleted topic", len(recs), err)
	}
	c.CreateTopic("t", 1)
	produce(100, 130) // offsets 0..29 of the new topic
	got := readN(t, r, 10)
	for i, rec := range got {
		if rec.Err != nil || rec.Offset != int64(20+i) || rec.Row[0].Int() != int64(120+i) {
			t.Fatalf("record %d after the topic came back: %s", i, fmtRecord(rec))
		}
	}
}

// TestKafkaSourceGrowsAndStarts covers WaitPartitions (a partition added
// while reading) and StartOffset (start = 'latest').
func TestKafkaSourceGrowsAndStarts(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("t", 2)
	c.Produce(&kgo.Record{Topic: "t", Partition: 1, Value: []byte(`{"n": 1}`)}, &kgo.Record{Topic: "t", Partition: 1, Value: []byte(`{"n": 2}`)})
	src := openKafka(t, c, "t", map[string]string{"start": "latest", "discovery_interval": "50 ms"}, []string{"n BIGINT"}, -1)
	ss := src.(StartingSource)
	if off, err := ss.StartOffset(1, 2); err != nil || off != 2 {
		t.Fatalf("StartOffset(1) = %d, %v; want 2", off, err)
	}
	if off, err := ss.StartOffset(0, 2); err != nil || off != 0 {
		t.Fatalf("StartOffset(0) = %d, %v; want 0", off, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan int, 1)
	go func() {
		n, _ := src.(PartitionWatcher).WaitPartitions(ctx, 2)
		got <- n
	}()
	c.AddPartitions("t", 5)
	if n := <-got; n != 5 {
		t.Fatalf("WaitPartitions = %d, want 5", n)
	}
	// A new partition is readable from its start.
	c.Produce(&kgo.Record{Topic: "t", Partition: 4, Value: []byte(`{"n": 7}`)})
	r, err := src.Open(4, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if rec := readN(t, r, 1)[0]; rec.Offset != 0 || rec.Row[0].Int() != 7 {
		t.Fatalf("partition 4: %s", fmtRecord(rec))
	}
	// WaitPartitions ends with its context.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := src.(PartitionWatcher).WaitPartitions(ctx2, 5); err == nil {
		t.Fatal("WaitPartitions returned without error on a canceled context")
	}
}

// TestKafkaSourceTimestamp: ts_from = 'kafka_timestamp' fills the event-time
// column from the record's timestamp (the value need not carry it), and
// _timestamp reads it too; CSV values decode positionally.
func TestKafkaSourceTimestamp(t *testing.T) {
	c := kafkatest.Start(t)
	c.CreateTopic("t", 1)
	base := time.Date(2024, 5, 6, 7, 8, 9, 123000000, time.UTC)
	var recs []*kgo.Record
	for i := 0; i < 5; i++ {
		recs = append(recs, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("d%d,%d", i, i*10)), Timestamp: base.Add(time.Duration(4-i) * time.Second)})
	}
	c.Produce(recs...)
	src := openKafka(t, c, "t", map[string]string{"format": "csv", "ts_from": "kafka_timestamp"},
		[]string{"device VARCHAR", "v INT", "ts TIMESTAMP NOT NULL", "_timestamp TIMESTAMP"}, 2)
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i, rec := range readN(t, r, 5) {
		ts := base.Add(time.Duration(4-i) * time.Second).UnixMicro()
		want := fmtRow(datum.Row{datum.NewString(fmt.Sprintf("d%d", i)), datum.NewInt(int64(i * 10)), datum.NewTimestamp(ts), datum.NewTimestamp(ts)})
		if rec.Err != nil || fmtRow(rec.Row) != want {
			t.Fatalf("record %d: %s, want %s", i, fmtRecord(rec), want)
		}
	}
}
