package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/executor"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// This file is the job lifecycle beyond start and stop: snapshots,
// updates, restores from snapshots and relaunches that continue a drained
// or cancelled launch.
//
// Snapshots. CREATE SNAPSHOT s FOR JOB j [WITH SOURCE] takes a Pebble
// snapshot of the store (an O(1) view in which every worker of the job is
// at its last committed bundle boundary: commits are atomic batches, so the
// view is a consistent cut without holding the workers; see
// executor/snapshot.go) and copies the job's namespace (state, timers,
// worker progress, queue entries) from that view into the snapshot's
// keyspace while the job runs on. The
// catalog records it (size, time, job id, operators, and the job's SQL so a
// restore can match operators). With WITH SOURCE the source positions are
// part of it; without, a restore reads its sources from the beginning, as a
// Flink source whose offsets are not restored starts from the earliest
// position (the state then already holds what is read again: a restore
// without source is for rebuilding from state, not for exactly-once).
// The job option snapshot_every takes snapshots WITH SOURCE on the injected
// clock, named <job>_auto_<micros>, keeping the newest snapshot_keep
// (default 3).
//
// Updates. ALTER JOB j UPDATE AS ... [WITH MAPPING (...)] plans the new
// query, runs the compatibility check (planner.CompareForUpdate) and the
// in-flight check (executor.PlanCarry) and refuses with 55000, naming every
// operator and the reason, before anything stops. Accepted: the old launch
// goes UPDATING and is stopped at its last committed bundle boundary (the
// bundles in progress are dropped and redone by the new launch, as after a
// crash; when a window size changes, the old launch is first held at a
// bundle boundary with its sources parked until it has consumed its
// in-flight rows, which were windowed with the old size). Its namespace is
// carried: kept as is when nothing is renamed or renumbered, else copied
// with renamed operators and remapped stage ids into a new namespace. The
// new launch gets a new job id under the same name (PrevID links them) and
// the old one ends UPDATED. If the new launch cannot start, the old one is
// restarted from its untouched namespace.
//
// Restores. CREATE JOB j FROM SNAPSHOT s [AS INSERT ...] plans the new
// query (the snapshot's own without AS), checks it against the
// snapshotted job's plan exactly as an update, and copies the snapshot into
// a new namespace.
//
// Relaunches. CREATE JOB j when j's newest launch ended DRAINED or
// CANCELLED continues that launch: its namespace (state, in-flight data and
// source positions; a drain's finished workers reopened at their natural
// watermark) is carried, under the same check as an update, so the new
// launch reads exactly the unread rest. DROP JOB j forgets the lineage (and
// deletes its data) to start from scratch.

// lockJob serializes lifecycle changes of one job name (update, restore,
// relaunch, a snapshot's pause, drain, cancel).
func (e *Engine) lockJob(name string) (unlock func()) {
	v, _ := e.jobLocks.LoadOrStore(name, new(sync.Mutex))
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// sqlOptions turns stored job options back into WITH options.
func sqlOptions(m map[string]string) []sql.Option {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]sql.Option, 0, len(keys))
	for _, k := range keys {
		out = append(out, sql.Option{Key: k, Value: m[k]})
	}
	return out
}

// mappingOf reads WITH MAPPING ('old' = 'new', ...) keeping names as given.
func mappingOf(opts []sql.Option) map[string]string {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		m[strings.TrimSpace(o.Key)] = strings.TrimSpace(o.Value)
	}
	return m
}

// checkCarry runs the compatibility check of old against nw and plans the
// carry; a refusal is 55000 with one DETAIL line per operator. In-flight
// rows the new plan cannot take are no reason to refuse an update (the old
// job consumes them before it stops); a restore or relaunch, which has no
// old job to run, is refused when inflight (the stages holding queue
// entries, from executor.InflightStages) has such rows.
func checkCarry(verb, name string, old, nw *plan.JobPlan, mapping map[string]string, hint string) (*executor.CarryPlan, error) {
	return checkCarryInflight(verb, name, old, nw, mapping, hint, nil)
}

