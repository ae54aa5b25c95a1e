package executor

// Units, workers and online reconfiguration.
//
// # Units
//
// A stage's work is cut into units, each processed by one goroutine (the
// worker struct, a "runner") and owned by one worker:
//
//   - A keyed stage's units are key ranges: runs [Lo, Hi) of the stage's
//     buckets (keys.go). Every key hashes to one bucket, so a range is a
//     contiguous span of the hash space, of every operator's state
//     (state.StateSpan), of the queue and of the fingerprints.
//   - A source stage's units are partition ranges: partition Part of the
//     source from the unit's committed offset to Hi (Hi < 0: to the
//     partition's end). A bounded connector.RangeSource can cut a unit's
//     remaining work in two (dynamic work rebalancing); other sources keep
//     one unit per partition.
//
// The unit table ('m' ns 'r' stage: unitTable) is the durable ownership
// record: every unit, its owning worker, and the next unit id. Unit ids are
// never reused within a lineage, so a producer's queue-entry ids (from, seq)
// stay unique across reconfigurations.
//
// # Workers
//
// A worker (workerSlot) runs at most one bundle at a time, of any unit
// assigned to it: a unit's goroutine holds its worker while it processes
// and commits a bundle and never while it waits. The number of workers is
// the job's parallelism: fixed by `parallelism = N`, chosen by the
// autoscaler (scaler.go) between min_workers and max_workers otherwise.
//
// # Reconfiguration
//
// A move records the new owner and the unit's next bundle runs on the new
// worker (moveUnit): in one process the unit's loaded state and timers are
// already the new owner's. Split and merge (and restartUnit, a move the
// way one between processes would go) are one operation, replace: the
// units being replaced are asked to stop at their next bundle boundary
// (after their commit; a unit never stops mid-bundle), one batch then
// commits the new
// unit table and the successors' progress (watermarks inherited, the
// minimum on a merge, so no stage watermark moves; counters carried), and
// the successors start from committed state exactly as after a restart:
// their operators reload state and upcoming timers for their span, their
// fingerprint filters are rebuilt from the store, and a source range opens
// its reader at the committed offset. Deliveries not yet taken wait in the
// stage's bucket inboxes for whoever owns the bucket next. Other units of
// the stage keep running. A crash at any point leaves either the old table
// with the old units' progress or the new table with the new ones.
//
// What a multi-process version would need is in doc.go.

import (
	"encoding/binary"
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/weir-sql/weir/connector"
)

// defaultBuckets is the number of buckets of a keyed stage's key space: the
// most key ranges it can have.
const defaultBuckets = 128

// unit is one key range or source partition range (see the file comment).
type unit struct {
	ID     uint32
	Part   int32 // source stages: the partition; keyed stages: -1
	Lo, Hi int64 // keyed: buckets [Lo, Hi); source: offsets, Hi < 0 = the partition's end
	Worker int32 // the owning worker
}

// unitTable is a stage's durable unit table.
type unitTable struct {
	NextID uint32
	Units  []unit
}

func (t *unitTable) encode() []byte {
	b := binary.AppendUvarint(nil, uint64(t.NextID))
	b = binary.AppendUvarint(b, uint64(len(t.Units)))
	for _, u := range t.Units {
		b = binary.AppendUvarint(b, uint64(u.ID))
		b = binary.AppendVarint(b, int64(u.Part))
		b = binary.AppendVarint(b, u.Lo)
		b = binary.AppendVarint(b, u.Hi)
		b = binary.AppendVarint(b, int64(u.Worker))
	}
	return b
}

var errCorruptUnits = errors.New("executor: corrupt unit table")

func decodeUnitTable(b []byte) (unitTable, error) {
	var t unitTable
	next := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	nextU := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	id, ok := nextU()
	if !ok {
		return t, errCorruptUnits
	}
	t.NextID = uint32(id)
	n, ok := nextU()
	if !ok || n > uint64(len(b)) {
		return t, errCorruptUnits
	}
	for i := uint64(0); i < n; i++ {
		var u unit
		id, ok1 := nextU()
		part, ok2 := next()
		lo, ok3 := next()
		hi, ok4 := next()
		wk, ok5 := next()
		if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
			return t, errCorruptUnits
		}
		u.ID, u.Part, u.Lo, u.Hi, u.Worker = uint32(id), int32(part), lo, hi, int32(wk)
		t.Units = append(t.Units, u)
	}
	return t, nil
}

