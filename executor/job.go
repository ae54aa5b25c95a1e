package executor

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// Job states reported by Outcome while and after a job runs.
const (
	StateRunning   = "RUNNING"
	StateDraining  = "DRAINING"
	StateDrained   = "DRAINED"
	StateCancelled = "CANCELLED"
	StateDone      = "DONE"
	StateFailed    = "FAILED"
	StateStopped   = "STOPPED" // stopped for a shutdown; resumes on restart
)

// Job is one running job: its stages and their workers.
type Job struct {
	x      *Executor
	plan   *plan.JobPlan
	meta   JobMeta
	stages []*stageRT

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	draining atomic.Bool
	drainCh  chan struct{}
	drainOne sync.Once

	life lifecycle // pauses for snapshots and updates (snapshot.go)

	mu struct {
		sync.Mutex
		// progress is closed and replaced whenever a worker publishes a
		// commit (WaitWatermark waits on it).
		progress chan struct{}
		state    string
		err      error
		stopped  bool // Stop or Cancel asked
		cancel   bool
	}

	startedAt int64 // micros, from the injected clock

	// sl holds the job's workers (ranges.go).
	sl struct {
		sync.Mutex
		slots []*workerSlot
		n     int // workers in use
	}
	reconfigs    atomic.Int64 // reconfigurations done in this process
	opBytes      opBytesTable // state bytes of operators kept per unit (join.go)
	retiredDedup retiredDedup
	// running counts the units' goroutines (and reconfigurations holding
	// a place for their successors); unitsDone closes when it drops to 0.
	running   atomic.Int32
	unitsDone chan struct{}
	runMu     sync.Mutex // orders units' exits with reconfigurations' holds
	scale     *scaler    // nil: no autoscaling and no chaos (scaler.go)

	// sinks are the writers of the job's exactly-once sinks, by sink id
	// (outbox.go); unitsEnded closes when every unit has ended, so the
	// delivery loops know no entry will come.
	sinks      map[uint64]*sinkWriter
	unitsEnded chan struct{}

	eventsIn    atomic.Int64
	eventsOut   atomic.Int64
	lateDropped atomic.Int64
	badRecords  atomic.Int64
}

// stageRT is a running stage.
type stageRT struct {
	plan      *plan.Stage
	job       *Job
	runners   atomic.Pointer[[]*worker] // the current units' runners (ranges.go)
	upstreams []*stageRT
	down      *stageRT
	// keyCols partition this stage's output for the downstream stage.
	keyCols []int
	source  connector.Source
	live    atomic.Int32 // workers still running

	nparts  int      // source stages: partitions (grows only under the lifecycle semaphore: partitions.go)
	nb      int      // keyed stages: buckets
	inboxes []*inbox // keyed stages: per bucket
	table   unitTable
	// sinkWriters are the exactly-once sinks the stage writes (outbox.go).
	sinkWriters []*sinkWriter
}

func newJob(x *Executor, jplan *plan.JobPlan, meta JobMeta) (*Job, error) {
	ctx, cancel := context.WithCancel(context.Background())
	j := &Job{x: x, plan: jplan, meta: meta, ctx: ctx, cancel: cancel, done: make(chan struct{}), drainCh: make(chan struct{}), unitsDone: make(chan struct{}), unitsEnded: make(chan struct{})}
	j.mu.state = StateRunning
	j.mu.progress = make(chan struct{})
	j.startedAt = x.cfg.Env.Clock.Now().UnixMicro()
	built := false
	defer func() {
		if !built {
			j.closeSources() // a source holding connections (kafka)
		}
	}()
	byID := map[int]*stageRT{}
	for _, sp := range jplan.Stages {
		st := &stageRT{plan: sp, job: j}
		byID[sp.ID] = st
		j.stages = append(j.stages, st)
	}
	for _, st := range j.stages {
		for _, in := range st.plan.Inputs {
			up := byID[in.Stage]
			if up == nil {
				cancel()
				return nil, pgerr.New(pgerr.InternalError, "executor: stage %s reads unknown stage %d", st.plan.Name, in.Stage)
			}
			st.upstreams = append(st.upstreams, up)
		}
		if out := st.plan.Output; out != nil {
			st.down = byID[out.Stage]
			if st.down == nil {
				cancel()
				return nil, pgerr.New(pgerr.InternalError, "executor: stage %s writes unknown stage %d", st.plan.Name, out.Stage)
			}
			st.keyCols = out.KeyCols
			// A lifted aggregation's partial rows start with its keys.
			if n := len(st.plan.Ops); n > 0 {
				switch last := st.plan.Ops[n-1].(type) {
				case *plan.WindowAggOp:
					if last.Partial {
						st.keyCols = seq(len(last.KeyCols))
					}
				case *plan.AggOp:
					if last.Partial {
						st.keyCols = seq(len(last.KeyCols))
					}
				}
			}
		}
	}
	// Unit tables are made at a lineage's first start and persisted.
	workers := j.initialWorkers()
	for _, st := range j.stages {
		if err := j.setupStage(st, workers); err != nil {
			cancel()
			return nil, err
		}
	}
	maxW := workers
	for _, st := range j.stages {
		var ws []*worker
		for _, u := range st.table.Units {
			if int(u.Worker)+1 > maxW {
				maxW = int(u.Worker) + 1
			}
			ws = append(ws, j.newRunner(st, u))
		}
		st.setList(ws)
	}
	j.setWorkers(maxW)
	if err := j.makeSinkWriters(); err != nil {
		cancel()
		return nil, err
	}
	for _, st := range j.stages {
		for _, w := range st.list() {
			if err := w.init(true); err != nil {
				cancel()
				return nil, err
			}
		}
		if st.source == nil {
			// Committed but unconsumed deliveries survive in the queue.
			if err := j.loadQueue(st); err != nil {
				cancel()
				return nil, err
			}
		}
	}
	j.scale = newScaler(j)
	built = true
	return j, nil
}

