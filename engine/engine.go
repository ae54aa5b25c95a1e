package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/executor"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
	"github.com/weir-sql/weir/state"
)

// Options configure an Engine.
type Options struct {
	// DataDir holds the store. Empty: a temporary directory removed by Close.
	DataDir string
	// FS overrides the filesystem (tests: vfs.NewMem()).
	FS vfs.FS
	// Clock is the processing-time clock (default: the system clock).
	Clock connector.Clock
	// Stdout receives the rows of stdout sinks (default os.Stdout).
	Stdout io.Writer
	// BaseDir resolves relative file paths of file sources and sinks
	// (default: the working directory).
	BaseDir string
	// BundleSize, Parallelism and CacheBytes tune the executor (0: defaults).
	BundleSize  int
	Parallelism int
	CacheBytes  int64
	// NoSync skips fsync on commits (benchmarks only).
	NoSync bool
	// NoFingerprints turns off the executor's dropping of re-delivered
	// records (benchmarks of the cost of exactly-once only).
	NoFingerprints bool
	// Logf receives background messages (nil: discarded).
	Logf func(format string, args ...any)
	// Scale configures the jobs' autoscaler (executor.ScaleConfig).
	Scale executor.ScaleConfig
	// CommitHook runs around every store commit (state.Options.CommitHook;
	// crash tests).
	CommitHook func(after bool)
	// ReconfigureHook runs around every reconfiguration's commit
	// (executor.Config.ReconfigureHook; crash tests).
	ReconfigureHook func(after bool)
	// SinkHook runs around every exactly-once sink's external commit
	// (executor.Config.SinkHook; crash tests).
	SinkHook func(after bool)
	// MaxOutboxRows caps an exactly-once sink's undelivered rows
	// (executor.Config.MaxOutboxRows; 0: default).
	MaxOutboxRows int
}

// Engine is an embedded Weir database.
type Engine struct {
	opts    Options
	tempDir string
	store   *state.Store
	cat     *catalog.Catalog
	logs    *connector.LogHub
	exec    *executor.Executor
	clock   connector.Clock
	funcs   *expr.Registry
	writer  uint64 // this process's writer id for appended table rows
	// jobLocks serializes lifecycle changes per job name (lifecycle.go).
	jobLocks sync.Map // name -> *sync.Mutex
	// stateMu serializes the read-modify-writes of a launch's catalog
	// state that race with its end: watch recording how it ended, and
	// markDraining. Held only around a catalog read and write.
	stateMu sync.Mutex

	mu struct {
		sync.Mutex
		jobs     map[string]*liveJob      // live jobs by name
		virtual  map[string]*VirtualTable // by "schema.name"
		activity ActivitySource           // the wire server's sessions (pg_stat_activity)
		seq      uint64
		closed   bool
		watchers sync.WaitGroup
		// runErrs are the errors of jobs that failed in this process, also
		// when recording the failure in the catalog failed (a storage
		// failure poisons the store; the job then stays live and resumes
		// at the next Open).
		runErrs map[uint64]error
	}
}