// workerSlot is one worker of a job (see the file comment).
type workerSlot struct {
	idx int
	sem chan struct{}
	// busy is the injected clock's time spent running bundles (nanos),
	// charged when a bundle gives the worker back; heldAt is when the
	// running bundle took it (unix nanos, 0 when free), so a measurement
	// can count a long bundle still running.
	busy   atomic.Int64
	heldAt atomic.Int64
}

// busyNow is the worker's busy time including the running bundle's.
func (s *workerSlot) busyNow(now int64) int64 {
	b := s.busy.Load()
	if h := s.heldAt.Load(); h != 0 && now > h {
		b += now - h
	}
	return b
}

func newWorkerSlot(idx int) *workerSlot {
	return &workerSlot{idx: idx, sem: make(chan struct{}, 1)}
}

// acquire takes the unit's worker for one bundle.
func (w *worker) acquire() {
	s := w.slot.Load()
	select {
	case s.sem <- struct{}{}:
	case <-w.job.ctx.Done():
		// Stopping: run on without the worker; nothing commits after a
		// stop anyway, and the loop ends at its next check.
		w.held = nil
		return
	}
	w.held = s
	at := w.job.x.cfg.Env.Clock.Now().UnixNano()
	s.heldAt.Store(at)
	w.heldAtNano.Store(at)
}

// release gives the worker back, charging the time it was held.
func (w *worker) release() {
	s := w.held
	if s == nil {
		return
	}
	d := w.job.x.cfg.Env.Clock.Now().UnixNano() - w.heldAtNano.Load()
	s.busy.Add(d)
	w.busy.Add(d)
	s.heldAt.Store(0)
	w.heldAtNano.Store(0)
	w.held = nil
	<-s.sem
}

// busyNow is the unit's busy time including its running bundle's.
func (w *worker) busyNow(now int64) int64 {
	b := w.busy.Load()
	if h := w.heldAtNano.Load(); h != 0 && now > h {
		b += now - h
	}
	return b
}

// list returns the stage's current units' runners.
func (st *stageRT) list() []*worker {
	if p := st.runners.Load(); p != nil {
		return *p
	}
	return nil
}

func (st *stageRT) setList(ws []*worker) {
	sort.Slice(ws, func(a, b int) bool {
		x, y := ws[a].unit, ws[b].unit
		if x.Part != y.Part {
			return x.Part < y.Part
		}
		return x.Lo < y.Lo
	})
	st.runners.Store(&ws)
}

// pending is the number of rows waiting in the unit's buckets.
func (w *worker) pending() int {
	n := 0
	for b := w.b0; b < w.b1; b++ {
		n += w.st.inboxes[b].pending()
	}
	return n
}

// takeInbox takes every delivery waiting in the unit's buckets.
func (w *worker) takeInbox() []delivery {
	var out []delivery
	for b := w.b0; b < w.b1; b++ {
		out = append(out, w.st.inboxes[b].take()...)
	}
	if len(out) > 0 {
		w.space.notify()
	}
	return out
}

// broadcast wakes every waiter at once (several producers may wait for
// the same full unit: a one-slot signal would wake only one of them and
// leave the others blocked with the inbox already empty). wait returns a
// channel that the next notify closes; take it before checking the
// condition it guards, so a notify between the check and the wait is not
// lost.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
	b.mu.Unlock()
}

var errRetired = errors.New("executor: unit retired")

// retiring reports whether the unit was asked to stop for a
// reconfiguration.
func (w *worker) retiring() bool {
	select {
	case <-w.retireCh:
		return true
	default:
		return false
	}
}

