package executor

import (
	"context"
	"encoding/binary"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// This file pauses a running job at a bundle boundary and takes consistent
// snapshots of its state (CREATE SNAPSHOT). update.go carries a namespace's
// keys into a new plan (ALTER JOB ... UPDATE, CREATE JOB ... FROM SNAPSHOT,
// a relaunch after DRAIN or CANCEL).
//
// # Pausing
//
// Pause publishes a request; every worker checks it at the top of its loop,
// which is a bundle boundary: everything the previous bundle did is
// committed (state, timers, queue entries, progress) and nothing of the
// next has started. Stages park in topological order: a worker parks only
// once every upstream stage is fully parked, because a producer may be
// blocked on a downstream inbox (backpressure) in the middle of a bundle
// and needs its consumers to keep taking. With quiesce, a keyed worker also
// waits until its inbox is empty, so no queue entry is left in flight.
// When every live worker is parked the store holds a consistent cut of the
// job: each input record is either unread (after its source position), in
// a durable queue entry, or folded into state.
//
// # Snapshots
//
// Every commit of a worker is one atomic Pebble batch holding everything
// its bundle did, so the store only ever holds whole bundles: at any
// instant it is a consistent cut of the job, each worker at its last
// bundle boundary (the cut a crash would leave, from which every worker
// resumes; MillWheel's strong production). Capture therefore needs no
// worker to wait: it takes a Pebble snapshot (an O(1) point-in-time view,
// which sees a batch entirely or not at all) and the job never stops.
// Holding the workers at a boundary first (Pause) gives the same cut, only
// later: it waits for the bundles in progress, which under load takes as
// long as a bundle (measured: 0.1 to 9 s with 131072-row bundles), and
// buys nothing. Export then copies the job's keys from that view into the
// snapshot keyspace while the job runs on:
//
//	'S' id(8) prefix rest      a copy of the key prefix ns(8) rest of the job,
//	                           for prefix 's' state, 'T' timers, 'm' progress, 'q' queues
//
// Without WITH SOURCE the progress of source-stage workers is left out:
// restored sources start from their beginning (as a Flink source with no
// restored offsets starts from its configured start, here the earliest).

// snapPrefix starts every key of the snapshot keyspace.
const snapPrefix = 'S'

// jobPrefixes are the key prefixes of a job's namespace that snapshots and
// updates carry (dead letters 'D' stay with the launch that wrote them).
var jobPrefixes = []byte{'s', 'T', metaPrefix, queuePrefix}

func snapshotKeyPrefix(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{snapPrefix}, id)
}

// lifecycle is a job's pause machinery.
type lifecycle struct {
	once sync.Once
	sem  chan struct{} // one pause at a time
	req  atomic.Pointer[pauseReq]
}

func (l *lifecycle) init() { l.once.Do(func() { l.sem = make(chan struct{}, 1) }) }

// pauseReq is one pause in progress.
type pauseReq struct {
	quiesce bool
	parked  map[*stageRT]*atomic.Int32
	resume  chan struct{}
	notify  chan struct{} // a worker parked
}

// fullyParked reports whether every live worker of st is parked.
func (p *pauseReq) fullyParked(st *stageRT) bool {
	return p.parked[st].Load() >= st.live.Load()
}

// mayPark says whether w may park now: its upstream stages are all parked
// (or finished) and, when quiescing, it has nothing left to consume.
func (p *pauseReq) mayPark(w *worker) bool {
	for _, up := range w.st.upstreams {
		if !p.fullyParked(up) {
			return false
		}
	}
	if p.quiesce && w.st.source == nil && w.pending() > 0 {
		return false
	}
	return true
}

// pausePoint parks the worker while a pause is requested. It is called at
// the top of the worker loops, a bundle boundary.
func (w *worker) pausePoint() error {
	p := w.job.life.req.Load()
	if p == nil || !p.mayPark(w) {
		return nil
	}
	c := p.parked[w.st]
	c.Add(1)
	select {
	case p.notify <- struct{}{}:
	default:
	}
	if w.st.down != nil && p.fullyParked(w.st) {
		w.st.down.wakeWorkers()
	}
	select {
	case <-p.resume:
		return nil
	case <-w.job.ctx.Done():
		return errStopped
	}
}

// Paused is a job held at a bundle boundary.
type Paused struct {
	j      *Job
	p      *pauseReq
	at     time.Time
	Reach  time.Duration // how long the workers took to reach the boundary
	once   sync.Once
	resume time.Duration
}

// Resume lets the workers go on and returns how long the job was held in
// total (from the request to the resumption).
func (p *Paused) Resume() time.Duration {
	p.once.Do(func() {
		p.j.life.req.Store(nil)
		close(p.p.resume)
		<-p.j.life.sem
		p.resume = p.j.x.cfg.Env.Clock.Now().Sub(p.at)
	})
	return p.resume
}

