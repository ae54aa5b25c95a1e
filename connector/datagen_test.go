package connector

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
)

var readingsSchema = []Column{
	{Name: "device", Type: datum.TypeVarchar, NotNull: true},
	{Name: "temp", Type: datum.TypeFloat8},
	{Name: "rpm", Type: datum.TypeInt8},
	{Name: "ts", Type: datum.TypeTimestamp, NotNull: true},
}

func openDatagenT(t testing.TB, schema []Column, opts map[string]string, clock Clock) Source {
	t.Helper()
	opts["connector"] = "datagen"
	src, err := OpenSource(SourceConfig{Name: "g", Connector: "datagen", Schema: schema, TimeCol: len(schema) - 1, Options: opts}, Env{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestDatagenDeterministic(t *testing.T) {
	opts := func() map[string]string {
		return map[string]string{"rows": "5000", "seed": "42", "fields.device.cardinality": "100",
			"fields.temp.min": "-10", "fields.temp.max": "40", "fields.temp.null_rate": "0.1",
			"fields.rpm.min": "500", "fields.rpm.max": "3000", "fields.ts.max_disorder": "2 seconds"}
	}
	a := openDatagenT(t, readingsSchema, opts(), nil)
	b := openDatagenT(t, readingsSchema, opts(), nil)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	ra, _ := a.Open(0, 1, 0)
	rb, _ := b.Open(0, 1, 0)
	all := readAll(t, ra, rng)
	if len(all) != 5000 || recordsText(all) != recordsText(readAll(t, rb, rng)) {
		t.Fatalf("same seed, different records (%d)", len(all))
	}
	// Value properties.
	devices := map[string]bool{}
	nulls := 0
	var minTS, maxTS int64 = 1 << 62, 0
	for i, r := range all {
		if r.Offset != int64(i) {
			t.Fatalf("offset %d at %d", r.Offset, i)
		}
		d := r.Row[0].Str()
		if !strings.HasPrefix(d, "device-") {
			t.Fatalf("device %q", d)
		}
		devices[d] = true
		if r.Row[1].IsNull() {
			nulls++
		} else if f := r.Row[1].Float(); f < -10 || f > 40 {
			t.Fatalf("temp %v", f)
		}
		if v := r.Row[2].Int(); v < 500 || v > 3000 {
			t.Fatalf("rpm %d", v)
		}
		ts := r.Row[3].Micros()
		base := int64(1704067200_000000) + int64(i)*1000 // default 1000 rows/s of event time
		if ts > base || ts <= base-2_000_000 {
			t.Fatalf("ts %d outside (base-2s, base] for row %d", ts, i)
		}
		minTS, maxTS = min(minTS, ts), max(maxTS, ts)
	}
	if len(devices) != 100 {
		t.Fatalf("%d distinct devices, want 100", len(devices))
	}
	if nulls < 350 || nulls > 650 {
		t.Fatalf("%d NULL temps of 5000 at null_rate 0.1", nulls)
	}
	// Another seed differs.
	o := opts()
	o["seed"] = "43"
	rc, _ := openDatagenT(t, readingsSchema, o, nil).Open(0, 1, 0)
	if recordsText(readAll(t, rc, rng)) == recordsText(all) {
		t.Fatal("different seeds, same records")
	}
	// Reopening at any offset continues identically; partitions cover all.
	for k := 0; k < 20; k++ {
		i := rng.Intn(len(all))
		r, _ := a.Open(0, 1, int64(i))
		if recordsText(readAll(t, r, rng)) != recordsText(all[i:]) {
			t.Fatalf("reopen at %d differs", i)
		}
	}
	for n := 2; n <= 5; n++ {
		seen := make([]string, len(all))
		for p := 0; p < n; p++ {
			from := int64(0)
			if p == 1 {
				from = 1234 // resume mid-way: starts at the partition's first offset >= from
			}
			r, _ := a.Open(p, n, from)
			for _, rec := range readAll(t, r, rng) {
				if rec.Offset%int64(n) != int64(p) || seen[rec.Offset] != "" {
					t.Fatalf("partition %d/%d produced offset %d", p, n, rec.Offset)
				}
				seen[rec.Offset] = fmtRecord(rec)
			}
		}
		for i, s := range seen {
			if (i%n != 1 || i >= 1234) && s != fmtRecord(all[i]) {
				t.Fatalf("n=%d offset %d: %q vs %q", n, i, s, fmtRecord(all[i]))
			}
		}
	}
}

func TestDatagenThrottle(t *testing.T) {
	clock := NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	src := openDatagenT(t, readingsSchema, map[string]string{"rows_per_second": "10", "rows": "25"}, clock)
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	read := func() int {
		out, _, err := r.Read(nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(out)
	}
	if n := read(); n != 1 {
		t.Fatalf("at t=0 read %d rows, want 1", n)
	}
	ch := r.Ready()
	select {
	case <-ch:
		t.Fatal("ready before the next row is due")
	default:
	}
	clock.Advance(50 * time.Millisecond)
	select {
	case <-ch:
		t.Fatal("ready 50ms early")
	default:
	}
	if n := read(); n != 0 {
		t.Fatalf("read %d rows before due", n)
	}
	clock.Advance(50 * time.Millisecond)
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("not ready when due")
	}
	if n := read(); n != 1 {
		t.Fatalf("at t=100ms read %d rows, want 1", n)
	}
	clock.Advance(time.Second)
	if n := read(); n != 10 {
		t.Fatalf("after 1.1s read %d more rows, want 10", n)
	}
	// Event time follows rows_per_second: offset i at start + i*100ms.
	r2, _ := src.Open(0, 1, 7)
	out, _, _ := r2.Read(nil, 1)
	if got := out[0].Row[3].Micros(); got != 1704067200_000000+700_000 {
		t.Fatalf("event time of offset 7: %s", datum.FormatTimestamp(got))
	}
	// The bound ends the partition.
	clock.Advance(time.Hour)
	out, eof, _ := r.Read(nil, 1000)
	if len(out) != 13 || !eof {
		t.Fatalf("tail: %d rows, eof=%v", len(out), eof)
	}
	if r.NextOffset() != 25 {
		t.Fatalf("NextOffset %d", r.NextOffset())
	}
	select {
	case <-r.Ready():
	default:
		t.Fatal("a finished reader should be ready (to report eof)")
	}
}

func TestDatagenThrottlePartitioned(t *testing.T) {
	clock := NewManualClock(time.Unix(0, 0))
	src := openDatagenT(t, readingsSchema, map[string]string{"rows_per_second": "1000"}, clock)
	if src.Bounded() {
		t.Fatal("datagen without rows must be unbounded")
	}
	if src.Partitions(3) != 3 {
		t.Fatal("datagen offers the requested parallelism")
	}
	total := 0
	var rs []Reader
	for p := 0; p < 4; p++ {
		r, _ := src.Open(p, 4, 0)
		rs = append(rs, r)
	}
	clock.Advance(2 * time.Second)
	for _, r := range rs {
		out, eof, _ := r.Read(nil, 1<<20)
		if eof {
			t.Fatal("unbounded partition reported eof")
		}
		total += len(out)
	}
	// 1000 rows/s over 4 partitions for 2 s: 2000 rows, plus each reader's row 0.
	if total < 2000 || total > 2004 {
		t.Fatalf("read %d rows in 2s at 1000 rows/s", total)
	}
}

func TestDatagenTypesAndOptions(t *testing.T) {
	schema := parseSchema(t, []string{"id BIGINT NOT NULL", "s TEXT", "b BOOLEAN", "d DATE", "i INTERVAL",
		"x BYTEA", "u UUID", "j JSON", "n SMALLINT", "seqs TEXT", "t TIMESTAMP"})
	src := openDatagenT(t, schema, map[string]string{"rows": "100", "fields.id.kind": "sequence", "fields.id.start": "10",
		"fields.s.length": "5", "fields.seqs.kind": "sequence", "fields.n.cardinality": "3", "seed": "-7",
		"start_time": "2025-06-01 12:00:00"}, nil)
	r, _ := src.Open(0, 1, 0)
	all := readAll(t, r, rand.New(rand.NewSource(1)))
	ns := map[int64]bool{}
	for i, rec := range all {
		row := rec.Row
		if row[0].Int() != int64(10+i) || len(row[1].Str()) != 5 || row[9].Str() != "seqs-"+itoa(i) {
			t.Fatalf("row %d: %s", i, fmtRow(row))
		}
		if len(row[6].Str()) != 36 || row[6].Str()[14] != '4' {
			t.Fatalf("uuid %q", row[6].Str())
		}
		if _, err := datum.Parse(datum.TypeUUID, row[6].Str()); err != nil {
			t.Fatal(err)
		}
		ns[row[8].Int()] = true
	}
	if len(ns) != 3 {
		t.Fatalf("cardinality 3 gave %d values", len(ns))
	}
	if got := datum.FormatTimestamp(all[0].Row[10].Micros()); got != "2025-06-01 12:00:00" {
		t.Fatalf("start_time: %s", got)
	}
	bad := []struct {
		opts map[string]string
		code string
	}{
		{map[string]string{"rows": "x"}, "22023"},
		{map[string]string{"rows": "-1"}, "22023"},
		{map[string]string{"rows_per_second": "0"}, "22023"},
		{map[string]string{"speed": "1"}, "42601"},
		{map[string]string{"fields.nope.min": "1"}, "42703"},
		{map[string]string{"fields.id.colour": "1"}, "42601"},
		{map[string]string{"fields.id.null_rate": "0.5"}, "22023"},
		{map[string]string{"fields.s.null_rate": "2"}, "22023"},
		{map[string]string{"fields.b.min": "1"}, "22023"},
		{map[string]string{"fields.n.max": "100000"}, "22023"},
		{map[string]string{"fields.t.max_disorder": "soon"}, "22023"},
		{map[string]string{"start_time": "yesterday"}, "22023"},
		{map[string]string{"fields.id.kind": "zigzag"}, "22023"},
	}
	for _, c := range bad {
		_, err := OpenSource(SourceConfig{Name: "g", Connector: "datagen", Schema: schema, Options: c.opts}, Env{})
		if pgerrCode(err) != c.code {
			t.Errorf("%v: got %v (%s), want %s", c.opts, err, pgerrCode(err), c.code)
		}
	}
}

func itoa(i int) string { return datum.NewInt(int64(i)).Format() }

func TestOpenUnknownConnector(t *testing.T) {
	_, err := OpenSource(SourceConfig{Connector: "kafka"}, Env{})
	if pgerrCode(err) != "22023" || !strings.Contains(err.Error(), "kafka") {
		t.Fatalf("got %v", err)
	}
	_, err = OpenSink(SinkConfig{Connector: "kafka"}, Env{})
	if pgerrCode(err) != "22023" {
		t.Fatalf("got %v", err)
	}
}
