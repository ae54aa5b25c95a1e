package executor

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/planner"
)

// BenchmarkAutoscaleLoadCurve feeds a windowed job from a log source with a
// load that rises, holds and falls (records appended per 10 ms tick), under
// the autoscaler with parallelism 'auto' (min 1, max 4 workers), and
// prints the worker count the autoscaler chose over time, with the
// offered and processed rates: the table the issue asks for. Run it with
// -benchtime 1x (it takes about 16 s).
func BenchmarkAutoscaleLoadCurve(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runLoadCurve(b)
	}
	b.ReportMetric(0, "ns/op")
}

func runLoadCurve(b *testing.B) {
	lj := newLogWindowJob(b, 5*sec, func(plan *planner.JobPlan, cfg *Config) {
		plan.Options.MinWorkers, plan.Options.MaxWorkers = 1, 4
		cfg.DefaultParallelism, cfg.BundleSize, cfg.Scale = 1, 4096, ScaleConfig{Interval: 200 * time.Millisecond}
	})
	hub, src := lj.hub, lj.plan.Stages[0].Source
	j, err := lj.x.Start(lj.plan, JobMeta{Name: "curve", ID: 1, StateNS: 9})
	if err != nil {
		b.Fatal(err)
	}
	// The load: records per 10 ms tick, by phase.
	phases := []struct {
		d    time.Duration
		rate int // records per tick
	}{{2 * time.Second, 200}, {2 * time.Second, 2000}, {3 * time.Second, 5000}, {2 * time.Second, 2000}, {7 * time.Second, 0}}
	var offered atomic.Int64
	stop := make(chan struct{})
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		base := int64(1_700_000_000_000_000)
		n := int64(0)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for _, ph := range phases {
			end := time.Now().Add(ph.d)
			for time.Now().Before(end) {
				select {
				case <-tick.C:
				case <-stop:
					return
				}
				if ph.rate == 0 {
					continue
				}
				rows := make([]datum.Row, ph.rate)
				for k := range rows {
					n++
					rows[k] = datum.Row{datum.NewString(fmt.Sprintf("d%04d", n*7919%5000)), datum.NewFloat(float64(n % 100)),
						datum.NewInt(n % 1000), datum.NewTimestamp(base + n*100)}
				}
				if _, err := hub.Append(src.ID, rows); err != nil {
					b.Error(err)
					return
				}
				offered.Add(int64(ph.rate))
			}
		}
	}()
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "%6s %8s %12s %12s\n", "t(s)", "workers", "offered/s", "processed/s")
	start := time.Now()
	var lastOff, lastIn int64
	sample := time.NewTicker(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-sample.C:
		case <-fed:
			done = true
		}
		off, in := offered.Load(), j.Status().EventsIn
		fmt.Fprintf(&tbl, "%6.1f %8d %12d %12d\n", time.Since(start).Seconds(), j.Workers(), (off-lastOff)*2, (in-lastIn)*2)
		lastOff, lastIn = off, in
	}
	sample.Stop()
	close(stop)
	fmt.Printf("autoscaler, load rising and falling (interval 200 ms, up after 3 busy intervals, down after 5 idle, cooldown 3):\n%s", tbl.String())
	var hist strings.Builder
	for _, ev := range j.ScaleHistory() {
		fmt.Fprintf(&hist, "  %6.2fs  %d workers  (%s)\n", ev.At.Sub(start).Seconds(), ev.Workers, ev.Reason)
	}
	fmt.Printf("worker count changes:\n%s%d reconfigurations (splits, merges, moves)\n", hist.String(), j.Reconfigurations())
	j.Stop()
}
