package nexmark

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/weir-sql/weir/datum"
)

// oracleStream is small enough for make test and spans many windows: 50,000
// events at 1,000 events per second of event time are 50 seconds (five
// 10-second tumbling windows, 29 sliding ones) with 1,000 persons, 3,000
// auctions and 46,000 bids.
var oracleStream = stream{events: 50_000, rate: 1000}

// TestQueriesMatchOracle runs every Nexmark query on the engine (with two
// key ranges per keyed stage and small bundles, so rows cross ranges and
// bundles; then with three, stopping and reopening the engine twice while
// the job runs) and compares what it wrote with a brute-force computation
// over the same generated events.
func TestQueriesMatchOracle(t *testing.T) {
	ev := generateAll(t, oracleStream)
	for _, c := range []struct {
		q      string
		pk     string // key of the result table (an upsert result)
		oracle func(*events) []string
	}{
		{"q0", "", oracleQ0},
		{"q1", "", oracleQ1},
		{"q2", "", oracleQ2},
		{"q3", "", oracleQ3},
		{"q4", "category", oracleQ4},
		{"q5", "", oracleQ5},
		{"q5_rank", "", oracleQ5Rank},
		{"q7", "", oracleQ7},
		{"q8", "", oracleQ8},
		{"q13", "", oracleQ13},
	} {
		t.Run(c.q, func(t *testing.T) {
			want := c.oracle(ev)
			if len(want) == 0 {
				t.Fatalf("%s: the oracle finds no result: the stream does not exercise the query", c.q)
			}
			got := runQuery(t, c.q, oracleStream, c.pk, runOptions{parallelism: 2, bundle: 997})
			compareRows(t, c.q, got, want)
			// Stopped and resumed twice while it runs (a smaller bundle
			// so that it is still running), with three key ranges.
			got = runQuery(t, c.q, oracleStream, c.pk, runOptions{parallelism: 3, bundle: 211, stops: 2})
			compareRows(t, c.q+" (resumed)", got, want)
		})
	}
}

func compareRows(t *testing.T, q string, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if len(got) == len(want) {
		same := true
		for i := range got {
			if got[i] != want[i] {
				same = false
				break
			}
		}
		if same {
			t.Logf("%s: %d rows match", q, len(got))
			return
		}
	}
	// Report a few differences of the multisets.
	count := map[string]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	var missing, extra []string
	for r, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, r)
		}
		for ; n < 0; n++ {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Fatalf("%s: %d rows, want %d; %d missing, e.g. %s; %d extra, e.g. %s", q, len(got), len(want),
		len(missing), head(missing), len(extra), head(extra))
}

func head(s []string) string {
	if len(s) > 5 {
		s = s[:5]
	}
	return strings.Join(s, "; ")
}

func row(ds ...datum.Datum) string { return formatRow(datum.Row(ds)) }

func ts(us int64) datum.Datum { return datum.NewTimestamp(us) }

func i64(v int64) datum.Datum { return datum.NewInt(v) }

func oracleQ0(ev *events) []string {
	var out []string
	for _, b := range ev.bids {
		out = append(out, row(i64(b.auction), i64(b.bidder), i64(b.price), ts(b.ts)))
	}
	return out
}

func oracleQ1(ev *events) []string {
	var out []string
	for _, b := range ev.bids {
		out = append(out, row(i64(b.auction), i64(b.bidder), datum.NewFloat(0.908*float64(b.price)), ts(b.ts)))
	}
	return out
}

func oracleQ2(ev *events) []string {
	var out []string
	for _, b := range ev.bids {
		if b.auction%123 == 0 {
			out = append(out, row(i64(b.auction), i64(b.price)))
		}
	}
	return out
}

func oracleQ3(ev *events) []string {
	var out []string
	for _, a := range ev.auctions {
		if a.category != 10 {
			continue
		}
		for _, p := range ev.persons {
			if p.id == a.seller && (p.state == "OR" || p.state == "ID" || p.state == "CA") {
				out = append(out, row(datum.NewString(p.name), datum.NewString(p.city), datum.NewString(p.state), i64(a.id)))
			}
		}
	}
	return out
}