// checkCarryInflight is checkCarry for a restore or relaunch: inflight
// lists the stages holding queue entries.
func checkCarryInflight(verb, name string, old, nw *plan.JobPlan, mapping map[string]string, hint string, inflight func() (map[int]bool, error)) (*executor.CarryPlan, error) {
	matches, problems := planner.CompareForUpdate(old, nw, mapping)
	cp := executor.PlanCarry(old, nw, matches)
	if len(problems) == 0 && len(cp.Problems) > 0 && inflight != nil {
		// (An unmatched operator's stage would report its in-flight rows
		// again: only without operator problems.)
		present, err := inflight()
		if err != nil {
			return nil, err
		}
		cp.KeepInflightProblems(present)
		problems = cp.Problems
	}
	if len(problems) == 0 {
		return cp, nil
	}
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.Operator + ": " + p.Reason
	}
	return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState,
		"cannot %s job %q: %d operator(s) cannot carry their state over", verb, name, len(problems)).
		WithDetail("%s", strings.Join(lines, "\n")).WithHint("%s", hint)
}

// ---- snapshots ----

func (s *Session) createSnapshot(ctx context.Context, n *sql.CreateSnapshot) (*Result, error) {
	snap, pause, err := s.e.takeSnapshot(ctx, n.Name, n.Job, 0, n.WithSource, false, false)
	if err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE SNAPSHOT", Notices: []string{fmt.Sprintf("snapshot %s of job %s (job id %d): %d bytes, job paused for %s",
		snap.Name, snap.Job, snap.JobID, snap.Bytes, pause.Round(time.Microsecond))}}, nil
}

// takeSnapshot snapshots the running job jobName (of job id wantID unless
// 0) as snapName and records it in the catalog. It returns how long the job
// was paused. hold first holds the workers at a bundle boundary (the same
// cut, later; for tests and measurements).
func (e *Engine) takeSnapshot(ctx context.Context, snapName, jobName string, wantID uint64, withSource, scheduled, hold bool) (*catalog.Snapshot, time.Duration, error) {
	if _, err := e.cat.GetSnapshot(snapName); err == nil {
		return nil, 0, pgerr.New(pgerr.DuplicateObject, "snapshot %q already exists", snapName)
	}
	unlock := e.lockJob(jobName)
	cj, ok := e.cat.LiveJob(jobName)
	rj := e.runningJob(jobName)
	if !ok || rj == nil || rj.Meta().ID != cj.ID || (wantID != 0 && cj.ID != wantID) {
		unlock()
		if _, any := e.cat.LatestJob(jobName); any {
			return nil, 0, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is not running", jobName)
		}
		return nil, 0, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", jobName)
	}
	if cj.State != catalog.JobRunning {
		unlock()
		return nil, 0, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is %s", jobName, cj.State)
	}
	id, err := e.cat.NextID()
	if err != nil {
		unlock()
		return nil, 0, err
	}
	capt, err := rj.Capture(ctx, hold)
	unlock()
	if err != nil {
		return nil, 0, err
	}
	defer capt.Close()
	stats, err := capt.Export(ctx, id, withSource)
	if err != nil {
		return nil, 0, err
	}
	snap := &catalog.Snapshot{Name: snapName, Job: jobName, JobID: cj.ID, WithSource: withSource, CreatedAt: e.Now(),
		Bytes: stats.Bytes, Operators: stats.Operators, ID: id, SQL: cj.SQL, Options: cj.Options, Scheduled: scheduled}
	if err := e.cat.CreateSnapshot(snap); err != nil {
		_ = executor.DeleteSnapshot(e.store, id)
		return nil, 0, err
	}
	e.opts.Logf("snapshot %s of job %s: %d keys, %d bytes, paused %s, copied in %s",
		snapName, jobName, stats.Keys, stats.Bytes, capt.Pause, stats.Copy)
	return snap, capt.Pause, nil
}

