package executor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestWorkerPolicy drives the worker-count policy with measured
// utilization sequences: sustained load grows the workers one at a time
// with a cooldown between steps, up to max; sustained idleness shrinks
// them to min; load that flaps between busy and idle every interval or
// two changes nothing (hysteresis).
func TestWorkerPolicy(t *testing.T) {
	run := func(p *workerPolicy, n int, utils string) (int, string) {
		var trace []string
		for _, c := range utils {
			var u float64
			backlog := false
			switch c {
			case 'H':
				u = 0.95
			case 'B': // input piling up while the workers are fairly busy
				u, backlog = 0.6, true
			case 'b': // input piling up with idle workers: a bottleneck more workers would not relieve
				u, backlog = 0.3, true
			case 'M':
				u = 0.5
			case 'L':
				u = 0.05
			}
			next, _ := p.decide(n, u, backlog, !backlog)
			n = next
			trace = append(trace, fmt.Sprint(n))
		}
		return n, strings.Join(trace, "")
	}
	cases := []struct {
		min, max, n int
		utils       string
		want        string
	}{
		// Three busy intervals per step, then three of cooldown.
		{1, 4, 1, "HHHHHHHHHHHHHHHHHHHH", "11222222333333444444"},
		{1, 4, 1, "BBBBBBBB", "11222222"},
		{1, 4, 1, "bbbbbbbb", "11111111"},
		// Five idle intervals per step down, cooldown in between.
		{1, 4, 4, "LLLLLLLLLLLLLLLLLLLLLLLLLL", "44443333333322222222111111"},
		// Flapping load: never three busy or five idle in a row.
		{1, 4, 2, "HHLHHLLLLHHMHHLLHHLLLL", "2222222222222222222222"},
		// Middling utilization holds.
		{1, 4, 3, "MMMMMMMMMM", "3333333333"},
		// Bounds.
		{2, 3, 3, "HHHHHHHHHH", "3333333333"},
		{2, 3, 2, "LLLLLLLLLL", "2222222222"},
		{2, 3, 1, "M", "2"},
	}
	for _, c := range cases {
		p := &workerPolicy{min: c.min, max: c.max}
		_, got := run(p, c.n, c.utils)
		if got != c.want {
			t.Errorf("min %d max %d from %d, %s:\n got %s\nwant %s", c.min, c.max, c.n, c.utils, got, c.want)
		}
	}
}

// TestScalerMeasure checks one measurement: per-range rates, busy time of
// bundles still running, worker utilization, backlog, and the hot flag of a
// one-bucket range that kept its worker busy the whole interval (a hot key:
// it cannot be split further), but not of a wider range as busy.
func TestScalerMeasure(t *testing.T) {
	clock := connector.NewManualClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	store, err := state.Open("/db", state.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	x := New(Config{Store: store, Env: connector.Env{Clock: clock}, Scale: ScaleConfig{Interval: time.Second}})
	j := &Job{x: x, plan: &plan.JobPlan{Options: plan.JobOptions{MinWorkers: 1, MaxWorkers: 2}}}
	st := &stageRT{plan: &plan.Stage{ID: 1, Name: "s1"}, job: j, nb: 8}
	for i := 0; i < 8; i++ {
		st.inboxes = append(st.inboxes, newInbox())
	}
	j.stages = []*stageRT{st}
	hot := j.newRunner(st, unit{ID: 0, Part: -1, Lo: 0, Hi: 1, Worker: 0})
	wide := j.newRunner(st, unit{ID: 1, Part: -1, Lo: 1, Hi: 8, Worker: 1})
	st.setList([]*worker{hot, wide})
	j.setWorkers(2)
	st.inboxes[3].put(delivery{rows: make([]datum.Row, 7)})
	s := newScaler(j)
	s.measure() // the baseline

	clock.Advance(time.Second)
	hot.processed.Add(5000)
	hot.busy.Add(int64(950 * time.Millisecond))
	j.sl.slots[0].busy.Add(int64(950 * time.Millisecond))
	// The wide range's bundle has run for 960 ms and is still running.
	at := clock.Now().Add(-960 * time.Millisecond).UnixNano()
	wide.heldAtNano.Store(at)
	j.sl.slots[1].heldAt.Store(at)
	wide.processed.Add(100)
	load, util, keyed, src := s.measure()

	if got := hot.rate.Load(); got != 5000 {
		t.Errorf("hot range rate %d/s, want 5000", got)
	}
	if got := wide.rate.Load(); got != 100 {
		t.Errorf("wide range rate %d/s, want 100", got)
	}
	if load[wide] != float64(960*time.Millisecond) {
		t.Errorf("wide range load %v, want the running bundle's 960ms", time.Duration(load[wide]))
	}
	if util < 0.95 || util > 0.956 {
		t.Errorf("utilization %.3f, want 0.955", util)
	}
	if keyed != 7 || src != 0 {
		t.Errorf("backlog %d keyed, %d source; want 7, 0", keyed, src)
	}
	if !hot.hot.Load() || wide.hot.Load() {
		t.Errorf("hot flags: one-bucket range %v, wide range %v; want true, false", hot.hot.Load(), wide.hot.Load())
	}
}
