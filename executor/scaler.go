package executor

// The autoscaler: a job's controller that measures load per unit and per
// worker every Scale.Interval of the injected clock and reconfigures the
// job with the operations of ranges.go.
//
// Policy (decide, a pure function of the measurements, tested alone):
//
//   - Workers. With parallelism 'auto', the number of workers grows by one
//     when the workers' mean utilization (time holding a worker over the
//     interval) stayed above scaleUpUtil, or keyed backlog stayed above
//     half the backpressure limit, for scaleUpTicks intervals, and shrinks by
//     one when utilization stayed under scaleDownUtil with no backlog for
//     scaleDownTicks intervals; after a change nothing changes for
//     scaleCooldown intervals (hysteresis: no flapping), always within
//     min_workers..max_workers. `parallelism = N` pins the count.
//   - Ranges. A keyed stage keeps at least as many ranges as workers: its
//     busiest range splits at its middle bucket; a range carrying more than
//     hotFactor times its fair share splits too. Adjacent ranges merge when
//     there are more ranges than workers and together they carry under half
//     a fair share (cold neighbours).
//   - Moves. Units on a worker that no longer exists move first; then, when
//     the busiest worker carries more than the least busy by over
//     moveImbalance of the mean, the unit that best evens them moves.
//   - Sources. When a bounded RangeSource has fewer unfinished units than
//     there are workers, the unit with the most work left splits it with a
//     worker that has the least (dynamic work rebalancing).
//   - Hot keys. A range of one bucket that keeps its worker busy all the
//     interval cannot split further; it is reported (RangeStatus.Hot).
//
// At most one reconfiguration per stage per interval. In chaos mode (tests)
// every interval instead does one random split, merge, move, source split
// or resize, regardless of load.

import (
	"math/rand"
	"sort"
	"sync"
	"time"

	"github.com/weir-sql/weir/connector"
)

const (
	scaleUpUtil    = 0.75
	scaleDownUtil  = 0.25
	backlogUtil    = 0.5
	scaleUpTicks   = 3
	scaleDownTicks = 5
	scaleCooldown  = 3
	hotFactor      = 2.0
	moveImbalance  = 0.5
)

// ScaleConfig configures the autoscaler of every job of an executor.
type ScaleConfig struct {
	// Interval between measurements (default 1s of the injected clock).
	Interval time.Duration
	// Off turns the controller off: units and workers stay as they start.
	Off bool
	// Chaos makes every interval one random reconfiguration (tests), from
	// a random source seeded with ChaosSeed.
	Chaos     bool
	ChaosSeed int64
	// ChaosKeepSources leaves source partitions whole in chaos mode.
	// Splitting a partition's remaining work changes which records are
	// judged late (each range has its own watermark, see ranges.go), so
	// tests that compare late drops with an oracle of the unsplit
	// partitions keep them.
	ChaosKeepSources bool
}

// ScaleEvent is one change of a job's worker count.
type ScaleEvent struct {
	At      time.Time
	Workers int
	Reason  string
}

type scaler struct {
	j         *Job
	auto      bool
	min, max  int
	rng       *rand.Rand
	prev      map[*worker]unitSample
	prevSlot  map[*workerSlot]int64
	policy    workerPolicy
	last      time.Time // the last measurement
	lastSizes time.Time // the last state-size estimate
	mu        struct {
		sync.Mutex
		history []ScaleEvent
	}
}

type unitSample struct {
	events int64
	busy   int64
}

func newScaler(j *Job) *scaler {
	cfg := j.x.cfg.Scale
	if cfg.Off {
		return nil
	}
	o := j.plan.Options
	s := &scaler{j: j, auto: o.Parallelism == 0, min: max(o.MinWorkers, 1), max: o.MaxWorkers,
		prev: map[*worker]unitSample{}, prevSlot: map[*workerSlot]int64{}}
	if s.max < s.min {
		s.max = s.min
	}
	if !s.auto {
		s.min, s.max = o.Parallelism, o.Parallelism
	}
	if cfg.Chaos {
		s.rng = rand.New(rand.NewSource(cfg.ChaosSeed))
	}
	s.policy = workerPolicy{min: s.min, max: s.max}
	return s
}

