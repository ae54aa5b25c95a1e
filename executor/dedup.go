package executor

// Exactly-once delivery: fingerprints of consumed records.
//
// # Record ids
//
// Every record entering a stage has a stable id. A source record's id is
// (source, partition, offset): offsets are dense and ordered within a
// partition and the worker commits the next offset with every bundle, so the
// committed position is itself the exact fingerprint set of a source stage
// ("seen" means offset < committed next offset); a reader that hands back a
// record below it (or out of order within a bundle) has it dropped and
// counted.
//
// A record delivered to a keyed stage travels inside a queue entry, the
// output of one producer bundle for one key range, keyed
// (stage, dest, fromStage, from, seq); record i of it has id
// (fromStage, from, seq, i). Entries are consumed whole, in one bundle, so the
// consumer fingerprints entries: id = (fromStage, from, seq), the last 14
// bytes of the queue key. The fingerprint is written in the consuming
// bundle's batch, with the deletion of the entry (the acknowledgement), the
// state changes and the outputs. An entry delivered again after that (a
// producer's retry, a stale copy still in an inbox, a re-scan of the queue,
// an entry written back after a crash) is dropped, its key deleted again,
// and counted (Job.DuplicatesDropped). Both delivery paths go through
// admit: entries handed over in memory after their producer's commit, and
// entries re-read from the queue at start.
//
// # Store and filters
//
// Fingerprints live in Pebble under the consumer's key range, cut into
// slices (see keys.go):
//
//	'm' ns 'f' stage(2) bucket(2) slice(8) fromStage(2) from(4) seq(8) -> empty
//
// Fingerprints are keyed by the bucket of the entry they fingerprint, so
// the fingerprints of a key range are one span and follow the range when it
// splits, merges or moves: a successor rebuilds its filters from its span
// exactly as at a restart. Slice ids are unique per stage (the creating
// unit's id in the high half), so slices of different predecessors never
// mix.
//
// Each slice has an in-memory Bloom filter (bits-and-blooms/bloom) in front
// of it. A filter's "no" is certain and costs no I/O; a "maybe" (a false
// positive, about 1%, or a real duplicate) reads the exact key from Pebble.
// One slice is open at a time; it closes after fpSliceAge of processing time
// (the injected clock), after fpSliceBundles bundles, or when it holds as
// many fingerprints as its filter was sized for. A new filter is sized from
// the rate observed over the previous slice. At start the filters are
// rebuilt from the live slices in Pebble.
//
// # Garbage collection
//
// Whole slices are deleted (one range deletion in a bundle's batch) once no
// retry of what they fingerprint can arrive. The protocol makes that a
// question of the producers' committed progress: an entry is re-delivered
// only by its producer after the commit that wrote it and before that
// producer's next commit publishes (the in-memory hand-over, or its retry),
// or by re-reading the durable queue, which no longer holds an entry once
// the consumer's commit acknowledged it. So when a slice closes it records
// every upstream worker's published commit sequence number; once each of
// them has published two more commits (or finished), every copy of every
// entry of the slice was handed over before the consumer took its inbox, was
// therefore checked against the slice, and the slice goes. The check reads
// the producers' progress before the inbox is taken, so a retry handed over
// after that read is still checked against the slice in this bundle.
//
// # Test hooks
//
// testHooks.alwaysMaybe makes every filter answer "maybe" (every admit
// reads Pebble); testHooks.dropFilters discards the filters at start instead
// of rebuilding them (the exact store alone must catch duplicates then).

import (
	"encoding/binary"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bits-and-blooms/bloom/v3"
	"github.com/weir-sql/weir/state"
)

const (
	// fpFalsePositive is the target false-positive rate of a slice's filter.
	fpFalsePositive = 0.01
	// fpMinCapacity is the smallest number of fingerprints a filter is
	// sized for (about 1.2 KiB).
	fpMinCapacity = 1024
	// fpMaxCapacity caps a filter's planned size (about 5 MiB at 1%).
	fpMaxCapacity = 4 << 20
	// fpSliceAge is the processing time one slice covers at most.
	fpSliceAge = 10 * time.Second
	// fpSliceBundles is the number of bundles one slice covers at most.
	fpSliceBundles = 4096
	// fpIDLen is the length of an entry id: fromStage(2) from(4) seq(8).
	fpIDLen = 14
)