// dropSnapshot removes a snapshot and its keyspace.
func (e *Engine) dropSnapshot(name string) error {
	snap, err := e.cat.GetSnapshot(name)
	if err != nil {
		return err
	}
	if err := e.cat.DropSnapshot(name); err != nil {
		return err
	}
	if snap.ID != 0 {
		return executor.DeleteSnapshot(e.store, snap.ID)
	}
	return nil
}

// scheduleSnapshots starts the snapshot_every loop of a launch: one
// snapshot WITH SOURCE per period of the injected clock while the launch
// runs, keeping the newest snapshot_keep scheduled snapshots of the job.
// Called with e.mu held (from startJob).
func (e *Engine) scheduleSnapshots(j *catalog.Job, jplan *plan.JobPlan, lj *liveJob) {
	every := time.Duration(jplan.Options.SnapshotEvery) * time.Microsecond
	if every <= 0 {
		return
	}
	keep := jplan.Options.SnapshotKeep
	if keep <= 0 {
		keep = 3
	}
	e.mu.watchers.Add(1)
	go func() {
		defer e.mu.watchers.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		for {
			select {
			case <-lj.job.Done():
				return
			case <-e.clock.After(every):
			}
			select {
			case <-lj.job.Done():
				return
			default:
			}
			name := fmt.Sprintf("%s_auto_%d", j.Name, e.Now())
			if _, _, err := e.takeSnapshot(ctx, name, j.Name, j.ID, true, true, false); err != nil {
				e.opts.Logf("job %s: scheduled snapshot: %v", j.Name, err)
				continue
			}
			e.pruneScheduled(j.Name, keep)
		}
	}()
}

// pruneScheduled drops all but the newest keep scheduled snapshots of job.
func (e *Engine) pruneScheduled(job string, keep int) {
	var auto []*catalog.Snapshot
	for _, s := range e.cat.ListSnapshots() { // oldest first
		if s.Scheduled && s.Job == job {
			auto = append(auto, s)
		}
	}
	for i := 0; i < len(auto)-keep; i++ {
		if err := e.dropSnapshot(auto[i].Name); err != nil {
			e.opts.Logf("job %s: dropping scheduled snapshot %s: %v", job, auto[i].Name, err)
		}
	}
}

// ---- updates ----

const updateHint = "Nothing was changed; the job keeps running. Rename operators back, or map them: ALTER JOB %s UPDATE AS ... WITH MAPPING ('old_name' = 'new_name')."