// newRunner creates (without loading) the runner of unit u.
func (j *Job) newRunner(st *stageRT, u unit) *worker {
	w := &worker{job: j, st: st, idx: int(u.ID), unit: u,
		wake: make(chan struct{}, 1), retireCh: make(chan struct{}), exited: make(chan struct{})}
	if st.source == nil {
		w.b0, w.b1 = int(u.Lo), int(u.Hi)
		w.lo, w.hi = bucketsBounds(w.b0, w.b1, st.nb)
	} else {
		w.lo, w.hi = 0, ^uint64(0)
		w.part = int(u.Part)
		w.nparts = st.nparts
	}
	w.slot.Store(j.slotAt(int(u.Worker)))
	return w
}

// slotAt returns worker i, creating workers up to it.
func (j *Job) slotAt(i int) *workerSlot {
	j.sl.Lock()
	defer j.sl.Unlock()
	for len(j.sl.slots) <= i {
		j.sl.slots = append(j.sl.slots, newWorkerSlot(len(j.sl.slots)))
	}
	return j.sl.slots[i]
}

// Workers returns the job's current number of workers.
func (j *Job) Workers() int {
	j.sl.Lock()
	defer j.sl.Unlock()
	return j.sl.n
}

// setWorkers sets the number of workers units may be assigned to.
func (j *Job) setWorkers(n int) {
	j.slotAt(n - 1)
	j.sl.Lock()
	j.sl.n = n
	j.sl.Unlock()
}

// replacement is one reconfiguration of a stage: olds retire, news start.
type replacement struct {
	st   *stageRT
	olds []*worker
	// plan computes the new units and their progress from the old units'
	// final committed progress (called after they stopped). It may return
	// no units to cancel the change (the olds are restarted as they were).
	plan func(olds []*worker) ([]unit, []workerMeta, error)
	what string
}