func (s *scaler) interval() time.Duration {
	if d := s.j.x.cfg.Scale.Interval; d > 0 {
		return d
	}
	return time.Second
}

// run is the controller goroutine; it is counted in the job's WaitGroup
// and ends when the job's units have all finished or the job stops.
func (s *scaler) run() {
	defer s.j.wg.Done()
	s.record("start", s.j.Workers())
	s.j.life.init()
	clock := s.j.x.cfg.Env.Clock
	for {
		select {
		case <-clock.After(s.interval()):
		case <-s.j.ctx.Done():
			return
		case <-s.j.unitsDone:
			return
		}
		if s.j.draining.Load() {
			continue
		}
		// No reconfiguration while a pause (snapshot, update) holds the job.
		select {
		case s.j.life.sem <- struct{}{}:
		default:
			continue
		}
		err := s.tick()
		<-s.j.life.sem
		if err != nil && s.j.ctx.Err() == nil {
			s.j.fail(err)
			return
		}
	}
}

func (s *scaler) record(reason string, n int) {
	s.mu.Lock()
	s.mu.history = append(s.mu.history, ScaleEvent{At: s.j.x.cfg.Env.Clock.Now(), Workers: n, Reason: reason})
	s.mu.Unlock()
}

// ScaleHistory returns the job's worker counts over time (this process).
func (j *Job) ScaleHistory() []ScaleEvent {
	if j.scale == nil {
		return nil
	}
	j.scale.mu.Lock()
	defer j.scale.mu.Unlock()
	return append([]ScaleEvent(nil), j.scale.mu.history...)
}

// Reconfigurations is the number of splits, merges and moves done.
func (j *Job) Reconfigurations() int64 { return j.reconfigs.Load() }

// unitFinished reports whether w ended by itself (not for a
// reconfiguration: a retiring unit is about to be replaced).
func unitFinished(w *worker) bool {
	select {
	case <-w.exited:
		return w.exitErr != errRetired
	default:
		return false
	}
}

// liveUnit reports whether w still runs (not finished, not retired).
func liveUnit(w *worker) bool {
	select {
	case <-w.exited:
		return false
	default:
		return !w.retiring()
	}
}

// measure updates every unit's rate, busy share and state size, and
// returns per-unit loads (busy time, including bundles still running; or
// records when the clock shows no busy time, as a manual clock does), the
// workers' mean utilization over the time since the last measurement, and
// the rows waiting in keyed stages' inboxes and in sources.
func (s *scaler) measure() (load map[*worker]float64, util float64, keyedBacklog, srcBacklog int) {
	j := s.j
	now := j.x.cfg.Env.Clock.Now()
	nowN := now.UnixNano()
	iv := float64(s.interval())
	if !s.last.IsZero() {
		if d := now.Sub(s.last); d > 0 {
			iv = float64(d)
		}
	}
	s.last = now
	sizes := s.lastSizes.IsZero() || now.Sub(s.lastSizes) >= time.Second
	if sizes {
		s.lastSizes = now
	}
	load = map[*worker]float64{}
	var busyTotal float64
	next := map[*worker]unitSample{}
	for _, st := range j.stages {
		for _, w := range st.list() {
			cur := unitSample{events: w.processed.Load(), busy: w.busyNow(nowN)}
			p, seen := s.prev[w]
			if !seen {
				p = unitSample{events: cur.events, busy: cur.busy}
			}
			ev, bz := float64(cur.events-p.events), float64(cur.busy-p.busy)
			next[w] = cur
			w.rate.Store(int64(ev * float64(time.Second) / iv))
			busyTotal += bz
			load[w] = bz
			if st.source == nil {
				keyedBacklog += w.pending()
				if sizes && liveUnit(w) {
					w.stateBytes.Store(j.stateBytesOf(st, w))
				}
			} else if liveUnit(w) {
				srcBacklog += int(w.srcBacklog.Load())
			}
			w.hot.Store(st.source == nil && w.b1-w.b0 == 1 && bz > 0.9*iv)
		}
	}
	s.prev = next
	if busyTotal == 0 {
		for w := range load {
			load[w] = float64(w.rate.Load())
		}
	}
	n := j.Workers()
	j.sl.Lock()
	slots := append([]*workerSlot(nil), j.sl.slots...)
	j.sl.Unlock()
	var used float64
	for _, sl := range slots {
		b := sl.busyNow(nowN)
		if p, ok := s.prevSlot[sl]; ok {
			used += float64(b - p)
		}
		s.prevSlot[sl] = b
	}
	if n > 0 {
		util = used / (iv * float64(n))
	}
	return load, util, keyedBacklog, srcBacklog
}