func (s *Session) alterJob(ctx context.Context, n *sql.AlterJob) (*Result, error) {
	e := s.e
	unlock := e.lockJob(n.Name)
	defer unlock()
	clock := e.clock
	t0 := clock.Now()
	cj, ok := e.cat.LiveJob(n.Name)
	e.mu.Lock()
	lj := e.mu.jobs[n.Name]
	e.mu.Unlock()
	if !ok || lj == nil {
		if _, any := e.cat.LatestJob(n.Name); any {
			return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is not running", n.Name).
				WithHint("CREATE JOB %s starts it again (continuing a drained or cancelled launch).", n.Name)
		}
		return nil, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", n.Name)
	}
	rj := lj.job
	if cj.State != catalog.JobRunning || rj.Meta().ID != cj.ID {
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is %s", n.Name, cj.State)
	}
	with := n.With
	if len(with) == 0 {
		with = sqlOptions(cj.Options)
	}
	newPlan, err := e.planJob(n.Name, n.Insert, with)
	if err != nil {
		return nil, err
	}
	oldPlan := rj.Plan()
	cp, err := checkCarry("update", n.Name, oldPlan, newPlan, mappingOf(n.Mapping), fmt.Sprintf(updateHint, n.Name))
	if err != nil {
		return nil, err
	}

	// Accepted: stop the old launch at a bundle boundary.
	cj.State = catalog.JobUpdating
	if err := e.cat.PutJob(cj); err != nil {
		return nil, err
	}
	var held time.Duration
	if cp.NeedsQuiesce() {
		paused, err := rj.Pause(ctx, true)
		if err != nil {
			cj.State = catalog.JobRunning
			_ = e.cat.PutJob(cj)
			return nil, err
		}
		held = paused.Reach
	}
	pause0 := clock.Now()
	rj.Stop()
	<-lj.recorded
	stopped := clock.Now()
	restoreOld := func(cause error) error {
		cj.State, cj.EndedAt = catalog.JobRunning, 0
		if err := e.cat.PutJob(cj); err != nil {
			return err
		}
		if err := e.startJob(cj, oldPlan); err != nil {
			cj.State, cj.Error, cj.EndedAt = catalog.JobFailed, err.Error(), e.Now()
			_ = e.cat.PutJob(cj)
		}
		return cause
	}
	newID, err := e.cat.NextID()
	if err != nil {
		return nil, restoreOld(err)
	}
	ns := cj.StateNS
	var carried executor.CarryStats
	if !cp.Identity {
		if ns, err = e.cat.NextID(); err != nil {
			return nil, restoreOld(err)
		}
		if carried, err = executor.CarryNamespace(e.store, cj.StateNS, ns, cp, executor.CarryOptions{}); err != nil {
			_ = executor.DeleteNamespace(e.store, ns)
			return nil, restoreOld(err)
		}
	}
	carriedAt := clock.Now()
	nj := &catalog.Job{Name: n.Name, ID: newID, StateNS: ns, State: catalog.JobRunning, SQL: n.Insert.Text, Options: options(with),
		StartedAt: e.Now(), PrevID: cj.ID, Template: cj.Template}
	if err := e.cat.CreateJob(nj); err != nil {
		return nil, restoreOld(err)
	}
	cj.State, cj.EndedAt = catalog.JobUpdated, e.Now()
	if err := e.cat.PutJob(cj); err != nil {
		e.opts.Logf("job %s: recording the update of job id %d: %v", n.Name, cj.ID, err)
	}
	if err := e.startJob(nj, newPlan); err != nil {
		nj.State, nj.Error, nj.EndedAt = catalog.JobFailed, err.Error(), e.Now()
		_ = e.cat.PutJob(nj)
		return nil, restoreOld(err)
	}
	started := clock.Now()
	down := started.Sub(pause0) + held
	if !cp.Identity {
		if err := executor.DeleteJobState(e.store, cj.StateNS); err != nil {
			e.opts.Logf("job %s: deleting the state of job id %d: %v", n.Name, cj.ID, err)
		}
	}
	for i := range s.jobs {
		if s.jobs[i].name == n.Name {
			s.jobs[i].id = newID
			s.jobs[i].bounded = jobBounded(newPlan)
		}
	}
	how := "state kept in place"
	if !cp.Identity {
		how = fmt.Sprintf("state copied (%d keys, %d bytes)", carried.Keys, carried.Bytes)
	}
	r := time.Microsecond
	return &Result{Tag: "ALTER JOB", Notices: []string{fmt.Sprintf("job %s updated: job id %d -> %d, %s; stopped for %s (held %s, stop %s, carry %s, start %s), %s in all",
		n.Name, cj.ID, newID, how, down.Round(r), held.Round(r), stopped.Sub(pause0).Round(r), carriedAt.Sub(stopped).Round(r),
		started.Sub(carriedAt).Round(r), clock.Now().Sub(t0).Round(r))}}, nil
}