// Pause holds every worker of the job at a bundle boundary (see the file
// comment); with quiesce, keyed workers first consume everything in flight.
// The caller must Resume, or Stop or Cancel the job. A draining or ended
// job cannot be paused (55000).
func (j *Job) Pause(ctx context.Context, quiesce bool) (*Paused, error) {
	j.life.init()
	select {
	case j.life.sem <- struct{}{}:
	case <-j.done:
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s has ended", j.meta.Name)
	case <-ctx.Done():
		return nil, pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	release := func() { <-j.life.sem }
	if j.draining.Load() {
		release()
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is draining", j.meta.Name)
	}
	clock := j.x.cfg.Env.Clock
	p := &pauseReq{quiesce: quiesce, parked: make(map[*stageRT]*atomic.Int32, len(j.stages)),
		resume: make(chan struct{}), notify: make(chan struct{}, 1)}
	for _, st := range j.stages {
		p.parked[st] = new(atomic.Int32)
	}
	h := &Paused{j: j, p: p, at: clock.Now()}
	j.life.req.Store(p)
	for _, st := range j.stages {
		st.wakeWorkers()
	}
	// A worker that finishes instead of parking does not notify: poll
	// rarely as a fallback (a wait, not processing time).
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		all := true
		for _, st := range j.stages {
			if !p.fullyParked(st) {
				all = false
				break
			}
		}
		if all {
			h.Reach = clock.Now().Sub(h.at)
			return h, nil
		}
		select {
		case <-p.notify:
		case <-tick.C:
		case <-j.done:
			h.Resume()
			return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s ended while pausing", j.meta.Name)
		case <-ctx.Done():
			h.Resume()
			return nil, pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
		}
	}
}

// Capture is a consistent, point-in-time view of a job's namespace (every
// worker at its last committed bundle boundary), to be exported into a
// snapshot.
type Capture struct {
	j    *Job
	snap *pebble.Snapshot
	// Pause is how long the job was held: the time to take the Pebble
	// snapshot, during which workers cannot commit.
	Pause time.Duration
}

// Capture takes a consistent view of the job's committed state without
// stopping it (see the file comment). With hold, the workers are first
// held at their next bundle boundary (Pause) and released right after the
// view is taken: the same cut, at the cost of waiting for the bundles in
// progress. Close the Capture after exporting it.
func (j *Job) Capture(ctx context.Context, hold bool) (*Capture, error) {
	clock := j.x.cfg.Env.Clock
	t0 := clock.Now()
	select {
	case <-j.done:
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s has ended", j.meta.Name)
	default:
	}
	if !hold {
		snap := j.x.cfg.Store.DB().NewSnapshot()
		return &Capture{j: j, snap: snap, Pause: clock.Now().Sub(t0)}, nil
	}
	p, err := j.Pause(ctx, false)
	if err != nil {
		return nil, err
	}
	snap := j.x.cfg.Store.DB().NewSnapshot()
	return &Capture{j: j, snap: snap, Pause: p.Resume()}, nil
}

// Close releases the Pebble snapshot.
func (c *Capture) Close() {
	if c.snap != nil {
		_ = c.snap.Close()
		c.snap = nil
	}
}

// SnapshotStats describes an exported snapshot.
type SnapshotStats struct {
	Keys, Bytes int64
	Operators   []string // the stateful operators of the job
	Copy        time.Duration
}

// Export copies the captured namespace into snapshot keyspace id. Without
// withSource the source stages' progress (their positions) is left out.
func (c *Capture) Export(ctx context.Context, id uint64, withSource bool) (SnapshotStats, error) {
	j := c.j
	st := j.x.cfg.Store
	t0 := j.x.cfg.Env.Clock.Now()
	sourceStage := map[uint16]bool{}
	for _, s := range j.plan.Stages {
		if s.Source != nil {
			sourceStage[uint16(s.ID)] = true
		}
	}
	var stats SnapshotStats
	stats.Operators = statefulOpNames(j.plan)
	w := newBulkWriter(st)
	base := snapshotKeyPrefix(id)
	for _, prefix := range jobPrefixes {
		lo := nsKey(prefix, j.meta.StateNS, 0)
		err := scanView(c.snap, lo, state.PrefixEnd(lo), func(k, v []byte) error {
			rest := k[9:]
			// Without source positions, a source stage starts over: its
			// units' progress is left out and its unit table restarts with
			// one whole range per partition, under fresh unit ids (queue
			// entries the old units produced may still be in flight).
			if !withSource && prefix == metaPrefix && len(rest) >= 3 && sourceStage[binary.BigEndian.Uint16(rest[1:3])] {
				switch rest[0] {
				case metaWorker:
					return nil
				case metaUnits:
					t, err := decodeUnitTable(v)
					if err != nil {
						return err
					}
					t = restartSourceUnits(t)
					v = t.encode()
				}
			}
			key := make([]byte, 0, len(base)+1+len(rest))
			key = append(append(append(key, base...), prefix), rest...)
			stats.Keys++
			stats.Bytes += int64(len(key) + len(v))
			if stats.Keys%4096 == 0 && ctx.Err() != nil {
				return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
			}
			return w.set(key, v)
		})
		if err != nil {
			w.abort()
			DeleteSnapshot(st, id)
			return stats, err
		}
	}
	if err := w.finish(); err != nil {
		DeleteSnapshot(st, id)
		return stats, err
	}
	stats.Copy = j.x.cfg.Env.Clock.Now().Sub(t0)
	return stats, nil
}

