package connector

import (
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/state"
)

var logSchema = []Column{{Name: "k", Type: datum.TypeInt8}, {Name: "v", Type: datum.TypeText}}

func openStore(t testing.TB, fs vfs.FS) *state.Store {
	t.Helper()
	st, err := state.Open("db", state.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openLog(t testing.TB, st *state.Store, hub *LogHub, id uint64) Source {
	t.Helper()
	src, err := OpenSource(SourceConfig{Name: "s", ID: id, Connector: "log", Schema: logSchema, TimeCol: -1,
		Options: map[string]string{"connector": "log", "idle_timeout": "5 seconds"}}, Env{Store: st, Logs: hub})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func logRow(k int64, v string) datum.Row { return datum.Row{datum.NewInt(k), datum.NewString(v)} }

func TestLogAppendReadDurable(t *testing.T) {
	fs := vfs.NewMem()
	st := openStore(t, fs)
	hub, err := NewLogHub(st)
	if err != nil {
		t.Fatal(err)
	}
	first, err := hub.Append(7, []datum.Row{logRow(1, "a"), logRow(2, "b")})
	if err != nil || first != 0 {
		t.Fatalf("append: %d %v", first, err)
	}
	if first, _ = hub.Append(7, []datum.Row{logRow(3, "c")}); first != 2 {
		t.Fatalf("second append at %d", first)
	}
	if first, _ = hub.Append(9, []datum.Row{logRow(100, "other")}); first != 0 {
		t.Fatalf("other source at %d", first)
	}
	src := openLog(t, st, hub, 7)
	if src.Partitions(4) != 1 || src.Bounded() {
		t.Fatal("log: 1 partition, unbounded")
	}
	r, _ := src.Open(0, 1, 0)
	out, eof, err := r.Read(nil, 10)
	if err != nil || eof || recordsText(out) != "@0 (1, \"a\")\n@1 (2, \"b\")\n@2 (3, \"c\")\n" || r.NextOffset() != 3 {
		t.Fatalf("read %q eof=%v err=%v next=%d", recordsText(out), eof, err, r.NextOffset())
	}
	// Reopen the store: offsets continue, records survive.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = openStore(t, fs)
	hub, err = NewLogHub(st)
	if err != nil {
		t.Fatal(err)
	}
	if hub.Len(7) != 3 || hub.Len(9) != 1 || hub.Len(8) != 0 {
		t.Fatalf("recovered lengths %d %d %d", hub.Len(7), hub.Len(9), hub.Len(8))
	}
	if first, _ = hub.Append(7, []datum.Row{logRow(4, "d")}); first != 3 {
		t.Fatalf("append after reopen at %d", first)
	}
	r, _ = openLog(t, st, hub, 7).Open(0, 1, 1)
	out, _, _ = r.Read(nil, 2)
	if recordsText(out) != "@1 (2, \"b\")\n@2 (3, \"c\")\n" || r.NextOffset() != 3 {
		t.Fatalf("read from 1: %q next=%d", recordsText(out), r.NextOffset())
	}
	out, _, _ = r.Read(out[:0], 2)
	if recordsText(out) != "@3 (4, \"d\")\n" {
		t.Fatalf("tail: %q", recordsText(out))
	}
	// Truncate, then reopen: the length is kept even with no records left.
	if err := hub.Truncate(7, 4); err != nil {
		t.Fatal(err)
	}
	if _, err := openLog(t, st, hub, 7).Open(0, 1, 2); pgerrCode(err) != "55000" {
		t.Fatalf("open below the truncation point: %v", err)
	}
	st.Close()
	st = openStore(t, fs)
	hub, _ = NewLogHub(st)
	if hub.Len(7) != 4 || hub.Len(9) != 1 {
		t.Fatalf("after truncate+reopen: %d %d", hub.Len(7), hub.Len(9))
	}
	if first, _ = hub.Append(7, []datum.Row{logRow(5, "e")}); first != 4 {
		t.Fatalf("append after truncate at %d", first)
	}
	r, _ = openLog(t, st, hub, 7).Open(0, 1, 4)
	out, _, _ = r.Read(nil, 10)
	if recordsText(out) != "@4 (5, \"e\")\n" {
		t.Fatalf("after truncate: %q", recordsText(out))
	}
	// Drop removes everything; open readers fail.
	if err := hub.Drop(7); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Read(nil, 10); pgerrCode(err) != "55000" {
		t.Fatalf("read after drop: %v", err)
	}
	st.Close()
	st = openStore(t, fs)
	hub, _ = NewLogHub(st)
	defer st.Close()
	if hub.Len(7) != 0 || hub.Len(9) != 1 {
		t.Fatalf("after drop+reopen: %d %d", hub.Len(7), hub.Len(9))
	}
}

func TestLogNotifyAcrossGoroutines(t *testing.T) {
	st := openStore(t, vfs.NewMem())
	defer st.Close()
	hub, _ := NewLogHub(st)
	src := openLog(t, st, hub, 1)
	r, _ := src.Open(0, 1, 0)
	const total = 500
	done := make(chan []Record)
	go func() {
		var got []Record
		deadline := time.After(20 * time.Second)
		for len(got) < total {
			ready := r.Ready()
			var err error
			got, _, err = r.Read(got, 64)
			if err != nil {
				panic(err)
			}
			if len(got) >= total {
				break
			}
			select {
			case <-ready:
			case <-deadline:
				done <- got
				return
			}
		}
		done <- got
	}()
	for i := 0; i < total; i += 10 {
		var rows []datum.Row
		for j := i; j < i+10; j++ {
			rows = append(rows, logRow(int64(j), "x"))
		}
		if _, err := hub.Append(1, rows); err != nil {
			t.Fatal(err)
		}
	}
	got := <-done
	if len(got) != total {
		t.Fatalf("reader got %d of %d", len(got), total)
	}
	for i, rec := range got {
		if rec.Offset != int64(i) || rec.Row[0].Int() != int64(i) {
			t.Fatalf("record %d: %s", i, fmtRecord(rec))
		}
	}
}

func TestLogConcurrentAppendersDense(t *testing.T) {
	st := openStore(t, vfs.NewMem())
	defer st.Close()
	hub, _ := NewLogHub(st)
	const writers, appends, per = 8, 25, 3
	var wg sync.WaitGroup
	firsts := make(chan int64, writers*appends)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for a := 0; a < appends; a++ {
				rows := make([]datum.Row, per)
				for j := range rows {
					rows[j] = logRow(int64(w*1000+a), "w")
				}
				var first int64
				var err error
				if a%2 == 0 {
					first, err = hub.Append(3, rows)
				} else {
					b := st.NewBatch()
					var commit func()
					first, commit = hub.AppendBatch(b, 3, rows)
					if err = st.Commit(b); err == nil {
						commit()
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				firsts <- first
			}
		}(w)
	}
	wg.Wait()
	close(firsts)
	seen := map[int64]bool{}
	for f := range firsts {
		if f%per != 0 || seen[f] {
			t.Fatalf("overlapping or misaligned first offset %d", f)
		}
		seen[f] = true
	}
	n := int64(writers * appends * per)
	if hub.Len(3) != n {
		t.Fatalf("Len %d want %d", hub.Len(3), n)
	}
	r, _ := openLog(t, st, hub, 3).Open(0, 1, 0)
	out, _, _ := r.Read(nil, int(n)+10)
	if int64(len(out)) != n {
		t.Fatalf("read %d of %d", len(out), n)
	}
	for i, rec := range out {
		if rec.Offset != int64(i) {
			t.Fatalf("gap: record %d has offset %d", i, rec.Offset)
		}
		// An append's rows are contiguous.
		if i%per != 0 && rec.Row[0].Int() != out[i-1].Row[0].Int() {
			t.Fatalf("append split at %d", i)
		}
	}
}

func TestLogPublishOrderAndAbandon(t *testing.T) {
	st := openStore(t, vfs.NewMem())
	defer st.Close()
	hub, _ := NewLogHub(st)
	r, _ := openLog(t, st, hub, 5).Open(0, 1, 0)

	// Two reservations; the second commits first: nothing is visible until
	// the first commits too.
	b1, b2 := st.NewBatch(), st.NewBatch()
	f1, _ := hub.AppendBatch(b1, 5, []datum.Row{logRow(1, "a")})
	f2, _ := hub.AppendBatch(b2, 5, []datum.Row{logRow(2, "b"), logRow(3, "c")})
	if f1 != 0 || f2 != 1 {
		t.Fatalf("reserved %d %d", f1, f2)
	}
	ready := r.Ready()
	if err := st.Commit(b2); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := r.Read(nil, 10); len(out) != 0 || hub.Len(5) != 0 {
		t.Fatalf("saw %d records before the earlier append committed", len(out))
	}
	select {
	case <-ready:
		t.Fatal("woken before anything was visible")
	default:
	}
	if err := st.Commit(b1); err != nil { // the OnCommit hook publishes
		t.Fatal(err)
	}
	select {
	case <-ready:
	default:
		t.Fatal("not woken by the publication")
	}
	out, _, _ := r.Read(nil, 10)
	if len(out) != 3 || r.NextOffset() != 3 {
		t.Fatalf("read %d next %d", len(out), r.NextOffset())
	}

	// An abandoned reservation in the middle leaves a gap readers skip.
	b3, b4, b5 := st.NewBatch(), st.NewBatch(), st.NewBatch()
	hub.AppendBatch(b3, 5, []datum.Row{logRow(4, "d")})
	f4, _ := hub.AppendBatch(b4, 5, []datum.Row{logRow(5, "lost")})
	hub.AppendBatch(b5, 5, []datum.Row{logRow(6, "f")})
	st.Commit(b3)
	hub.Abandon(5, f4)
	st.Commit(b5)
	out, _, _ = r.Read(nil, 10)
	if recordsText(out) != "@3 (4, \"d\")\n@5 (6, \"f\")\n" || r.NextOffset() != 6 {
		t.Fatalf("after abandon: %q next=%d", recordsText(out), r.NextOffset())
	}
	// Abandoning the last reservation gives its offsets back.
	b6 := st.NewBatch()
	f6, _ := hub.AppendBatch(b6, 5, []datum.Row{logRow(7, "x")})
	hub.Abandon(5, f6)
	if f, _ := hub.Append(5, []datum.Row{logRow(8, "y")}); f != f6 {
		t.Fatalf("offsets not reused: %d vs %d", f, f6)
	}
}

// TestLogPartitions spreads appends over a four-partition log, round robin
// and by a hash of PARTITION BY columns, and checks each partition's reader
// returns its rows in append order at dense offsets, every row exactly
// once, all rows of a key in one partition, and that partitions recover
// their tails after a reopen of the store.
func TestLogPartitions(t *testing.T) {
	fs := vfs.NewMem()
	st := openStore(t, fs)
	hub, err := NewLogHub(st)
	if err != nil {
		t.Fatal(err)
	}
	open := func(hub *LogHub, st *state.Store, id uint64, opts map[string]string) Source {
		src, err := OpenSource(SourceConfig{Name: "s", ID: id, Connector: "log", Schema: logSchema, TimeCol: -1, Options: opts}, Env{Store: st, Logs: hub})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	readAll := func(src Source, p int) []Record {
		r, err := src.Open(p, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		out, _, err := r.Read(nil, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	rr := open(hub, st, 1, map[string]string{"partitions": "4"})
	byKey := open(hub, st, 2, map[string]string{"partitions": "4", "partition_by": "v"})
	if rr.Partitions(1) != 4 {
		t.Fatalf("partitions = %d", rr.Partitions(1))
	}
	var rows []datum.Row
	for i := 0; i < 103; i++ {
		rows = append(rows, logRow(int64(i), string(rune('a'+i%7))))
	}
	for _, src := range []struct {
		id  uint64
		src Source
	}{{1, rr}, {2, byKey}} {
		lay, err := LogLayoutOf(src.src.(*logSource).cfg.Options, logSchema)
		if err != nil {
			t.Fatal(err)
		}
		if err := hub.AppendSpread(src.id, lay, rows[:50]); err != nil {
			t.Fatal(err)
		}
		if err := hub.AppendSpread(src.id, lay, rows[50:]); err != nil {
			t.Fatal(err)
		}
	}
	check := func(rr Source, byKey func(p int) []Record) {
		t.Helper()
		seen := map[int64]int{}
		keyPart := map[string]int{}
		for p := 0; p < 4; p++ {
			got := readAll(rr, p)
			for i, rec := range got {
				// Round robin over both appends: row k is in partition k%4.
				if rec.Offset != int64(i) || rec.Row[0].Int() != int64(p+4*i) {
					t.Fatalf("round robin partition %d record %d: %s", p, i, fmtRecord(rec))
				}
			}
			last := int64(-1)
			for _, rec := range byKey(p) {
				k := rec.Row[0].Int()
				if k <= last {
					t.Fatalf("partition %d out of append order: %d after %d", p, k, last)
				}
				last = k
				seen[k]++
				v := rec.Row[1].Str()
				if q, ok := keyPart[v]; ok && q != p {
					t.Fatalf("key %q in partitions %d and %d", v, q, p)
				}
				keyPart[v] = p
			}
		}
		if len(seen) != len(rows) {
			t.Fatalf("%d distinct rows of %d", len(seen), len(rows))
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("row %d read %d times", k, n)
			}
		}
		if len(keyPart) < 2 {
			t.Fatalf("all keys hashed to one partition: %v", keyPart)
		}
	}
	check(rr, func(p int) []Record { return readAll(byKey, p) })
	// Reopen: every partition's tail is recovered; appends continue after it.
	st.Close()
	st = openStore(t, fs)
	defer st.Close()
	if hub, err = NewLogHub(st); err != nil {
		t.Fatal(err)
	}
	rr = open(hub, st, 1, map[string]string{"partitions": "4"})
	byKey = open(hub, st, 2, map[string]string{"partitions": "4", "partition_by": "v"})
	check(rr, func(p int) []Record { return readAll(byKey, p) })
	if first, _ := hub.appendPart(st.NewBatch(), 1, 3, rows[:1]); first != 25 {
		t.Fatalf("partition 3 appends at %d after reopen, want 25", first)
	}
}
