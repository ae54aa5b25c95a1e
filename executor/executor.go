package executor

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// Config configures an Executor.
type Config struct {
	Store *state.Store
	// Env is handed to connectors (clock, log hub, stdout, base dir).
	Env connector.Env
	// BundleSize caps the records a source worker reads per bundle
	// (default 131072).
	BundleSize int
	// DefaultParallelism is the number of key ranges of a keyed stage and
	// partitions of a source stage when the plan says auto (default: the
	// number of CPUs).
	DefaultParallelism int
	// CacheBytes caps each operator's clean state cache (0: 8 MiB).
	CacheBytes int64
	// MaxPending caps the rows waiting in one key range's inbox before
	// producers wait (backpressure; default 8 * BundleSize).
	MaxPending int
	// Logf reports background events (nil: discard).
	Logf func(format string, args ...any)
	// NoFingerprints turns off the dropping of re-delivered records (see
	// dedup.go). Commits stay atomic, so a crash still loses and repeats
	// nothing, but a retried delivery would be applied twice. For measuring
	// the cost of exactly-once only.
	NoFingerprints bool
	// Scale configures the autoscaler (scaler.go).
	Scale ScaleConfig
	// MaxOutboxRows caps the undelivered rows of one exactly-once sink's
	// outbox before producing units wait (default MaxPending).
	MaxOutboxRows int
	// SinkHook, if set, runs right before (after=false) and right after
	// (after=true) an exactly-once sink's external commit (crash tests
	// kill the process there: cmd/weir WEIR_CRASH_SINK).
	SinkHook func(after bool)
	// ReconfigureHook, if set, runs right before (after=false) and right
	// after (after=true) a split, merge or move commits its new unit table
	// (crash tests kill the process there: cmd/weir WEIR_CRASH_RECONF).
	ReconfigureHook func(after bool)

	hooks *testHooks // tests only
}

// Executor runs jobs on one store. It is safe for concurrent use.
type Executor struct {
	cfg Config
	mu  struct {
		sync.Mutex
		jobs  map[uint64]*Job
		sinks map[uint64]connector.Sink
		vs    map[string]*state.ValueState
	}
}

// New returns an executor over cfg.Store.
func New(cfg Config) *Executor {
	if cfg.BundleSize <= 0 {
		cfg.BundleSize = 131072
	}
	if cfg.DefaultParallelism <= 0 {
		cfg.DefaultParallelism = runtime.NumCPU()
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 8 * cfg.BundleSize
	}
	if cfg.MaxOutboxRows <= 0 {
		cfg.MaxOutboxRows = cfg.MaxPending
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	if cfg.Env.Clock == nil {
		cfg.Env.Clock = connector.SystemClock()
	}
	x := &Executor{cfg: cfg}
	x.mu.jobs = make(map[uint64]*Job)
	x.mu.sinks = make(map[uint64]connector.Sink)
	x.mu.vs = make(map[string]*state.ValueState)
	return x
}

// JobMeta identifies a job run: its name, its job id (new for every launch,
// update and restore) and its state namespace (kept across updates).
type JobMeta struct {
	Name    string
	ID      uint64
	StateNS uint64
}

// Start launches (or, when the store holds its progress, resumes) the job
// described by plan. It returns once every worker has loaded its state.
func (x *Executor) Start(jplan *plan.JobPlan, meta JobMeta) (*Job, error) {
	x.mu.Lock()
	if _, ok := x.mu.jobs[meta.ID]; ok {
		x.mu.Unlock()
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %d is already running", meta.ID)
	}
	x.mu.Unlock()
	j, err := newJob(x, jplan, meta)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.mu.jobs[meta.ID] = j
	x.mu.Unlock()
	j.start()
	return j, nil
}

// Job returns the running job with the given id.
func (x *Executor) Job(id uint64) *Job {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.mu.jobs[id]
}

// Close stops every job at its last commit (they resume on the next Start)
// and closes sinks.
func (x *Executor) Close() error {
	x.mu.Lock()
	jobs := make([]*Job, 0, len(x.mu.jobs))
	for _, j := range x.mu.jobs {
		jobs = append(jobs, j)
	}
	x.mu.Unlock()
	for _, j := range jobs {
		j.Stop()
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	var first error
	for id, s := range x.mu.sinks {
		if err := s.Close(); err != nil && first == nil {
			first = err
		}
		delete(x.mu.sinks, id)
	}
	return first
}

func (x *Executor) forget(j *Job) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.mu.jobs[j.meta.ID] == j {
		delete(x.mu.jobs, j.meta.ID)
	}
}

// sinkFor returns the shared connector sink of a SinkOp (one per sink
// object per process).
func (x *Executor) sinkFor(p *plan.SinkOp) (connector.Sink, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s, ok := x.mu.sinks[p.TargetID]; ok {
		return s, nil
	}
	cols := make([]connector.Column, len(p.Schema))
	for i, c := range p.Schema {
		cols[i] = connector.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
	}
	s, err := connector.OpenSink(connector.SinkConfig{Name: p.Target, ID: p.TargetID, Connector: p.Connector, Options: p.Options, Schema: cols, PrimaryKey: p.PrimaryKey}, x.cfg.Env)
	if err != nil {
		return nil, err
	}
	x.mu.sinks[p.TargetID] = s
	return s, nil
}

// SinkCount returns how many rows the sink with the given id has received
// in this process (blackhole sinks count).
func (x *Executor) SinkCount(id uint64) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s, ok := x.mu.sinks[id]; ok {
		return s.Count()
	}
	return 0
}

// valueState returns the shared ValueState of an operator of a namespace:
// every worker (key range) of the operator uses the same one.
func (x *Executor) valueState(ns uint64, op string) *state.ValueState {
	key := fmt.Sprintf("%d/%s", ns, op)
	x.mu.Lock()
	defer x.mu.Unlock()
	vs := x.mu.vs[key]
	if vs == nil {
		vs = state.NewValueState(x.cfg.Store, ns, op)
		// Operators keep their live state in their own typed structures
		// and use the ValueState as a write-back journal, so its clean
		// cache only needs to be small.
		limit := x.cfg.CacheBytes
		if limit <= 0 {
			limit = 8 << 20
		}
		vs.SetCacheLimit(limit)
		x.mu.vs[key] = vs
	}
	return vs
}

func (x *Executor) dropValueStates(ns uint64) {
	prefix := fmt.Sprintf("%d/", ns)
	x.mu.Lock()
	defer x.mu.Unlock()
	for k := range x.mu.vs {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(x.mu.vs, k)
		}
	}
}