// DeleteSnapshot removes snapshot keyspace id (best effort).
func DeleteSnapshot(st *state.Store, id uint64) error {
	p := snapshotKeyPrefix(id)
	b := st.NewBatch()
	b.DeleteRange(p, state.PrefixEnd(p))
	return st.Commit(b)
}

// SnapshotSourcePositions returns the source positions held by snapshot
// id: stage id -> worker -> next offset to read (empty without source).
func SnapshotSourcePositions(st *state.Store, id uint64) (map[int]map[int]int64, error) {
	out := map[int]map[int]int64{}
	p := append(snapshotKeyPrefix(id), metaPrefix, metaWorker)
	err := st.Scan(p, state.PrefixEnd(p), func(k, v []byte) error {
		rest := k[len(p):]
		if len(rest) != 6 {
			return nil
		}
		var m workerMeta
		if !m.decode(v) {
			return errCorruptMeta
		}
		if !m.Source {
			return nil
		}
		stage := int(binary.BigEndian.Uint16(rest))
		if out[stage] == nil {
			out[stage] = map[int]int64{}
		}
		out[stage][int(binary.BigEndian.Uint32(rest[2:]))] = m.Offset
		return nil
	})
	return out, err
}

// DumpKeys returns every key and value of namespace ns under the given
// prefixes, keyed by prefix byte + the part after ns (tests compare a
// restored namespace with its snapshot this way).
func DumpKeys(st *state.Store, ns uint64, prefixes string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(prefixes); i++ {
		lo := nsKey(prefixes[i], ns, 0)
		err := st.Scan(lo, state.PrefixEnd(lo), func(k, v []byte) error {
			out[string(prefixes[i])+string(k[9:])] = string(v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DumpSnapshotKeys is DumpKeys over snapshot keyspace id.
func DumpSnapshotKeys(st *state.Store, id uint64, prefixes string) (map[string]string, error) {
	out := map[string]string{}
	for i := 0; i < len(prefixes); i++ {
		lo := append(snapshotKeyPrefix(id), prefixes[i])
		err := st.Scan(lo, state.PrefixEnd(lo), func(k, v []byte) error {
			out[string(k[9:])] = string(v)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func statefulOpNames(p *plan.JobPlan) []string {
	var out []string
	for _, st := range p.Stages {
		for _, op := range st.Ops {
			if op.Stateful() {
				out = append(out, op.OpName())
			}
		}
	}
	return out
}

// scanView iterates [lo, hi) of a Pebble snapshot.
func scanView(r pebble.Reader, lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return pgerr.New(pgerr.IOError, "snapshot: %v", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return pgerr.New(pgerr.IOError, "snapshot: %v", err)
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return pgerr.New(pgerr.IOError, "snapshot: %v", err)
	}
	return nil
}

// bulkWriter writes many keys in batches of a few MB. Only the last commit
// matters for durability (Store.Commit syncs each); nothing refers to the
// keys before the caller records them in the catalog.
type bulkWriter struct {
	st *state.Store
	b  *state.Batch
}

const bulkBatchBytes = 8 << 20

func newBulkWriter(st *state.Store) *bulkWriter { return &bulkWriter{st: st, b: st.NewBatch()} }

func (w *bulkWriter) set(k, v []byte) error {
	w.b.Set(k, v)
	if w.b.Len() >= bulkBatchBytes {
		if err := w.st.Commit(w.b); err != nil {
			return err
		}
		w.b.Reset()
	}
	return nil
}

func (w *bulkWriter) del(k []byte) error {
	w.b.Delete(k)
	if w.b.Len() >= bulkBatchBytes {
		if err := w.st.Commit(w.b); err != nil {
			return err
		}
		w.b.Reset()
	}
	return nil
}

func (w *bulkWriter) finish() error {
	defer w.b.Close()
	if w.b.Empty() {
		return nil
	}
	return w.st.Commit(w.b)
}

func (w *bulkWriter) abort() { w.b.Close() }

// restartSourceUnits is a source stage's unit table started over: one
// range per partition, whole, under ids not used before.
func restartSourceUnits(t unitTable) unitTable {
	parts := map[int32]int32{}
	var order []int32
	for _, u := range t.Units {
		if _, ok := parts[u.Part]; !ok {
			parts[u.Part] = u.Worker
			order = append(order, u.Part)
		}
	}
	sort.Slice(order, func(a, b int) bool { return order[a] < order[b] })
	out := unitTable{NextID: t.NextID}
	for _, p := range order {
		out.Units = append(out.Units, unit{ID: out.NextID, Part: p, Hi: -1, Worker: parts[p]})
		out.NextID++
	}
	return out
}