// explainUpdate shows what ALTER JOB n would do: the check's verdict and,
// per operator, how its state is matched (carried, new, dropped).
func (e *Engine) explainUpdate(n *sql.AlterJob) (string, error) {
	rj := e.runningJob(n.Name)
	cj, ok := e.cat.LiveJob(n.Name)
	if rj == nil || !ok {
		if _, any := e.cat.LatestJob(n.Name); any {
			return "", pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is not running", n.Name)
		}
		return "", pgerr.New(pgerr.UndefinedObject, "job %q does not exist", n.Name)
	}
	with := n.With
	if len(with) == 0 {
		with = sqlOptions(cj.Options)
	}
	newPlan, err := e.planJob(n.Name, n.Insert, with)
	if err != nil {
		return "", err
	}
	oldPlan := rj.Plan()
	matches, problems := planner.CompareForUpdate(oldPlan, newPlan, mappingOf(n.Mapping))
	cp := executor.PlanCarry(oldPlan, newPlan, matches)
	var b strings.Builder
	fmt.Fprintf(&b, "update of job %s (job id %d)\n", n.Name, rj.Meta().ID)
	switch {
	case len(problems) > 0:
		fmt.Fprintf(&b, "refused: %d operator(s) cannot carry their state over\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(&b, "  %s: %s\n", p.Operator, p.Reason)
		}
	case cp.Identity:
		b.WriteString("accepted: state, in-flight data and source positions stay in place\n")
	case cp.NeedsQuiesce():
		b.WriteString("accepted: in-flight rows are consumed first, then state is copied under the new names\n")
	default:
		b.WriteString("accepted: state, in-flight data and source positions are copied under the new names\n")
	}
	b.WriteString("operators:\n")
	for _, l := range cp.Report {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	b.WriteString("new plan:\n")
	for _, l := range strings.Split(strings.TrimRight(planner.ExplainJob(newPlan), "\n"), "\n") {
		fmt.Fprintf(&b, "  %s\n", l)
	}
	return b.String(), nil
}

// ---- restores and relaunches ----

func (s *Session) createJobFromSnapshot(ctx context.Context, n *sql.CreateJob) (*Result, error) {
	e := s.e
	unlock := e.lockJob(n.Name)
	defer unlock()
	snap, err := e.cat.GetSnapshot(n.FromSnapshot)
	if err != nil {
		return nil, err
	}
	if snap.ID == 0 || snap.SQL == "" {
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "snapshot %s holds no restorable state", snap.Name)
	}
	if lj, ok := e.cat.LiveJob(n.Name); ok {
		return nil, pgerr.New(pgerr.DuplicateObject, "job %q is already running (job id %d)", n.Name, lj.ID).
			WithHint("DRAIN JOB or CANCEL JOB %s first", n.Name)
	}
	oldPlan, err := e.planJobSQL(snap.Job, snap.SQL, snap.Options)
	if err != nil {
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "cannot plan the query of snapshot %s: %s", snap.Name, pgerr.Wrap(err).Message)
	}
	ins, with := n.Insert, n.With
	if ins == nil {
		st, err := sql.ParseOne(snap.SQL)
		if err != nil {
			return nil, err
		}
		var ok bool
		if ins, ok = st.(*sql.Insert); !ok {
			return nil, pgerr.New(pgerr.InternalError, "snapshot %s: stored job is not an INSERT", snap.Name)
		}
	}
	if len(with) == 0 {
		with = sqlOptions(snap.Options)
	}
	jplan, err := e.planJob(n.Name, ins, with)
	if err != nil {
		return nil, err
	}
	cp, err := checkCarryInflight("restore", n.Name, oldPlan, jplan, nil,
		fmt.Sprintf("The new query must keep the stateful operators of snapshot %s (job %s), as an update would.", snap.Name, snap.Job),
		func() (map[int]bool, error) { return executor.InflightStages(e.store, snap.ID, true) })
	if err != nil {
		return nil, err
	}
	id, err := e.cat.NextID()
	if err != nil {
		return nil, err
	}
	ns, err := e.cat.NextID()
	if err != nil {
		return nil, err
	}
	if _, err := executor.RestoreSnapshot(e.store, snap.ID, ns, cp, executor.CarryOptions{}); err != nil {
		_ = executor.DeleteNamespace(e.store, ns)
		return nil, err
	}
	j := &catalog.Job{Name: n.Name, ID: id, StateNS: ns, State: catalog.JobRunning, SQL: ins.Text, Options: options(with),
		StartedAt: e.Now(), Snapshot: snap.Name}
	if err := e.cat.CreateJob(j); err != nil {
		_ = executor.DeleteNamespace(e.store, ns)
		return nil, err
	}
	if err := e.startJob(j, jplan); err != nil {
		j.State, j.Error, j.EndedAt = catalog.JobFailed, err.Error(), e.Now()
		_ = e.cat.PutJob(j)
		return nil, err
	}
	s.jobs = append(s.jobs, sessionJob{name: n.Name, id: id, bounded: jobBounded(jplan)})
	return &Result{Tag: "CREATE JOB"}, nil
}