// closeSources closes the stages' sources that hold resources (io.Closer).
func (j *Job) closeSources() {
	for _, st := range j.stages {
		if c, ok := st.source.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// loadQueue puts the stage's committed, unconsumed queue entries into its
// bucket inboxes.
func (j *Job) loadQueue(st *stageRT) error {
	p := queueStagePrefix(j.meta.StateNS, st.plan.ID)
	return j.x.cfg.Store.Scan(p, state.PrefixEnd(p), func(k, v []byte) error {
		d, err := decodeDelivery(k, v)
		if err != nil {
			return err
		}
		b := bucketOfKey(k)
		if b >= len(st.inboxes) {
			return errCorruptQueue
		}
		st.inboxes[b].put(d)
		return nil
	})
}

// initialWorkers is the number of workers a job starts with: its pinned
// parallelism, else the executor's default clamped to min/max_workers.
func (j *Job) initialWorkers() int {
	o := j.plan.Options
	if o.Parallelism > 0 {
		return o.Parallelism
	}
	n := j.x.cfg.DefaultParallelism
	if o.MinWorkers > 0 && n < o.MinWorkers {
		n = o.MinWorkers
	}
	if o.MaxWorkers > 0 && n > o.MaxWorkers {
		n = o.MaxWorkers
	}
	if n < 1 {
		n = 1
	}
	return n
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// setupStage opens the stage's source and loads its unit table, making
// and persisting both the partition or bucket count and the table on the
// lineage's first start.
func (j *Job) setupStage(st *stageRT, workers int) error {
	store := j.x.cfg.Store
	want := st.plan.Parallelism
	if want <= 0 {
		want = workers
	}
	if sp := st.plan.Source; sp != nil {
		cols := make([]connector.Column, len(sp.Schema))
		for i, c := range sp.Schema {
			cols[i] = connector.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
		}
		src, err := connector.OpenSource(connector.SourceConfig{Name: sp.Name, ID: sp.ID, Connector: sp.Connector, Options: sp.Options, Schema: cols, TimeCol: sp.TimeCol}, j.x.cfg.Env)
		if err != nil {
			return err
		}
		st.source = src
	}
	ns := j.meta.StateNS
	nkey, tkey := numPartsKey(ns, st.plan.ID), unitsKey(ns, st.plan.ID)
	v, ok, err := store.Get(nkey)
	if err != nil {
		return err
	}
	n := 0
	haveTable := false
	var starts []int64 // first start: the partitions' starting positions
	if ok && len(v) == 4 {
		n = int(binary.BigEndian.Uint32(v))
		tv, ok, err := store.Get(tkey)
		if err != nil {
			return err
		}
		if ok {
			if st.table, err = decodeUnitTable(tv); err != nil {
				return err
			}
			haveTable = true
		}
		// No table (a snapshot restored without source positions): the
		// stage starts over with the default table.
	}
	if !haveTable {
		// First start.
		if st.source != nil {
			if n == 0 {
				n = st.source.Partitions(want)
			}
			if n < 1 {
				n = 1
			}
			for p := 0; p < n; p++ {
				st.table.Units = append(st.table.Units, unit{ID: uint32(p), Part: int32(p), Hi: -1, Worker: int32(p % workers)})
			}
			if starts, err = startOffsets(st.source, n); err != nil {
				return err
			}
		} else if n == 0 {
			n = defaultBuckets
			if st.plan.Parallelism == 1 && j.plan.Options.Parallelism != 1 {
				n = 1 // one global key: nothing to split
			}
		}
		if st.source == nil {
			ranges := min(max(want, 1), n)
			for i := 0; i < ranges; i++ {
				st.table.Units = append(st.table.Units, unit{ID: uint32(i), Part: -1,
					Lo: int64(bucketStartFor(i, ranges, n)), Hi: int64(bucketStartFor(i+1, ranges, n)), Worker: int32(i % workers)})
			}
		}
		st.table.NextID = uint32(len(st.table.Units))
		b := store.NewBatch()
		b.Set(nkey, binary.BigEndian.AppendUint32(nil, uint32(n)))
		b.Set(tkey, st.table.encode())
		for p, off := range starts {
			m := workerMeta{Offset: off, MaxTS: minWM, WM: minWM, NaturalWM: minWM, Source: true}
			b.Set(workerMetaKey(ns, st.plan.ID, p), m.encode())
		}
		if err := store.Commit(b); err != nil {
			return err
		}
	}
	if st.source != nil {
		st.nparts = n
	} else {
		st.nb = n
		st.inboxes = make([]*inbox, n)
		for i := range st.inboxes {
			st.inboxes[i] = newInbox()
		}
	}
	return nil
}

// bucketStartFor is the first bucket of range i when nb buckets are cut
// into n ranges as evenly as possible.
func bucketStartFor(i, n, nb int) int { return i * nb / n }

func (j *Job) start() {
	j.runMu.Lock()
	for _, st := range j.stages {
		for _, w := range st.list() {
			if w.meta.Done {
				close(w.exited)
				continue
			}
			st.live.Add(1)
			j.running.Add(1)
			j.wg.Add(1)
		}
	}
	if j.running.Load() == 0 {
		close(j.unitsDone)
	}
	j.runMu.Unlock()
	for _, st := range j.stages {
		for _, w := range st.list() {
			if !w.meta.Done {
				go w.run()
			}
		}
	}
	if j.scale != nil {
		j.wg.Add(1)
		go j.scale.run()
	}
	for _, sw := range j.sinks {
		go sw.run()
	}
	for _, st := range j.stages {
		if pw, ok := st.source.(connector.PartitionWatcher); ok && !st.source.Bounded() {
			j.wg.Add(1)
			go j.watchPartitions(st, pw)
		}
	}
	go func() {
		j.wg.Wait()
		j.finishSinks()
		j.finish()
	}()
}

// unitExited counts a unit's goroutine out.
func (j *Job) unitExited(w *worker) {
	j.runMu.Lock()
	w.st.live.Add(-1)
	close(w.exited)
	if j.running.Add(-1) == 0 {
		close(j.unitsDone)
	}
	j.runMu.Unlock()
}

// holdFor keeps n places for successors of the units olds while they are
// replaced; it fails (false) when one of them has already exited.
func (j *Job) holdFor(st *stageRT, olds []*worker, n int) bool {
	j.runMu.Lock()
	defer j.runMu.Unlock()
	for _, o := range olds {
		select {
		case <-o.exited:
			return false
		default:
		}
	}
	st.live.Add(int32(n))
	j.running.Add(int32(n))
	j.wg.Add(n)
	return true
}

// unhold gives back n places held by holdFor.
func (j *Job) unhold(st *stageRT, n int) {
	j.runMu.Lock()
	st.live.Add(-int32(n))
	j.wg.Add(-n)
	if j.running.Add(-int32(n)) == 0 {
		close(j.unitsDone)
	}
	j.runMu.Unlock()
}

func (j *Job) finish() {
	j.mu.Lock()
	switch {
	case j.mu.err != nil:
		j.mu.state = StateFailed
	case j.mu.cancel:
		j.mu.state = StateCancelled
	case j.mu.stopped:
		j.mu.state = StateStopped
	case j.draining.Load():
		j.mu.state = StateDrained
	default:
		j.mu.state = StateDone
	}
	j.mu.Unlock()
	for _, st := range j.stages {
		for _, w := range st.list() {
			w.close()
		}
	}
	j.closeSources()
	j.cancel()
	// Cached state of this lineage may hold writes that never committed
	// (a stop or cancel mid-bundle): a later start must read the store.
	j.x.dropValueStates(j.meta.StateNS)
	j.x.forget(j)
	close(j.done)
}

// fail records the first error and stops the job.
func (j *Job) fail(err error) {
	j.mu.Lock()
	if j.mu.err == nil {
		j.mu.err = err
	}
	j.mu.Unlock()
	j.cancel()
}

// Drain stops reading sources, lets everything buffered finish, moves the
// watermark to +infinity so every window fires (DRAINED panes where the
// watermark had not passed their end) and records the source positions.
func (j *Job) Drain() {
	j.drainOne.Do(func() {
		j.draining.Store(true)
		j.mu.Lock()
		if j.mu.state == StateRunning {
			j.mu.state = StateDraining
		}
		j.mu.Unlock()
		close(j.drainCh)
	})
}

// Cancel stops the job at once; work since the last commits is dropped.
func (j *Job) Cancel() {
	j.mu.Lock()
	j.mu.cancel = true
	j.mu.Unlock()
	j.cancel()
	<-j.done
}

// Stop stops the job for a shutdown: everything committed stays, and the
// job resumes from there when started again.
func (j *Job) Stop() {
	j.mu.Lock()
	j.mu.stopped = true
	j.mu.Unlock()
	j.cancel()
	<-j.done
}

// notifyProgress wakes WaitWatermark callers.
func (j *Job) notifyProgress() {
	j.mu.Lock()
	close(j.mu.progress)
	j.mu.progress = make(chan struct{})
	j.mu.Unlock()
}

// WaitFor blocks until cond holds (checked after every commit and every
// reconfiguration), the job ends (false), or ctx is done.
func (j *Job) WaitFor(ctx context.Context, cond func() bool) (bool, error) {
	for {
		j.mu.Lock()
		ch := j.mu.progress
		j.mu.Unlock()
		if cond() {
			return true, nil
		}
		select {
		case <-ch:
		case <-j.done:
			return cond(), nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// WaitWatermark blocks until every stage's output watermark is at least wm
// (everything before wm has been processed and committed), the job ends, or
// ctx is done.
func (j *Job) WaitWatermark(ctx context.Context, wm int64) error {
	for {
		j.mu.Lock()
		ch := j.mu.progress
		j.mu.Unlock()
		ok := true
		for _, st := range j.stages {
			if st.outputWM() < wm {
				ok = false
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-j.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Sources returns the names of the sources the job reads.
func (j *Job) Sources() []string {
	var out []string
	for _, st := range j.stages {
		if st.plan.Source != nil {
			out = append(out, st.plan.Source.Name)
		}
	}
	return out
}

// Done is closed when the job has ended (done, drained, cancelled, stopped
// or failed).
func (j *Job) Done() <-chan struct{} { return j.done }

// Outcome returns the job's state and the error that failed it.
func (j *Job) Outcome() (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.mu.state, j.mu.err
}

// StartedAt is when this process started the job (micros).
func (j *Job) StartedAt() int64 { return j.startedAt }

// Meta returns the job's identity.
func (j *Job) Meta() JobMeta { return j.meta }

// Plan returns the plan the job runs.
func (j *Job) Plan() *plan.JobPlan { return j.plan }

func (j *Job) valueState(op string) *state.ValueState { return j.x.valueState(j.meta.StateNS, op) }

// Status is a point-in-time view of a job for system tables and EXPLAIN.
type Status struct {
	State       string
	Err         error
	EventsIn    int64
	EventsOut   int64
	LateDropped int64
	BadRecords  int64
	Stages      []StageStatus
	// Workers is the job's worker count; Reconfigurations the splits,
	// merges and moves done in this process.
	Workers          int
	Reconfigurations int64
	// WorkerBusy is each worker's time running bundles in this process.
	WorkerBusy []time.Duration
}

// StageStatus describes one stage.
type StageStatus struct {
	ID        int
	Name      string
	Watermark int64 // output watermark (micros; math.MinInt64 unknown, MaxInt64 done)
	Ops       []OpStatus
	Ranges    []RangeStatus
	Buckets   int // keyed stages: the buckets of its key space
}

// OpStatus describes one operator.
type OpStatus struct {
	Name       string
	Stateful   bool
	StateBytes int64
}

// RangeStatus describes one unit: a key range of a keyed stage or a
// partition range of a source stage (ranges.go).
type RangeStatus struct {
	Unit      int    // the unit id (never reused within the lineage)
	Worker    int    // the worker that owns it
	Lo, Hi    uint64 // key-hash bounds, inclusive (source units: the whole space)
	Buckets   [2]int // keyed: the buckets [lo, hi) of the stage's Buckets
	Partition int    // source: the partition (-1 for key ranges)
	Events    int64  // records processed in this process's lifetime
	Rate      int64  // records/s over the autoscaler's last interval
	Backlog   int    // rows waiting: in its buckets (keyed), in the source (log sources)
	Hot       bool   // a one-bucket range saturating its worker: a hot key
	// Busy is the time the unit held its worker in this process (CPU time
	// of its bundles, commits included). StateBytes estimates the on-disk
	// size of its operators' state (Pebble's estimate over its spans,
	// refreshed by the autoscaler about once a second; recent writes still
	// in the memtable are not counted).
	Busy       time.Duration
	StateBytes int64
	Done       bool
	Watermark  int64
}

// Status returns the job's current status.
func (j *Job) Status() Status {
	s := Status{EventsIn: j.eventsIn.Load(), EventsOut: j.eventsOut.Load(), LateDropped: j.lateDropped.Load(), BadRecords: j.badRecords.Load(),
		Workers: j.Workers(), Reconfigurations: j.reconfigs.Load()}
	j.sl.Lock()
	for i := 0; i < j.sl.n && i < len(j.sl.slots); i++ {
		s.WorkerBusy = append(s.WorkerBusy, time.Duration(j.sl.slots[i].busy.Load()))
	}
	j.sl.Unlock()
	s.State, s.Err = j.Outcome()
	for _, st := range j.stages {
		ss := StageStatus{ID: st.plan.ID, Name: st.plan.Name, Watermark: st.outputWM()}
		if src := st.plan.Source; src != nil {
			name := src.OpName
			if name == "" {
				name = "source_" + src.Name
			}
			ss.Ops = append(ss.Ops, OpStatus{Name: name})
		}
		for i, op := range st.plan.Ops {
			os := OpStatus{Name: op.OpName(), Stateful: op.Stateful()}
			for _, w := range st.list() {
				if i < len(w.ops) {
					os.StateBytes = w.ops[i].stateBytes() // shared per operator
				}
			}
			ss.Ops = append(ss.Ops, os)
		}
		ss.Buckets = st.nb
		for _, w := range st.list() {
			rs := RangeStatus{Unit: w.idx, Worker: w.slot.Load().idx, Lo: w.lo, Hi: w.hi, Partition: -1,
				Events: w.processed.Load(), Rate: w.rate.Load(), Hot: w.hot.Load(), Done: unitFinished(w), Watermark: w.pubWM.Load()}
			if st.source != nil {
				rs.Partition = w.part
				if liveUnit(w) {
					rs.Backlog = int(w.srcBacklog.Load())
				}
			} else {
				rs.Buckets = [2]int{w.b0, w.b1}
				rs.Backlog = w.pending()
				rs.StateBytes = w.stateBytes.Load()
			}
			rs.Busy = time.Duration(w.busy.Load())
			ss.Ranges = append(ss.Ranges, rs)
		}
		s.Stages = append(s.Stages, ss)
	}
	return s
}

// outputWM is the minimum published watermark over the stage's workers.
func (st *stageRT) outputWM() int64 {
	m := int64(maxWM)
	for _, w := range st.list() {
		if v := w.pubWM.Load(); v < m {
			m = v
		}
	}
	return m
}

func (st *stageRT) naturalWM() int64 {
	m := int64(maxWM)
	for _, w := range st.list() {
		if v := w.pubNatural.Load(); v < m {
			m = v
		}
	}
	return m
}

// wakeWorkers nudges every worker of the stage.
func (st *stageRT) wakeWorkers() {
	for _, w := range st.list() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// stateBytesOf estimates the on-disk size of unit w's state.
func (j *Job) stateBytesOf(st *stageRT, w *worker) int64 {
	db := j.x.cfg.Store.DB()
	var n int64
	for _, op := range st.plan.Ops {
		if !op.Stateful() {
			continue
		}
		lo, hi := state.StateSpan(j.meta.StateNS, op.OpName(), w.lo, w.hiExcl())
		if v, err := db.EstimateDiskUsage(lo, hi); err == nil {
			n += int64(v)
		}
	}
	return n
}
