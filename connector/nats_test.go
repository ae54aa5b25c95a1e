package connector

import (
	"fmt"
	"testing"

	"github.com/weir-sql/weir/internal/natstest"
)

// TestNatsSource reads a JetStream stream through the nats source: records
// by stream sequence (the subject filter skips other subjects), malformed
// messages as error records with their raw data, RawAt, a reopen at a
// committed position, and a server stopped and restarted under the reader
// (nothing read meanwhile, then every record once).
func TestNatsSource(t *testing.T) {
	srv := natstest.Start(t)
	srv.CreateStream("EV", "ev.>")
	type msg struct {
		seq int64
		v   string
		bad bool
	}
	var want []msg // the ev.a messages in sequence order
	pub := func(subject, v string, bad bool) {
		seq := srv.Publish(subject, []byte(v))
		if subject == "ev.a" {
			want = append(want, msg{int64(seq), v, bad})
		}
	}
	for i := 0; i < 30; i++ {
		switch {
		case i%10 == 3:
			pub("ev.a", `{"n": `, true)
		case i%10 == 7:
			pub("ev.other", fmt.Sprintf(`{"n": %d}`, i), false) // in the stream, filtered out
		default:
			pub("ev.a", fmt.Sprintf(`{"n": %d}`, i), false)
		}
	}
	src, err := OpenSource(SourceConfig{Name: "s", Connector: "nats", Options: map[string]string{"url": srv.URL, "stream": "EV", "subject": "ev.a"},
		Schema: parseSchema(t, []string{"n BIGINT", "_subject VARCHAR", "_sequence BIGINT"}), TimeCol: -1}, Env{Clock: SystemClock()})
	if err != nil {
		t.Fatal(err)
	}
	// check compares recs with want[i:].
	check := func(recs []Record, i int) {
		t.Helper()
		for _, rec := range recs {
			w := want[i]
			i++
			if rec.Offset != w.seq {
				t.Fatalf("record at %d, want sequence %d", rec.Offset, w.seq)
			}
			if w.bad {
				if rec.Err == nil || string(rec.Raw) != w.v {
					t.Fatalf("seq %d: %s, want an error with raw %q", w.seq, fmtRecord(rec), w.v)
				}
			} else if rec.Err != nil || fmt.Sprintf(`{"n": %d}`, rec.Row[0].Int()) != w.v || rec.Row[1].Str() != "ev.a" || rec.Row[2].Int() != w.seq {
				t.Fatalf("seq %d: %s, want %s", w.seq, fmtRecord(rec), w.v)
			}
			raw, err := src.(RawSource).RawAt(0, 1, rec.Offset)
			if err != nil || string(raw) != w.v {
				t.Fatalf("RawAt(%d) = %q, %v", rec.Offset, raw, err)
			}
		}
	}
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	check(readN(t, r, len(want)), 0)
	next := r.NextOffset()
	r.Close()
	// Reopen at a committed position.
	r, err = src.Open(0, 1, want[10].seq)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	check(readN(t, r, len(want)-10), 10)
	if r.NextOffset() != next {
		t.Fatalf("NextOffset = %d, want %d", r.NextOffset(), next)
	}
	// The server goes away and comes back.
	srv.Stop()
	if recs, _, err := r.Read(nil, 10); err != nil || len(recs) != 0 {
		t.Fatalf("read %d records, %v while the server is down", len(recs), err)
	}
	srv.Restart()
	old := len(want)
	for i := 30; i < 40; i++ {
		pub("ev.a", fmt.Sprintf(`{"n": %d}`, i), false)
	}
	check(readN(t, r, 10), old)
}
