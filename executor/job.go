package executor

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
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
	plan   *planner.JobPlan
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

	eventsIn    atomic.Int64
	eventsOut   atomic.Int64
	lateDropped atomic.Int64
	badRecords  atomic.Int64
}

// stageRT is a running stage.
type stageRT struct {
	plan      *planner.Stage
	job       *Job
	workers   []*worker
	upstreams []*stageRT
	down      *stageRT
	// keyCols partition this stage's output for the downstream stage.
	keyCols []int
	source  connector.Source
	live    atomic.Int32 // workers still running
}

func newJob(x *Executor, plan *planner.JobPlan, meta JobMeta) (*Job, error) {
	ctx, cancel := context.WithCancel(context.Background())
	j := &Job{x: x, plan: plan, meta: meta, ctx: ctx, cancel: cancel, done: make(chan struct{}), drainCh: make(chan struct{})}
	j.mu.state = StateRunning
	j.mu.progress = make(chan struct{})
	j.startedAt = x.cfg.Env.Clock.Now().UnixMicro()
	byID := map[int]*stageRT{}
	for _, sp := range plan.Stages {
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
				case *planner.WindowAggOp:
					if last.Partial {
						st.keyCols = seq(len(last.KeyCols))
					}
				case *planner.AggOp:
					if last.Partial {
						st.keyCols = seq(len(last.KeyCols))
					}
				}
			}
		}
	}
	// Worker counts are fixed at a job's first start and persisted.
	for _, st := range j.stages {
		n, err := j.partitions(st)
		if err != nil {
			cancel()
			return nil, err
		}
		for i := 0; i < n; i++ {
			w := &worker{job: j, st: st, idx: i, wake: make(chan struct{}, 1)}
			if st.source == nil {
				w.lo, w.hi = rangeBounds(i, n)
				w.inbox = newInbox()
			} else {
				w.lo, w.hi = 0, ^uint64(0)
			}
			st.workers = append(st.workers, w)
		}
	}
	for _, st := range j.stages {
		for _, w := range st.workers {
			if err := w.init(); err != nil {
				cancel()
				return nil, err
			}
		}
	}
	return j, nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// partitions returns the stage's worker count, choosing and persisting it
// on the job lineage's first start.
func (j *Job) partitions(st *stageRT) (int, error) {
	store := j.x.cfg.Store
	want := st.plan.Parallelism
	if want <= 0 {
		want = j.plan.Options.Parallelism
	}
	if want <= 0 {
		want = j.x.cfg.DefaultParallelism
	}
	if sp := st.plan.Source; sp != nil {
		cols := make([]connector.Column, len(sp.Schema))
		for i, c := range sp.Schema {
			cols[i] = connector.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
		}
		src, err := connector.OpenSource(connector.SourceConfig{Name: sp.Name, ID: sp.ID, Connector: sp.Connector, Options: sp.Options, Schema: cols, TimeCol: sp.TimeCol}, j.x.cfg.Env)
		if err != nil {
			return 0, err
		}
		st.source = src
	}
	key := numPartsKey(j.meta.StateNS, st.plan.ID)
	if v, ok, err := store.Get(key); err != nil {
		return 0, err
	} else if ok && len(v) == 4 {
		return int(binary.BigEndian.Uint32(v)), nil
	}
	n := want
	if st.source != nil {
		n = st.source.Partitions(want)
	}
	if n < 1 {
		n = 1
	}
	b := store.NewBatch()
	b.Set(key, binary.BigEndian.AppendUint32(nil, uint32(n)))
	if err := store.Commit(b); err != nil {
		return 0, err
	}
	return n, nil
}

func (j *Job) start() {
	for _, st := range j.stages {
		for _, w := range st.workers {
			if w.meta.Done {
				continue
			}
			st.live.Add(1)
		}
	}
	for _, st := range j.stages {
		for _, w := range st.workers {
			if w.meta.Done {
				continue
			}
			j.wg.Add(1)
			go w.run()
		}
	}
	go func() {
		j.wg.Wait()
		j.finish()
	}()
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
		for _, w := range st.workers {
			w.close()
		}
	}
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
func (j *Job) Plan() *planner.JobPlan { return j.plan }

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
}

// StageStatus describes one stage.
type StageStatus struct {
	ID        int
	Name      string
	Watermark int64 // output watermark (micros; math.MinInt64 unknown, MaxInt64 done)
	Ops       []OpStatus
	Ranges    []RangeStatus
}

// OpStatus describes one operator.
type OpStatus struct {
	Name       string
	Stateful   bool
	StateBytes int64
}

// RangeStatus describes one worker's key range (or source partition).
type RangeStatus struct {
	Worker    int
	Lo, Hi    uint64
	Events    int64 // records processed in this process's lifetime
	Watermark int64
}

// Status returns the job's current status.
func (j *Job) Status() Status {
	s := Status{EventsIn: j.eventsIn.Load(), EventsOut: j.eventsOut.Load(), LateDropped: j.lateDropped.Load(), BadRecords: j.badRecords.Load()}
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
			for _, w := range st.workers {
				if i < len(w.ops) {
					os.StateBytes = w.ops[i].stateBytes() // shared per operator
				}
			}
			ss.Ops = append(ss.Ops, os)
		}
		for _, w := range st.workers {
			ss.Ranges = append(ss.Ranges, RangeStatus{Worker: w.idx, Lo: w.lo, Hi: w.hi, Events: w.processed.Load(), Watermark: w.pubWM.Load()})
		}
		s.Stages = append(s.Stages, ss)
	}
	return s
}

// outputWM is the minimum published watermark over the stage's workers.
func (st *stageRT) outputWM() int64 {
	m := int64(maxWM)
	for _, w := range st.workers {
		if v := w.pubWM.Load(); v < m {
			m = v
		}
	}
	return m
}

func (st *stageRT) naturalWM() int64 {
	m := int64(maxWM)
	for _, w := range st.workers {
		if v := w.pubNatural.Load(); v < m {
			m = v
		}
	}
	return m
}

// wakeWorkers nudges every worker of the stage.
func (st *stageRT) wakeWorkers() {
	for _, w := range st.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}