func oracleQ4(ev *events) []string {
	byAuction := map[int64][]bid{}
	for _, b := range ev.bids {
		byAuction[b.auction] = append(byAuction[b.auction], b)
	}
	sum := map[int64]float64{}
	n := map[int64]int64{}
	for _, a := range ev.auctions {
		best, found := int64(0), false
		for _, b := range byAuction[a.id] {
			if b.ts >= a.ts && b.ts <= a.expires && (!found || b.price > best) {
				best, found = b.price, true
			}
		}
		if found {
			sum[a.category] += float64(best)
			n[a.category]++
		}
	}
	var out []string
	for c, s := range sum {
		out = append(out, row(i64(c), datum.NewFloat(s/float64(n[c]))))
	}
	return out
}

// hopStarts returns the starts of the windows of size containing t,
// sliding by slide.
func hopStarts(t, slide, size int64) []int64 {
	last := t / slide * slide
	var out []int64
	for s := last; s > t-size; s -= slide {
		out = append(out, s)
	}
	return out
}

func oracleQ5(ev *events) []string {
	const slide, size = 2_000_000, 10_000_000
	counts := map[int64]map[int64]int64{} // window start -> auction -> bids
	for _, b := range ev.bids {
		for _, s := range hopStarts(b.ts, slide, size) {
			if counts[s] == nil {
				counts[s] = map[int64]int64{}
			}
			counts[s][b.auction]++
		}
	}
	var out []string
	for _, byAuction := range counts {
		var maxn int64
		for _, n := range byAuction {
			maxn = max(maxn, n)
		}
		for a, n := range byAuction {
			if n >= maxn {
				out = append(out, row(i64(a), i64(n)))
			}
		}
	}
	return out
}

func oracleQ5Rank(ev *events) []string {
	const slide, size = 2_000_000, 10_000_000
	counts := map[int64]map[int64]int64{}
	for _, b := range ev.bids {
		for _, s := range hopStarts(b.ts, slide, size) {
			if counts[s] == nil {
				counts[s] = map[int64]int64{}
			}
			counts[s][b.auction]++
		}
	}
	var out []string
	for s, byAuction := range counts {
		type an struct{ a, n int64 }
		var l []an
		for a, n := range byAuction {
			l = append(l, an{a, n})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || (l[i].n == l[j].n && l[i].a < l[j].a) })
		for i := 0; i < len(l) && i < 3; i++ {
			out = append(out, row(ts(s), i64(l[i].a), i64(l[i].n), i64(int64(i+1))))
		}
	}
	return out
}

func oracleQ7(ev *events) []string {
	const size = 10_000_000
	maxPrice := map[int64]int64{} // window end -> max price
	for _, b := range ev.bids {
		end := b.ts/size*size + size
		maxPrice[end] = max(maxPrice[end], b.price)
	}
	var out []string
	for _, b := range ev.bids {
		for end, p := range maxPrice {
			if b.price == p && b.ts >= end-size && b.ts <= end {
				out = append(out, row(i64(b.auction), i64(b.price), i64(b.bidder), ts(b.ts)))
			}
		}
	}
	return out
}

func oracleQ8(ev *events) []string {
	const size = 10_000_000
	type pw struct {
		id    int64
		name  string
		start int64
	}
	persons := map[pw]bool{}
	for _, p := range ev.persons {
		persons[pw{p.id, p.name, p.ts / size * size}] = true
	}
	sellers := map[[2]int64]bool{}
	for _, a := range ev.auctions {
		sellers[[2]int64{a.seller, a.ts / size * size}] = true
	}
	var out []string
	for p := range persons {
		if sellers[[2]int64{p.id, p.start}] {
			out = append(out, row(i64(p.id), datum.NewString(p.name), ts(p.start)))
		}
	}
	return out
}

func oracleQ13(ev *events) []string {
	var out []string
	for _, b := range ev.bids {
		out = append(out, row(i64(b.auction), i64(b.bidder), i64(b.price), ts(b.ts), datum.NewString(fmt.Sprintf("value-%d", b.auction%10000))))
	}
	return out
}

// TestOracleSanity checks the oracle's own generator reading: the three
// tables interleave as 1 : 3 : 46.
func TestOracleSanity(t *testing.T) {
	s := stream{events: 5000, rate: 1000}
	ev := generateAll(t, s)
	if got := fmt.Sprint(len(ev.persons), len(ev.auctions), len(ev.bids)); got != "100 300 4600" {
		t.Fatalf("persons auctions bids = %s", got)
	}
}