// tick measures and applies the policy (or one chaos operation).
func (s *scaler) tick() error {
	load, util, keyed, src := s.measure()
	if s.rng != nil {
		return s.chaos()
	}
	j := s.j
	n := j.Workers()
	if s.auto {
		// Behind: inboxes past half the backpressure limit, or more than
		// two bundles waiting in a source.
		behind := keyed > j.x.cfg.MaxPending/2 || src > 2*j.x.cfg.BundleSize
		next, reason := s.policy.decide(n, util, behind, keyed+src == 0)
		if next != n {
			n = next
			j.setWorkers(n)
			s.record(reason, n)
			j.notifyProgress()
		}
	}
	return s.rebalance(load, n)
}

// workerPolicy decides the worker count from one interval's measurements;
// it keeps the streaks and the cooldown (the hysteresis) between calls.
type workerPolicy struct {
	min, max        int
	high, low, cool int
}

// decide returns the worker count for the next interval and why it
// changed: up by one after scaleUpTicks busy intervals (utilization over
// scaleUpUtil, or input piling up while the workers are over
// backlogUtil busy: a backlog that idle workers leave is a bottleneck more
// workers would not relieve, such as one unsplittable source partition),
// down by one after scaleDownTicks idle ones (utilization under
// scaleDownUtil and no backlog); the scaleCooldown intervals after a change
// change nothing and start no streak; always within min..max.
func (p *workerPolicy) decide(n int, util float64, behind, noBacklog bool) (int, string) {
	if p.cool > 0 {
		// The intervals right after a change measure the transition: they
		// count for nothing.
		p.cool--
		p.high, p.low = 0, 0
		return n, ""
	}
	if util > scaleUpUtil || (behind && util > backlogUtil) {
		p.high++
	} else {
		p.high = 0
	}
	if util < scaleDownUtil && noBacklog {
		p.low++
	} else {
		p.low = 0
	}
	switch {
	case p.high >= scaleUpTicks && n < p.max:
		p.cool, p.high = scaleCooldown, 0
		return n + 1, "load"
	case p.low >= scaleDownTicks && n > p.min:
		p.cool, p.low = scaleCooldown, 0
		return n - 1, "idle"
	case n < p.min:
		return p.min, "min_workers"
	case n > p.max:
		return p.max, "max_workers"
	}
	return n, ""
}

