package connector

import (
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
)

var nexSchemas = map[string][]string{
	"bid":     {"auction BIGINT", "bidder BIGINT", "price BIGINT", "channel VARCHAR", "url VARCHAR", "date_time TIMESTAMP", "extra VARCHAR"},
	"auction": {"id BIGINT", "item_name VARCHAR", "description VARCHAR", "initial_bid BIGINT", "reserve BIGINT", "date_time TIMESTAMP", "expires TIMESTAMP", "seller BIGINT", "category BIGINT", "extra VARCHAR"},
	"person":  {"id BIGINT", "name VARCHAR", "email_address VARCHAR", "credit_card VARCHAR", "city VARCHAR", "state VARCHAR", "date_time TIMESTAMP", "extra VARCHAR"},
}

func openNex(t testing.TB, table string, cols []string, opts map[string]string, clock Clock) Source {
	t.Helper()
	if cols == nil {
		cols = nexSchemas[table]
	}
	o := map[string]string{"connector": "nexmark", "table": table}
	for k, v := range opts {
		o[k] = v
	}
	src, err := OpenSource(SourceConfig{Name: table, Connector: "nexmark", Schema: parseSchema(t, cols), Options: o}, Env{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestNexmarkMixAndIDs(t *testing.T) {
	const events = 50_000
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	read := func(table string) []Record {
		r, err := openNex(t, table, nil, map[string]string{"events": "50000"}, nil).Open(0, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		return readAll(t, r, rng)
	}
	persons, auctions, bids := read("person"), read("auction"), read("bid")
	if len(persons) != events/50 || len(auctions) != events*3/50 || len(bids) != events*46/50 {
		t.Fatalf("mix: %d persons, %d auctions, %d bids", len(persons), len(auctions), len(bids))
	}
	seen := make([]bool, events)
	for _, set := range [][]Record{persons, auctions, bids} {
		for _, r := range set {
			if seen[r.Offset] {
				t.Fatalf("event %d in two tables", r.Offset)
			}
			seen[r.Offset] = true
		}
	}
	base := int64(1436918400_000000)
	for k, r := range persons {
		if r.Offset != int64(k*50) || r.Row[0].Int() != int64(1000+k) {
			t.Fatalf("person %d: offset %d id %d", k, r.Offset, r.Row[0].Int())
		}
		if ts := r.Row[6].Micros(); ts != base+r.Offset/10 {
			t.Fatalf("person event time %d", ts-base)
		}
		if cc := r.Row[3].Str(); len(cc) != 19 || !strings.Contains(r.Row[2].Str(), "@") {
			t.Fatalf("person %s", fmtRow(r.Row))
		}
		if n := len(fmtRow(r.Row)); n < 120 || n > 320 {
			t.Fatalf("person size %d: %s", n, fmtRow(r.Row))
		}
	}
	auctionTime := map[int64]int64{}
	for k, r := range auctions {
		if r.Row[0].Int() != int64(1000+k) {
			t.Fatalf("auction %d has id %d", k, r.Row[0].Int())
		}
		if r.Row[4].Int() < r.Row[3].Int() || r.Row[6].Micros() <= r.Row[5].Micros() {
			t.Fatalf("auction %s", fmtRow(r.Row))
		}
		if c := r.Row[8].Int(); c < 10 || c >= 15 {
			t.Fatalf("category %d", c)
		}
		if s := r.Row[7].Int(); s < 1000 || s > 1000+r.Offset/50+10 {
			t.Fatalf("seller %d at event %d", s, r.Offset)
		}
		auctionTime[r.Row[0].Int()] = r.Offset
	}
	hotAuction, hotChannel := 0, 0
	for _, r := range bids {
		a, b, p := r.Row[0].Int(), r.Row[1].Int(), r.Row[2].Int()
		maxAuction := 1000 + (r.Offset/50)*3 + 2
		if a < 1000 || a > maxAuction+10 || b < 1000 || b > 1000+r.Offset/50+10 || p < 100 || p > 100_000_000 {
			t.Fatalf("bid at %d: %s", r.Offset, fmtRow(r.Row))
		}
		if (a-1000)%100 == 0 {
			hotAuction++
		}
		switch r.Row[3].Str() {
		case "Google", "Facebook", "Baidu", "Apple":
			hotChannel++
		default:
			if !strings.HasPrefix(r.Row[3].Str(), "channel-") || !strings.HasPrefix(r.Row[4].Str(), "https://www.nexmark.com/") {
				t.Fatalf("channel %s", fmtRow(r.Row))
			}
		}
		if e := len(r.Row[6].Str()); e < 54 || e > 82 {
			t.Fatalf("bid extra of %d bytes", e)
		}
	}
	if f := float64(hotAuction) / float64(len(bids)); f < 0.45 || f > 0.6 {
		t.Fatalf("hot auction fraction %.3f", f)
	}
	if f := float64(hotChannel) / float64(len(bids)); f < 0.45 || f > 0.55 {
		t.Fatalf("hot channel fraction %.3f", f)
	}
	// 10,000 events per ms of event time.
	last := bids[len(bids)-1]
	if got := last.Row[5].Micros() - base; got != last.Offset/10 {
		t.Fatalf("last bid at +%dus for event %d", got, last.Offset)
	}
}

func TestNexmarkDeterministicAndPartitioned(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for _, table := range []string{"bid", "auction", "person"} {
		src := openNex(t, table, nil, map[string]string{"events": "6000", "seed": "5"}, nil)
		r, _ := src.Open(0, 1, 0)
		all := readAll(t, r, rng)
		r2, _ := openNex(t, table, nil, map[string]string{"events": "6000", "seed": "5"}, nil).Open(0, 1, 0)
		if recordsText(readAll(t, r2, rng)) != recordsText(all) {
			t.Fatalf("%s: not deterministic", table)
		}
		for k := 0; k < 10; k++ {
			i := rng.Intn(len(all))
			from := all[i].Offset
			if k%2 == 1 && i > 0 {
				from = all[i-1].Offset + 1 // one past the last committed
			}
			r, _ := src.Open(0, 1, from)
			if recordsText(readAll(t, r, rng)) != recordsText(all[i:]) {
				t.Fatalf("%s: reopen at %d differs", table, from)
			}
		}
		for n := 2; n <= 4; n++ {
			got := map[int64]string{}
			for p := 0; p < n; p++ {
				r, _ := src.Open(p, n, 0)
				for _, rec := range readAll(t, r, rng) {
					if _, dup := got[rec.Offset]; dup {
						t.Fatalf("%s: offset %d twice", table, rec.Offset)
					}
					got[rec.Offset] = fmtRecord(rec)
				}
				if r.NextOffset() < 6000 {
					t.Fatalf("NextOffset at end %d", r.NextOffset())
				}
			}
			if len(got) != len(all) {
				t.Fatalf("%s: %d partitions gave %d of %d", table, n, len(got), len(all))
			}
			for _, rec := range all {
				if got[rec.Offset] != fmtRecord(rec) {
					t.Fatalf("%s: partitioned record differs at %d", table, rec.Offset)
				}
			}
		}
	}
	// A subset of columns in another order sees the same values.
	full, _ := openNex(t, "bid", nil, map[string]string{"events": "500"}, nil).Open(0, 1, 0)
	sub, _ := openNex(t, "bid", []string{"Price BIGINT", "auction BIGINT"}, map[string]string{"events": "500"}, nil).Open(0, 1, 0)
	a, b := readAll(t, full, rng), readAll(t, sub, rng)
	for i := range a {
		if !datum.Equal(a[i].Row[2], b[i].Row[0]) || !datum.Equal(a[i].Row[0], b[i].Row[1]) {
			t.Fatalf("subset differs at %d", i)
		}
	}
}

func TestNexmarkThrottleAndErrors(t *testing.T) {
	clock := NewManualClock(time.Unix(1000, 0))
	src := openNex(t, "bid", nil, map[string]string{"events_per_second": "1000"}, clock)
	if src.Bounded() {
		t.Fatal("nexmark without events must be unbounded")
	}
	r, _ := src.Open(0, 1, 0)
	out, _, _ := r.Read(nil, 10_000)
	if len(out) != 0 {
		t.Fatalf("read %d bids at t=0 (event 4 is due at 4ms)", len(out))
	}
	ready := r.Ready()
	clock.Advance(4 * time.Millisecond)
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("not ready when the first bid is due")
	}
	clock.Advance(time.Second - 4*time.Millisecond)
	out, _, _ = r.Read(nil, 10_000)
	if len(out) != 920 { // the bids among events 0..1000: 20 epochs of 46
		t.Fatalf("read %d bids after 1s at 1000 events/s", len(out))
	}
	// events_per_second also spaces event times.
	if ts := out[10].Row[5].Micros() - 1436918400_000000; ts != out[10].Offset*1000 {
		t.Fatalf("event time %d for event %d", ts, out[10].Offset)
	}
	bad := []struct {
		table string
		cols  []string
		opts  map[string]string
		code  string
	}{
		{"", nil, nil, "22023"},
		{"trade", nil, nil, "22023"},
		{"bid", []string{"nope BIGINT"}, nil, "42703"},
		{"bid", []string{"price VARCHAR"}, nil, "42804"},
		{"bid", []string{"price INT"}, nil, "42804"},
		{"bid", nil, map[string]string{"events": "many"}, "22023"},
		{"bid", nil, map[string]string{"rate": "1"}, "42601"},
	}
	for _, c := range bad {
		cols := c.cols
		if cols == nil {
			cols = nexSchemas["bid"]
		}
		o := map[string]string{"table": c.table}
		for k, v := range c.opts {
			o[k] = v
		}
		_, err := OpenSource(SourceConfig{Name: "x", Connector: "nexmark", Schema: parseSchema(t, cols), Options: o}, Env{})
		if pgerrCode(err) != c.code {
			t.Errorf("%+v: got %v (%s), want %s", c, err, pgerrCode(err), c.code)
		}
	}
}