// fpSlice is one slice of a worker's fingerprints.
type fpSlice struct {
	id      uint64
	filter  *bloom.BloomFilter // nil: always "maybe"
	cap     int                // fingerprints the filter was sized for
	n       int                // fingerprints added
	bundles int
	opened  time.Time
	closed  bool
	// marks are the upstream units' published commit sequence numbers
	// when the slice closed (nil for a slice restored at start until the
	// first bundle sets them). A unit no longer running (retired by a
	// reconfiguration) has handed over everything it will ever send.
	marks map[*worker]uint64
}

// producerObs is a producer's progress as observed before an inbox take.
type producerObs struct {
	seq  uint64
	done bool
}

// dedup is a worker's fingerprinting: the committed source position of a
// source worker, or the fingerprint slices of a keyed worker's key range.
type dedup struct {
	w        *worker
	off      bool // fingerprinting disabled (Config.NoFingerprints)
	hooks    *testHooks
	dropped  atomic.Int64 // duplicates dropped
	admitted atomic.Int64 // entries admitted (fingerprinted)
	maybes   atomic.Int64 // filter "maybe" answers that read Pebble
	falsePo  atomic.Int64 // of those, ids not found (filter false positives)
	nslices  atomic.Int32 // len(slices), for DedupStats

	// source workers: the smallest offset not yet consumed.
	srcNext int64

	// keyed workers.
	prefix  []byte     // 'm' ns 'f' stage
	slices  []*fpSlice // oldest first; the last one is open
	pending map[string]struct{}
	obs     map[*worker]producerObs // producers' progress, read before the take
	key     []byte                  // scratch
}

var errCorruptFingerprint = errors.New("executor: corrupt fingerprint key")