// Open opens or creates the engine's data directory and resumes live jobs.
func Open(opts Options) (*Engine, error) {
	e := &Engine{opts: opts}
	if opts.Clock == nil {
		opts.Clock = connector.SystemClock()
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	e.opts = opts
	e.clock = opts.Clock
	dir := opts.DataDir
	if dir == "" && opts.FS == nil {
		tmp, err := os.MkdirTemp("", "weir-")
		if err != nil {
			return nil, err
		}
		e.tempDir, dir = tmp, tmp
	} else if dir == "" {
		dir = "weir-data"
	}
	st, err := state.Open(dir, state.Options{FS: opts.FS, NoSync: opts.NoSync, CommitHook: opts.CommitHook})
	if err != nil {
		e.cleanup()
		return nil, err
	}
	e.store = st
	if e.cat, err = catalog.Open(st); err != nil {
		e.Close()
		return nil, err
	}
	if e.logs, err = connector.NewLogHub(st); err != nil {
		e.Close()
		return nil, err
	}
	if e.writer, err = e.cat.NextID(); err != nil {
		e.Close()
		return nil, err
	}
	e.funcs = expr.Builtins().Clone()
	e.mu.jobs = make(map[string]*liveJob)
	e.mu.virtual = make(map[string]*VirtualTable)
	env := connector.Env{Store: st, Logs: e.logs, Clock: opts.Clock, Stdout: opts.Stdout, BaseDir: opts.BaseDir}
	e.exec = executor.New(executor.Config{Store: st, Env: env, BundleSize: opts.BundleSize, DefaultParallelism: opts.Parallelism,
		CacheBytes: opts.CacheBytes, Logf: opts.Logf, NoFingerprints: opts.NoFingerprints, Scale: opts.Scale, ReconfigureHook: opts.ReconfigureHook,
		SinkHook: opts.SinkHook, MaxOutboxRows: opts.MaxOutboxRows})
	e.registerSystemTables()
	if err := e.recoverLifecycle(); err != nil { // lifecycle.go: interrupted updates
		e.Close()
		return nil, err
	}
	if err := e.resumeJobs(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Engine) cleanup() {
	if e.tempDir != "" {
		os.RemoveAll(e.tempDir)
		e.tempDir = ""
	}
}

// Close stops every job at its last commit (they resume at the next Open)
// and closes the store.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		return nil
	}
	e.mu.closed = true
	e.mu.Unlock()
	var first error
	if e.exec != nil {
		if err := e.exec.Close(); err != nil {
			first = err
		}
	}
	e.mu.watchers.Wait()
	if e.store != nil {
		if err := e.store.Close(); err != nil && first == nil {
			first = err
		}
	}
	e.cleanup()
	return first
}

// Catalog returns the engine's catalog (read-only use by frontends).
func (e *Engine) Catalog() *catalog.Catalog { return e.cat }

// Store returns the engine's store.
func (e *Engine) Store() *state.Store { return e.store }

// Now returns the injected clock's time in microseconds.
func (e *Engine) Now() int64 { return e.clock.Now().UnixMicro() }

// RegisterFunc adds a scalar function (e.g. pg_catalog functions) to the
// engine's registry.
func (e *Engine) RegisterFunc(name string, def expr.FuncDef) {
	e.funcs.Register(name, def)
}

// SetActivitySource sets what lists the engine's client sessions (the wire
// server calls it when it serves the engine).
func (e *Engine) SetActivitySource(a ActivitySource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.activity = a
}

// ActivitySource returns the source set with SetActivitySource (nil when
// no server serves the engine).
func (e *Engine) ActivitySource() ActivitySource {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.activity
}

// RegisterVirtualTable adds a read-only relation computed on demand.
func (e *Engine) RegisterVirtualTable(t VirtualTable) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.virtual[t.Schema+"."+t.Name] = &t
}

// VirtualTables returns the registered virtual tables (system tables,
// pg_catalog, ...).
func (e *Engine) VirtualTables() []VirtualTable {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]VirtualTable, 0, len(e.mu.virtual))
	for _, t := range e.mu.virtual {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Schema+"."+out[i].Name < out[j].Schema+"."+out[j].Name })
	return out
}

// resumeJobs restarts every job that was live when the process stopped.
func (e *Engine) resumeJobs() error {
	for _, j := range e.cat.Jobs() {
		if !j.Live() {
			continue
		}
		jplan, err := e.planJobSQL(j.Name, j.SQL, j.Options)
		if err != nil {
			j.State = catalog.JobFailed
			j.Error = fmt.Sprintf("cannot re-plan after restart: %v", err)
			j.EndedAt = e.Now()
			if perr := e.cat.PutJob(j); perr != nil {
				return perr
			}
			continue
		}
		if err := e.startJob(j, jplan); err != nil {
			return err
		}
		if j.State == catalog.JobDraining {
			if rj := e.runningJob(j.Name); rj != nil {
				rj.Drain()
			}
		}
	}
	return nil
}

