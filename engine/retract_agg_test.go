package engine

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/datum"
)

// TestAggregationOfAggregation checks an aggregation over the updating
// results of a continuous one (the shape of Nexmark q4): the inner
// aggregation retracts its previous row when a group changes, the outer
// one (count, min, max, avg, with HAVING) takes values back, and a group
// left without rows disappears from the keyed target table. After every
// batch of random rows the table must equal a computation in Go.
func TestAggregationOfAggregation(t *testing.T) {
	e, err := Open(Options{FS: vfs.NewMem(), Parallelism: 2, BundleSize: 7, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	ctx := context.Background()
	if _, err := s.Exec(ctx, `
CREATE SOURCE readings (device VARCHAR NOT NULL, rpm BIGINT, ts TIMESTAMP NOT NULL, WATERMARK FOR ts AS ts);
CREATE TABLE by_count (n BIGINT PRIMARY KEY, devices BIGINT, lo BIGINT, hi BIGINT, mean DOUBLE);
CREATE JOB j AS INSERT INTO by_count
  SELECT c, count(*), min(total), max(total), avg(total)
  FROM (SELECT device, count(*) AS c, sum(rpm) AS total FROM readings GROUP BY device) t
  GROUP BY c HAVING max(total) >= 0;
`); err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	count := map[string]int64{}
	total := map[string]int64{}
	base, _ := datum.Parse(datum.TypeTimestamp, "2024-01-01 00:00:00")
	ts := base.Micros()
	for batch := 0; batch < 6; batch++ {
		var vals []string
		for i := 0; i < 5+rng.Intn(30); i++ {
			d := fmt.Sprintf("d%d", rng.Intn(12))
			v := rng.Int63n(200) - 100
			ts += 1000
			vals = append(vals, fmt.Sprintf("('%s', %d, '%s')", d, v, datum.FormatTimestamp(ts)))
			count[d]++
			total[d] += v
		}
		if _, err := s.Exec(ctx, "INSERT INTO readings VALUES "+strings.Join(vals, ", ")); err != nil {
			t.Fatal(err)
		}
		ts += 1000
		if err := e.AdvanceWatermark("readings", ts); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := e.WaitSourceWatermark(wctx, "readings", ts); err != nil {
			t.Fatal(err)
		}
		cancel()
		type agg struct{ n, lo, hi, sum int64 }
		groups := map[int64]*agg{}
		for d, c := range count {
			g := groups[c]
			if g == nil {
				g = &agg{lo: total[d], hi: total[d]}
				groups[c] = g
			}
			g.n++
			g.sum += total[d]
			g.lo, g.hi = min(g.lo, total[d]), max(g.hi, total[d])
		}
		var want []string
		for c, g := range groups {
			if g.hi >= 0 {
				want = append(want, fmt.Sprintf("%d %d %d %d %s", c, g.n, g.lo, g.hi, datum.NewFloat(float64(g.sum)/float64(g.n)).Format()))
			}
		}
		sort.Strings(want)
		got := joRows(t, s, "SELECT * FROM by_count")
		if batch == 5 {
			t.Logf("final: %q", got)
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("seed %d, batch %d:\n%s\nwant\n%s", seed, batch, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
