package executor

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/plan"
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
	lj := newLogWindowJob(b, 5*sec, func(jplan *plan.JobPlan, cfg *Config) {
		jplan.Options.MinWorkers, jplan.Options.MaxWorkers = 1, 4
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

// BenchmarkMoveRange measures moving a key range that holds open windows
// for 200k keys to another worker: in-process (moveUnit: the next bundle
// runs on the new worker, nothing reloads) and the way a move between
// processes goes (restartUnit: the range commits, stops, and its successor
// reloads its state and timers from the store, as at a restart).
// Reported: milliseconds per move, and per 100k keys.
func BenchmarkMoveRange(b *testing.B) {
	for _, restart := range []bool{false, true} {
		name := "move"
		if restart {
			name = "restart"
		}
		b.Run(name, func(b *testing.B) { benchMoveRange(b, restart) })
	}
}

func benchMoveRange(b *testing.B, restart bool) {
	const keys = 200_000
	lj := newLogWindowJob(b, 5*sec, func(jplan *plan.JobPlan, cfg *Config) {
		jplan.Options.Parallelism = 2
		jplan.Stages[1].Parallelism = 1
		cfg.BundleSize, cfg.Scale = 65536, ScaleConfig{Off: true}
	})
	j, err := lj.x.Start(lj.plan, JobMeta{Name: "move", ID: 1, StateNS: 12})
	if err != nil {
		b.Fatal(err)
	}
	base := int64(1_700_000_000_000_000)
	rows := make([]datum.Row, 0, keys)
	for i := 0; i < keys; i++ {
		rows = append(rows, datum.Row{datum.NewString(fmt.Sprintf("k%07d", i)), datum.NewFloat(1), datum.NewInt(1), datum.NewTimestamp(base + int64(i))})
	}
	if _, err := lj.hub.Append(lj.plan.Stages[0].Source.ID, rows); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := j.WaitFor(ctx, func() bool {
		var n int64
		for _, w := range j.stages[1].list() {
			n += w.processed.Load()
		}
		return n >= keys
	}); err != nil {
		b.Fatal(err)
	}
	j.life.init()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		w := j.stages[1].list()[0]
		j.life.sem <- struct{}{}
		move := j.moveUnit
		if restart {
			move = j.restartUnit
		}
		err := move(w, 1-int(w.unit.Worker))
		<-j.life.sem
		if err != nil {
			b.Fatal(err)
		}
		// The successor has loaded its state once it has published.
		if _, err := j.WaitFor(ctx, func() bool { return liveUnit(j.stages[1].list()[0]) }); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start).Seconds() * 1000 / float64(b.N)
	b.ReportMetric(el, "ms/move")
	b.ReportMetric(el/(keys/100_000), "ms/move/100k-keys")
	j.Stop()
}