// replace performs r (see the file comment). It must be called with the
// job's lifecycle semaphore held (no pause in progress).
func (j *Job) replace(r replacement) error {
	st := r.st
	for _, o := range r.olds {
		if o.retiring() {
			return errors.New("executor: unit already retiring")
		}
	}
	// Keep the stage counted live and the job running while the olds stop
	// and before their successors start.
	hold := len(r.olds)
	if !j.holdFor(st, r.olds, hold) {
		return nil // a unit finished meanwhile: nothing to reconfigure
	}
	started := 0
	defer func() {
		if d := hold - started; d > 0 {
			j.unhold(st, d)
			if st.down != nil {
				st.down.wakeWorkers()
			}
		}
	}()
	for _, o := range r.olds {
		close(o.retireCh)
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	for _, o := range r.olds {
		<-o.exited
		o.close()
	}
	for _, o := range r.olds {
		if !unitFinished(o) {
			j.retiredDedup.add(o.dedup)
		}
	}
	if j.ctx.Err() != nil {
		return errStopped
	}
	var live []*worker
	for _, o := range r.olds {
		if !unitFinished(o) {
			live = append(live, o)
		}
	}
	var news []unit
	var metas []workerMeta
	if len(live) == len(r.olds) {
		var err error
		if news, metas, err = r.plan(r.olds); err != nil {
			return err
		}
	}
	var finished []unit // units that finished meanwhile stay as they are
	what := r.what
	if news == nil {
		what = "called off: " + what
		// Cancelled, or a unit finished meanwhile: restart the live ones as
		// they were.
		for _, o := range r.olds {
			if unitFinished(o) {
				finished = append(finished, o.unit)
				continue
			}
			news = append(news, o.unit)
			metas = append(metas, o.meta)
		}
	}
	if len(news) > hold {
		j.runMu.Lock()
		st.live.Add(int32(len(news) - hold))
		j.running.Add(int32(len(news) - hold))
		j.wg.Add(len(news) - hold)
		j.runMu.Unlock()
		hold = len(news)
	}
	// One batch: the new unit table and the successors' progress.
	store := j.x.cfg.Store
	ns := j.meta.StateNS
	tbl := st.table
	keep := map[uint32]bool{}
	for _, u := range news {
		keep[u.ID] = true
	}
	for _, u := range finished {
		keep[u.ID] = true
	}
	var units []unit
	for _, u := range tbl.Units {
		gone := false
		for _, o := range r.olds {
			if o.unit.ID == u.ID {
				gone = true
			}
		}
		if !gone {
			units = append(units, u)
		}
	}
	units = append(units, news...)
	units = append(units, finished...)
	tbl.Units = units
	for _, u := range news {
		if u.ID >= tbl.NextID {
			tbl.NextID = u.ID + 1
		}
	}
	b := store.NewBatch()
	defer b.Close()
	for _, o := range r.olds {
		if !keep[o.unit.ID] {
			b.Delete(workerMetaKey(ns, st.plan.ID, int(o.unit.ID)))
		}
	}
	for i, u := range news {
		m := metas[i]
		b.Set(workerMetaKey(ns, st.plan.ID, int(u.ID)), m.encode())
	}
	b.Set(unitsKey(ns, st.plan.ID), tbl.encode())
	if h := j.x.cfg.ReconfigureHook; h != nil {
		h(false)
	}
	if err := store.Commit(b); err != nil {
		return err
	}
	if h := j.x.cfg.ReconfigureHook; h != nil {
		h(true)
	}
	st.table = tbl
	var runners []*worker
	for _, u := range news {
		w := j.newRunner(st, u)
		if err := w.init(false); err != nil {
			return err
		}
		runners = append(runners, w)
	}
	list := make([]*worker, 0, len(st.list())+len(runners))
	for _, w := range st.list() {
		old := false
		for _, o := range r.olds {
			if o == w && !unitFinished(o) {
				old = true
			}
		}
		if !old {
			list = append(list, w)
		}
	}
	list = append(list, runners...)
	if what == r.what {
		j.reconfigs.Add(1)
	}
	st.setList(list)
	j.x.cfg.Logf("job %s: %s", j.meta.Name, what)
	for _, w := range runners {
		started++
		go w.run()
	}
	if st.down != nil {
		st.down.wakeWorkers()
	}
	st.wakeWorkers()
	j.notifyProgress()
	return nil
}

// splitRange splits keyed unit w at bucket mid (w.b0 < mid < w.b1); the
// upper half goes to worker to.
func (j *Job) splitRange(w *worker, mid, to int) error {
	return j.replace(replacement{st: w.st, olds: []*worker{w}, what: "split a key range",
		plan: func(olds []*worker) ([]unit, []workerMeta, error) {
			o := olds[0]
			a, b := o.unit, o.unit
			a.ID, b.ID = o.st.table.NextID, o.st.table.NextID+1
			a.Hi, b.Lo = int64(mid), int64(mid)
			b.Worker = int32(to)
			ma, mb := inheritMeta(o.meta), inheritMeta(o.meta)
			carryCounters(&ma, o.meta)
			return []unit{a, b}, []workerMeta{ma, mb}, nil
		}})
}

// mergeRanges merges adjacent keyed units x and y (x.b1 == y.b0) onto x's
// worker. Both must have applied the same input watermark: operators infer
// from it which windows have fired (slicedagg.go rebuilds its schedule from
// it), so the merged range's watermark must be each half's own. Units of a
// stage see the same upstream watermark and agree between bundles; if
// they do not when stopped, the merge is called off and both go on.
func (j *Job) mergeRanges(x, y *worker) error {
	if x.pubWM.Load() != y.pubWM.Load() || x.pubNatural.Load() != y.pubNatural.Load() {
		return nil // try again later
	}
	return j.replace(replacement{st: x.st, olds: []*worker{x, y}, what: "merged two key ranges",
		plan: func(olds []*worker) ([]unit, []workerMeta, error) {
			a, c := olds[0], olds[1]
			if a.meta.WM != c.meta.WM || a.meta.NaturalWM != c.meta.NaturalWM {
				return nil, nil, nil // called off: both restart as they were
			}
			u := a.unit
			u.ID = a.st.table.NextID
			u.Hi = c.unit.Hi
			m := inheritMeta(a.meta)
			if c.meta.WM < m.WM {
				m.WM = c.meta.WM
			}
			if c.meta.NaturalWM < m.NaturalWM {
				m.NaturalWM = c.meta.NaturalWM
			}
			carryCounters(&m, a.meta)
			carryCounters(&m, c.meta)
			return []unit{u}, []workerMeta{m}, nil
		}})
}

// moveUnit moves a unit (key range or source range) to worker to. The
// new owner is recorded first (one batch); the unit's bundle in flight, if
// any, finishes and commits on the old worker, and its next bundle runs on
// the new one. Workers are goroutine slots of one process sharing the
// store and its caches, so the unit's loaded state and timers are already
// the new owner's: nothing stops and nothing reloads. (A process boundary
// would make a move a restartUnit: see doc.go.)
func (j *Job) moveUnit(w *worker, to int) error {
	if !liveUnit(w) || int(w.unit.Worker) == to {
		return nil
	}
	st := w.st
	tbl := st.table
	tbl.Units = append([]unit(nil), tbl.Units...)
	for i := range tbl.Units {
		if tbl.Units[i].ID == w.unit.ID {
			tbl.Units[i].Worker = int32(to)
		}
	}
	b := j.x.cfg.Store.NewBatch()
	defer b.Close()
	b.Set(unitsKey(j.meta.StateNS, st.plan.ID), tbl.encode())
	if h := j.x.cfg.ReconfigureHook; h != nil {
		h(false)
	}
	if err := j.x.cfg.Store.Commit(b); err != nil {
		return err
	}
	if h := j.x.cfg.ReconfigureHook; h != nil {
		h(true)
	}
	st.table = tbl
	w.unit.Worker = int32(to)
	w.slot.Store(j.slotAt(to))
	j.reconfigs.Add(1)
	j.x.cfg.Logf("job %s: moved a unit", j.meta.Name)
	j.notifyProgress()
	return nil
}

// restartUnit moves a unit to worker to the way a move between processes
// would go: it commits its bundle, stops, and a successor on the new
// worker reloads its state and upcoming timers from the store. Chaos mode
// uses it, so the reload path is exercised as much as the cheap move.
func (j *Job) restartUnit(w *worker, to int) error {
	return j.replace(replacement{st: w.st, olds: []*worker{w}, what: "moved a unit (restarted)",
		plan: func(olds []*worker) ([]unit, []workerMeta, error) {
			u := olds[0].unit
			u.Worker = int32(to)
			return []unit{u}, []workerMeta{olds[0].meta}, nil
		}})
}

// splitSource cuts the remaining work of a bounded source unit in two at a
// record boundary near its middle; the second half goes to worker to.
func (j *Job) splitSource(w *worker, to int) error {
	rs, ok := w.st.source.(connector.RangeSource)
	if !ok {
		return nil
	}
	return j.replace(replacement{st: w.st, olds: []*worker{w}, what: "split a source range",
		plan: func(olds []*worker) ([]unit, []workerMeta, error) {
			o := olds[0]
			n := o.st.nparts
			start, end, err := rs.Extent(o.part, n)
			if err != nil {
				return nil, nil, err
			}
			if o.unit.Hi >= 0 {
				end = o.unit.Hi
			}
			from := o.meta.Offset
			if from < start {
				from = start
			}
			mid, ok, err := rs.SplitPoint(o.part, n, from, end)
			if err != nil || !ok {
				return nil, nil, err
			}
			a, b := o.unit, o.unit
			a.ID, b.ID = o.st.table.NextID, o.st.table.NextID+1
			a.Hi, b.Lo, b.Hi = mid, mid, end
			b.Worker = int32(to)
			ma, mb := inheritMeta(o.meta), inheritMeta(o.meta)
			ma.Offset, mb.Offset = from, mid
			ma.MaxTS, mb.MaxTS = o.meta.MaxTS, o.meta.MaxTS
			carryCounters(&ma, o.meta)
			return []unit{a, b}, []workerMeta{ma, mb}, nil
		}})
}

// inheritMeta is a successor's progress: the watermarks of its predecessor,
// a fresh sequence (its id is new) and no counters.
func inheritMeta(m workerMeta) workerMeta {
	return workerMeta{Offset: m.Offset, MaxTS: m.MaxTS, WM: m.WM, NaturalWM: m.NaturalWM, Source: m.Source}
}

func carryCounters(dst *workerMeta, src workerMeta) {
	dst.EventsIn += src.EventsIn
	dst.EventsOut += src.EventsOut
	dst.LateDropped += src.LateDropped
	dst.BadRecords += src.BadRecords
}