func newDedup(w *worker) (*dedup, error) {
	cfg := &w.job.x.cfg
	d := &dedup{w: w, off: cfg.NoFingerprints, hooks: cfg.hooks}
	if w.st.source != nil {
		d.srcNext = w.meta.Offset
		return d, nil
	}
	d.prefix = fingerprintStagePrefix(w.job.meta.StateNS, w.st.plan.ID)
	d.obs = make(map[*worker]producerObs)
	d.pending = make(map[string]struct{})
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

// load restores the live slices from Pebble (rebuilding their filters) and
// opens a new slice after them.
func (d *dedup) load() error {
	ids := map[uint64][][]byte{}
	var order []uint64
	lo := binary.BigEndian.AppendUint16(append([]byte(nil), d.prefix...), uint16(d.w.b0))
	hi := binary.BigEndian.AppendUint16(append([]byte(nil), d.prefix...), uint16(d.w.b1))
	err := d.w.job.x.cfg.Store.Scan(lo, hi, func(k, _ []byte) error {
		rest := k[len(d.prefix):]
		if len(rest) != 2+8+fpIDLen {
			return errCorruptFingerprint
		}
		s := binary.BigEndian.Uint64(rest[2:])
		if _, ok := ids[s]; !ok {
			order = append(order, s)
		}
		// The filter's identity of an entry: its bucket and id (one
		// producer bundle writes one entry per bucket, under one id).
		fid := append(append([]byte(nil), rest[:2]...), rest[10:]...)
		ids[s] = append(ids[s], fid)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(order, func(a, b int) bool { return order[a] < order[b] })
	own := uint64(d.w.idx) << 32
	next := own | 1
	for _, s := range order {
		if s&^0xffffffff == own && s >= next {
			next = s + 1
		}
		sl := &fpSlice{id: s, n: len(ids[s]), cap: len(ids[s]), closed: true}
		if d.hooks == nil || !d.hooks.dropFilters {
			sl.filter = newFilter(len(ids[s]))
			for _, id := range ids[s] {
				sl.filter.Add(id)
			}
		}
		d.slices = append(d.slices, sl)
	}
	d.open(next, fpMinCapacity)
	d.nslices.Store(int32(len(d.slices)))
	return nil
}

func newFilter(n int) *bloom.BloomFilter {
	if n < fpMinCapacity {
		n = fpMinCapacity
	}
	return bloom.NewWithEstimates(uint(n), fpFalsePositive)
}

func (d *dedup) open(id uint64, capacity int) {
	if capacity > fpMaxCapacity {
		capacity = fpMaxCapacity
	}
	if capacity < fpMinCapacity {
		capacity = fpMinCapacity
	}
	d.slices = append(d.slices, &fpSlice{id: id, filter: newFilter(capacity), cap: capacity, opened: d.w.job.x.cfg.Env.Clock.Now()})
}

func (d *dedup) cur() *fpSlice { return d.slices[len(d.slices)-1] }

// sourceSeen reports whether a source record at offset was consumed
// already (at or after the committed position every offset is new; within
// a bundle offsets must increase).
func (d *dedup) sourceSeen(offset int64) bool {
	if d.off {
		return false
	}
	if offset < d.srcNext {
		d.dropped.Add(1)
		return true
	}
	d.srcNext = offset + 1
	return false
}

// observe reads the upstream workers' progress; keyed workers call it
// before taking their inbox.
func (d *dedup) observe() {
	if d.off {
		return
	}
	clear(d.obs)
	for _, up := range d.w.st.upstreams {
		for _, p := range up.list() {
			d.obs[p] = producerObs{seq: p.pubSeq.Load(), done: p.pubWM.Load() == maxWM}
		}
	}
}

// admit decides whether the queue entry with key qkey is new. A new entry's
// fingerprint is added to the open slice and to the worker's batch; a
// duplicate is counted and must be dropped (its key deleted again).
func (d *dedup) admit(qkey []byte) (dup bool, err error) {
	if d.off {
		return false, nil
	}
	id := qkey[len(qkey)-fpIDLen:]
	bucket := bucketOfKey(qkey)
	fid := qkey[len(qkey)-fpIDLen-2:] // bucket and id
	if _, ok := d.pending[string(fid)]; ok {
		d.dropped.Add(1)
		return true, nil
	}
	store := d.w.job.x.cfg.Store
	always := d.hooks != nil && d.hooks.alwaysMaybe
	for i := len(d.slices) - 1; i >= 0; i-- {
		s := d.slices[i]
		if s.filter != nil && !always && !s.filter.Test(fid) {
			continue
		}
		d.maybes.Add(1)
		_, found, err := store.Get(d.fpKey(s.id, bucket, id))
		if err != nil {
			return false, err
		}
		if found {
			d.dropped.Add(1)
			return true, nil
		}
		if s.filter != nil && !always {
			d.falsePo.Add(1)
		}
	}
	c := d.cur()
	if c.n >= c.cap {
		// Full: a filter past its planned size loses its precision.
		d.rotate(d.w.job.x.cfg.Env.Clock.Now())
		c = d.cur()
	}
	d.w.batch.Set(d.fpKey(c.id, bucket, id), nil)
	c.filter.Add(fid)
	c.n++
	d.admitted.Add(1)
	d.pending[string(fid)] = struct{}{}
	return false, nil
}

// rotate closes the open slice and opens the next, sized for the rate
// observed over the closed one (projected to a full slice of time).
func (d *dedup) rotate(now time.Time) {
	c := d.cur()
	c.closed = true
	c.marks = d.marksNow()
	want := c.n
	age := now.Sub(c.opened)
	if age > 0 && age < fpSliceAge && c.n >= c.cap {
		// Filled early: plan for the rate over a whole slice of time.
		if r := float64(c.n) * float64(fpSliceAge) / float64(age); r > float64(want) {
			want = int(min(r, fpMaxCapacity))
		}
	}
	d.open(c.id+1, want+want/4)
}

func (d *dedup) fpKey(slice uint64, bucket int, id []byte) []byte {
	d.key = append(d.key[:0], d.prefix...)
	d.key = binary.BigEndian.AppendUint16(d.key, uint16(bucket))
	d.key = binary.BigEndian.AppendUint64(d.key, slice)
	return append(d.key, id...)
}

// endBundle runs before a keyed worker's commit: it rotates the open slice
// and adds the deletion of every slice no retry can reach any more to the
// batch.
func (d *dedup) endBundle() {
	if d.off {
		return
	}
	clear(d.pending)
	c := d.cur()
	c.bundles++
	// Marks for slices restored at start: the producers' progress now.
	for _, s := range d.slices {
		if s.closed && s.marks == nil {
			s.marks = d.marksNow()
		}
	}
	now := d.w.job.x.cfg.Env.Clock.Now()
	age := now.Sub(c.opened)
	sliceAge, sliceBundles := fpSliceAge, fpSliceBundles
	if h := d.hooks; h != nil && h.sliceBundles > 0 {
		sliceBundles = h.sliceBundles
	}
	if c.n > 0 && (c.n >= c.cap || age >= sliceAge || c.bundles >= sliceBundles) {
		d.rotate(now)
	}
	// Retire closed slices, oldest first, once every producer has published
	// two commits past the slice's marks (or finished).
	for len(d.slices) > 1 && d.slices[0].closed && d.retirable(d.slices[0]) {
		s := d.slices[0]
		for b := d.w.b0; b < d.w.b1; b++ {
			lo := binary.BigEndian.AppendUint16(append([]byte(nil), d.prefix...), uint16(b))
			lo = binary.BigEndian.AppendUint64(lo, s.id)
			d.w.batch.DeleteRange(lo, state.PrefixEnd(lo))
		}
		d.slices = d.slices[1:]
	}
	d.nslices.Store(int32(len(d.slices)))
}

func (d *dedup) marksNow() map[*worker]uint64 {
	m := make(map[*worker]uint64)
	for _, up := range d.w.st.upstreams {
		for _, p := range up.list() {
			m[p] = p.pubSeq.Load()
		}
	}
	return m
}

func (d *dedup) retirable(s *fpSlice) bool {
	if h := d.hooks; h != nil && h.keepSlices > 0 && len(d.slices)-1 <= h.keepSlices {
		return false
	}
	for p, mark := range s.marks {
		o, ok := d.obs[p]
		if !ok {
			continue // retired: everything it sent was handed over
		}
		if !o.done && o.seq < mark+2 {
			return false
		}
	}
	return true
}

// DedupStats are a job's fingerprinting counters in this process.
type DedupStats struct {
	// Dropped counts records (source) and queue entries (keyed stages)
	// dropped because they had been consumed before.
	Dropped int64
	// Maybes counts filter answers that read the exact store; FalsePositives
	// those of them that found nothing.
	Maybes, FalsePositives int64
	// Slices counts the fingerprint slices held by keyed workers.
	Slices int
	// Admitted counts the queue entries fingerprinted.
	Admitted int64
}

// retiredDedup holds the fingerprinting counters of units retired by
// reconfigurations, so that DedupStats still counts them.
type retiredDedup struct {
	sync.Mutex
	s DedupStats
}

func (r *retiredDedup) add(d *dedup) {
	if d == nil {
		return
	}
	r.Lock()
	r.s.Dropped += d.dropped.Load()
	r.s.Admitted += d.admitted.Load()
	r.s.Maybes += d.maybes.Load()
	r.s.FalsePositives += d.falsePo.Load()
	r.Unlock()
}

// DedupStats sums the job's fingerprinting counters (this process only).
func (j *Job) DedupStats() DedupStats {
	j.retiredDedup.Lock()
	s := j.retiredDedup.s
	j.retiredDedup.Unlock()
	for _, st := range j.stages {
		for _, w := range st.list() {
			if w.dedup == nil {
				continue
			}
			s.Dropped += w.dedup.dropped.Load()
			s.Admitted += w.dedup.admitted.Load()
			s.Maybes += w.dedup.maybes.Load()
			s.FalsePositives += w.dedup.falsePo.Load()
			if w.st.source == nil {
				s.Slices += int(w.dedup.nslices.Load())
			}
		}
	}
	return s
}

// DuplicatesDropped is the number of re-delivered records and queue entries
// the job dropped in this process.
func (j *Job) DuplicatesDropped() int64 { return j.DedupStats().Dropped }