// rebalance applies the range, move and source rules (file comment).
func (s *scaler) rebalance(load map[*worker]float64, n int) error {
	j := s.j
	// Units on workers that no longer exist move first.
	wl := s.workerLoads(load, n)
	for _, st := range j.stages {
		for _, w := range st.list() {
			if int(w.unit.Worker) >= n && liveUnit(w) {
				to := s.leastLoaded(wl, n)
				wl[to] += load[w]
				if err := j.moveUnit(w, to); err != nil {
					return err
				}
			}
		}
	}
	for _, st := range j.stages {
		if st.source != nil {
			if err := s.rebalanceSource(st, load, n); err != nil {
				return err
			}
			continue
		}
		if st.nb <= 1 {
			continue
		}
		ws := liveUnits(st)
		if len(ws) == 0 {
			continue
		}
		var total float64
		for _, w := range ws {
			total += load[w]
		}
		fair := total / float64(n)
		// Split the busiest range when there are fewer ranges than workers
		// or it is hot.
		busiest := ws[0]
		for _, w := range ws {
			if load[w] > load[busiest] || (load[w] == load[busiest] && w.b1-w.b0 > busiest.b1-busiest.b0) {
				busiest = w
			}
		}
		if busiest.b1-busiest.b0 >= 2 && (len(ws) < n || (n > 1 && total > 0 && load[busiest] > hotFactor*fair)) {
			wl = s.workerLoads(load, n)
			if err := j.splitRange(busiest, (busiest.b0+busiest.b1)/2, s.leastLoaded(wl, n)); err != nil {
				return err
			}
			continue
		}
		// Merge cold neighbours when there are more ranges than workers.
		if len(ws) > n {
			var bx, by *worker
			best := -1.0
			for i := 0; i+1 < len(ws); i++ {
				x, y := ws[i], ws[i+1]
				if x.b1 != y.b0 {
					continue
				}
				c := load[x] + load[y]
				if c <= fair/2 && (best < 0 || c < best) {
					bx, by, best = x, y, c
				}
			}
			if bx != nil {
				if err := j.mergeRanges(bx, by); err != nil {
					return err
				}
				continue
			}
		}
	}
	// A worker that owns nothing takes a unit from one that owns several.
	if count := s.unitCounts(n); n > 1 {
		empty, most := -1, 0
		for i := 0; i < n; i++ {
			if count[i] == 0 && empty < 0 {
				empty = i
			}
			if count[i] > count[most] {
				most = i
			}
		}
		if empty >= 0 && count[most] >= 2 {
			var pick *worker
			for _, st := range j.stages {
				for _, w := range liveUnits(st) {
					if int(w.unit.Worker) == most && (pick == nil || load[w] > load[pick]) {
						pick = w
					}
				}
			}
			if pick != nil {
				return j.moveUnit(pick, empty)
			}
		}
	}
	// Even out the workers.
	wl = s.workerLoads(load, n)
	hi, lo := 0, 0
	var sum float64
	for i := 0; i < n; i++ {
		sum += wl[i]
		if wl[i] > wl[hi] {
			hi = i
		}
		if wl[i] < wl[lo] {
			lo = i
		}
	}
	if n < 2 || sum == 0 || wl[hi]-wl[lo] <= moveImbalance*sum/float64(n) {
		return nil
	}
	diff := wl[hi] - wl[lo]
	var pick *worker
	for _, st := range j.stages {
		for _, w := range liveUnits(st) {
			if int(w.unit.Worker) != hi || load[w] <= 0 || load[w] >= diff {
				continue
			}
			if pick == nil || abs(load[w]-diff/2) < abs(load[pick]-diff/2) {
				pick = w
			}
		}
	}
	if pick == nil {
		return nil
	}
	return j.moveUnit(pick, lo)
}

func (s *scaler) rebalanceSource(st *stageRT, load map[*worker]float64, n int) error {
	if c := s.j.x.cfg.Scale; c.Chaos && c.ChaosKeepSources {
		return nil
	}
	rs, ok := st.source.(connector.RangeSource)
	if !ok || !st.source.Bounded() {
		return nil
	}
	ws := liveUnits(st)
	if len(ws) == 0 || len(ws) >= n {
		return nil
	}
	var pick *worker
	var most int64 = -1
	for _, w := range ws {
		_, end, err := rs.Extent(w.part, st.nparts)
		if err != nil {
			return err
		}
		if w.unit.Hi >= 0 {
			end = w.unit.Hi
		}
		if left := end - w.committedOffset(); left > most {
			pick, most = w, left
		}
	}
	if pick == nil || most <= 0 {
		return nil
	}
	// The worker running the fewest source units gets the second half.
	count := make([]int, n)
	for _, w := range ws {
		if int(w.unit.Worker) < n {
			count[w.unit.Worker]++
		}
	}
	to := 0
	for i := range count {
		if count[i] < count[to] {
			to = i
		}
	}
	return s.j.splitSource(pick, to)
}