// planJobSQL re-parses and plans a stored job statement.
func (e *Engine) planJobSQL(name, text string, options map[string]string) (*plan.JobPlan, error) {
	stmt, err := sql.ParseOne(text)
	if err != nil {
		return nil, err
	}
	ins, ok := stmt.(*sql.Insert)
	if !ok {
		return nil, pgerr.New(pgerr.InternalError, "stored job %s is not an INSERT", name)
	}
	opts := make([]sql.Option, 0, len(options))
	for k, v := range options {
		opts = append(opts, sql.Option{Key: k, Value: v})
	}
	return e.planJob(name, ins, opts)
}

// startJob starts the executor for catalog job j and watches it end.
func (e *Engine) startJob(j *catalog.Job, jplan *plan.JobPlan) error {
	rj, err := e.exec.Start(jplan, executor.JobMeta{Name: j.Name, ID: j.ID, StateNS: j.StateNS})
	if err != nil {
		return err
	}
	lj := &liveJob{job: rj, recorded: make(chan struct{})}
	e.mu.Lock()
	e.mu.jobs[j.Name] = lj
	e.mu.watchers.Add(1)
	e.scheduleSnapshots(j, jplan, lj) // lifecycle.go: snapshot_every
	e.mu.Unlock()
	go e.watch(j.ID, lj)
	return nil
}

// liveJob is a running job and a channel closed once its end is recorded
// in the catalog.
type liveJob struct {
	job      *executor.Job
	recorded chan struct{}
}

// watch records how a job ended in the catalog.
func (e *Engine) watch(id uint64, lj *liveJob) {
	defer e.mu.watchers.Done()
	rj := lj.job
	<-rj.Done()
	defer func() {
		e.mu.Lock()
		if cur := e.mu.jobs[rj.Meta().Name]; cur == lj {
			delete(e.mu.jobs, rj.Meta().Name)
		}
		e.mu.Unlock()
		close(lj.recorded)
	}()
	st, runErr := rj.Outcome()
	if st == executor.StateStopped {
		return // shutdown: stays live, resumes at the next Open
	}
	if st == executor.StateFailed && runErr != nil {
		e.mu.Lock()
		if e.mu.runErrs == nil {
			e.mu.runErrs = make(map[uint64]error)
		}
		e.mu.runErrs[id] = runErr
		e.mu.Unlock()
	}
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	j, err := e.cat.GetJob(id)
	if err != nil {
		return
	}
	switch st {
	case executor.StateDone:
		j.State = catalog.JobDone
	case executor.StateDrained:
		j.State = catalog.JobDrained
	case executor.StateCancelled:
		j.State = catalog.JobCancelled
	default:
		j.State = catalog.JobFailed
		if runErr != nil {
			j.Error = runErr.Error()
		}
	}
	j.EndedAt = e.Now()
	if err := e.cat.PutJob(j); err != nil {
		e.opts.Logf("job %s: recording its end: %v", j.Name, err)
	}
}

// jobRunError returns the error of job id if it failed in this process.
func (e *Engine) jobRunError(id uint64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.runErrs[id]
}

// runningJob returns the executor job of a live job name.
func (e *Engine) runningJob(name string) *executor.Job {
	e.mu.Lock()
	defer e.mu.Unlock()
	if lj := e.mu.jobs[name]; lj != nil {
		return lj.job
	}
	return nil
}

// WaitJob blocks until the live job named name has ended and its end is
// recorded in the catalog, or ctx is done.
func (e *Engine) WaitJob(ctx context.Context, name string) error {
	e.mu.Lock()
	lj := e.mu.jobs[name]
	e.mu.Unlock()
	if lj == nil {
		return nil
	}
	select {
	case <-lj.recorded:
		return nil
	case <-ctx.Done():
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
}