// continueLineage decides the state namespace of a new launch of name
// (job id id) planned as plan: when the newest launch of name ended DRAINED
// or CANCELLED, its namespace is carried (reopened after a drain) so the new
// launch continues exactly where it stopped; otherwise the launch starts
// afresh in namespace id. prevID is the continued launch's id, or 0.
func (e *Engine) continueLineage(name string, jplan *plan.JobPlan, id uint64) (ns, prevID uint64, err error) {
	prev, ok := e.cat.LatestJob(name)
	if !ok || (prev.State != catalog.JobDrained && prev.State != catalog.JobCancelled) {
		return id, 0, nil
	}
	oldPlan, err := e.planJobSQL(prev.Name, prev.SQL, prev.Options)
	if err != nil {
		// What it read is gone or changed beyond planning: nothing to continue.
		e.opts.Logf("job %s: not continuing job id %d: %v", name, prev.ID, err)
		return id, 0, nil
	}
	cp, err := checkCarryInflight("continue", name, oldPlan, jplan, nil,
		fmt.Sprintf("Launch %d of job %s ended %s; a new launch continues it and must keep its stateful operators. DROP JOB %s first to start from scratch.",
			prev.ID, name, prev.State, name),
		func() (map[int]bool, error) { return executor.InflightStages(e.store, prev.StateNS, false) })
	if err != nil {
		return 0, 0, err
	}
	reopen := executor.CarryOptions{Reopen: true}
	if cp.Identity {
		if _, err := executor.CarryNamespace(e.store, prev.StateNS, prev.StateNS, cp, reopen); err != nil {
			return 0, 0, err
		}
		return prev.StateNS, prev.ID, nil
	}
	if ns, err = e.cat.NextID(); err != nil {
		return 0, 0, err
	}
	if _, err := executor.CarryNamespace(e.store, prev.StateNS, ns, cp, reopen); err != nil {
		_ = executor.DeleteNamespace(e.store, ns)
		return 0, 0, err
	}
	return ns, prev.ID, nil
}

// dropJob forgets every launch of name and deletes their namespaces.
func (e *Engine) dropJob(name string) error {
	unlock := e.lockJob(name)
	defer unlock()
	var spaces []uint64
	seen := map[uint64]bool{}
	for _, j := range e.cat.JobsByName(name) {
		if !seen[j.StateNS] {
			seen[j.StateNS] = true
			spaces = append(spaces, j.StateNS)
		}
	}
	if err := e.cat.DropJob(name); err != nil {
		return err
	}
	for _, ns := range spaces {
		if err := executor.DeleteNamespace(e.store, ns); err != nil {
			return err
		}
	}
	return nil
}

// recoverLifecycle settles updates a crash interrupted, before live jobs
// resume: a launch left UPDATING ended UPDATED if its successor was
// recorded, and is RUNNING again otherwise.
func (e *Engine) recoverLifecycle() error {
	jobs := e.cat.Jobs()
	for _, j := range jobs {
		if j.State != catalog.JobUpdating {
			continue
		}
		j.State = catalog.JobRunning
		for _, k := range jobs {
			if k.PrevID == j.ID && k.Name == j.Name {
				j.State, j.EndedAt = catalog.JobUpdated, e.Now()
			}
		}
		if err := e.cat.PutJob(j); err != nil {
			return err
		}
	}
	return nil
}