func (s *scaler) workerLoads(load map[*worker]float64, n int) []float64 {
	wl := make([]float64, max(n, 1))
	for _, st := range s.j.stages {
		for _, w := range liveUnits(st) {
			if i := int(w.unit.Worker); i < n {
				wl[i] += load[w]
			}
		}
	}
	return wl
}

// leastLoaded is the worker with the least load, among equals the one
// owning the fewest live units (so new workers get work even before any
// load is measured).
func (s *scaler) leastLoaded(wl []float64, n int) int {
	count := s.unitCounts(n)
	best := 0
	for i := 0; i < n && i < len(wl); i++ {
		if wl[i] < wl[best] || (wl[i] == wl[best] && count[i] < count[best]) {
			best = i
		}
	}
	return best
}

// unitCounts counts the live units each worker owns.
func (s *scaler) unitCounts(n int) []int {
	count := make([]int, max(n, 1))
	for _, st := range s.j.stages {
		for _, w := range liveUnits(st) {
			if i := int(w.unit.Worker); i < n {
				count[i]++
			}
		}
	}
	return count
}

func liveUnits(st *stageRT) []*worker {
	var out []*worker
	for _, w := range st.list() {
		if liveUnit(w) {
			out = append(out, w)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].part != out[b].part {
			return out[a].part < out[b].part
		}
		return out[a].b0 < out[b].b0
	})
	return out
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// chaos does one random reconfiguration.
func (s *scaler) chaos() error {
	j := s.j
	n := j.Workers()
	r := s.rng
	switch op := r.Intn(6); op {
	case 0: // resize (auto jobs only), then move units off removed workers
		if s.auto && s.max > 1 {
			m := s.min + r.Intn(s.max-s.min+1)
			if m != n {
				j.setWorkers(m)
				s.record("chaos", m)
				j.notifyProgress()
			}
			return s.rebalance(map[*worker]float64{}, j.Workers())
		}
	case 1, 2: // split a random key range
		var cands []*worker
		for _, st := range j.stages {
			for _, w := range liveUnits(st) {
				if st.source == nil && w.b1-w.b0 >= 2 {
					cands = append(cands, w)
				}
			}
		}
		if len(cands) > 0 {
			w := cands[r.Intn(len(cands))]
			return j.splitRange(w, w.b0+1+r.Intn(w.b1-w.b0-1), r.Intn(n))
		}
	case 3: // merge random neighbours
		var pairs [][2]*worker
		for _, st := range j.stages {
			ws := liveUnits(st)
			for i := 0; i+1 < len(ws); i++ {
				if st.source == nil && ws[i].b1 == ws[i+1].b0 {
					pairs = append(pairs, [2]*worker{ws[i], ws[i+1]})
				}
			}
		}
		if len(pairs) > 0 {
			p := pairs[r.Intn(len(pairs))]
			return j.mergeRanges(p[0], p[1])
		}
	case 4: // move a random unit, cheaply or by restarting it
		var all []*worker
		for _, st := range j.stages {
			all = append(all, liveUnits(st)...)
		}
		if len(all) > 0 {
			w, to := all[r.Intn(len(all))], r.Intn(n)
			if r.Intn(2) == 0 {
				return j.restartUnit(w, to)
			}
			return j.moveUnit(w, to)
		}
	case 5: // split a source's remaining work
		if j.x.cfg.Scale.ChaosKeepSources {
			return nil
		}
		for _, st := range j.stages {
			if st.source == nil || !st.source.Bounded() {
				continue
			}
			if _, ok := st.source.(connector.RangeSource); !ok {
				continue
			}
			ws := liveUnits(st)
			if len(ws) > 0 {
				return j.splitSource(ws[r.Intn(len(ws))], r.Intn(n))
			}
		}
	}
	return nil
}
