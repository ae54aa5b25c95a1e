package state

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/btree"
	"github.com/weir-sql/weir/pgerr"
)

// Domain is the time domain of a timer.
type Domain byte

const (
	// EventTime timers fire when the input watermark passes them.
	EventTime Domain = 'e'
	// ProcessingTime timers fire when the (injected) wall clock passes them.
	ProcessingTime Domain = 'p'
)

// Timer is a timer due at TS for the grouping key Key (whose hash is Hash).
type Timer struct {
	TS   int64
	Hash uint64
	Key  []byte
}

// ErrTimersClosed is returned by a Timers after Close.
var ErrTimersClosed = pgerr.New(pgerr.ObjectNotInPrerequisiteState, "state: timers closed")

// DefaultTimerMemoryLimit is the number of timers a Timers keeps in memory
// unless SetMemoryLimit says otherwise.
const DefaultTimerMemoryLimit = 1 << 20

// Timers holds the timers of one operator, in one time domain, for one key
// range [hashLo, hashHi) (hashHi == 0: to the end). A timer is identified
// by (TS, hash, key): a key may have many timers, and setting the same one
// twice is one timer.
//
//	t := state.NewTimers(store, ns, "win", state.EventTime, lo, hi)
//	defer t.Close()
//	if err := t.Load(); err != nil { ... }
//	t.Set(windowEnd, h, k)
//	err := t.PopDue(watermark, func(tm state.Timer) error { ... fire ... })
//	t.Flush(b) // then store.Commit(b)
//
// Timers are journaled in Pebble under TimerKey, which sorts by (TS, hash,
// key). In memory a Timers keeps exactly the timers below its horizon (a
// timer identity): every live timer before the horizon is in the btree,
// none at or after it is. When the btree outgrows the memory limit the
// horizon is lowered and the tail dropped (it is in Pebble, or in ops, see
// below). When fewer than half a slice remains, a loader goroutine reads the
// next slice (half the limit) from Pebble, so firing does not wait on
// storage in the common case. (The margin before the horizon is counted in
// timers rather than in time: that bounds memory whatever the timers'
// spacing.) If PopDue or Next needs timers past the horizon before the
// loader is done, it waits for it.
//
// The journal is ordered by time first, so a load reads the timers of every
// key range of the operator and skips the others': with R ranges, loading
// costs R times the timers it keeps. That buys firing in time order with one
// sequential read per slice.
//
// A loader reads a Pebble snapshot that may predate recent commits, and
// writes not flushed yet are not in Pebble at all. So every Set and Delete is
// also kept in ops, by identity, until it has been flushed, its batch has
// committed, and no loader that started before that commit is running; a
// loaded slice is installed with ops applied over it. (This is why the batch
// must report commits: see Batch.OnCommit.)
//
// A Timers is used by one worker goroutine; Close, and the commit hook of a
// batch it flushed into, may run in other goroutines.
type Timers struct {
	s      *Store
	prefix []byte // TimerKeyPrefix(ns, op, d)
	lo, hi uint64
	wg     sync.WaitGroup // running loaders
	// testingLoadHook, if set, runs in the loader once its Pebble snapshot
	// is taken. Tests use it to hold a load while commits happen.
	testingLoadHook func()

	mu struct {
		// mu guards everything below. It is never held during Pebble I/O (the
		// loader reads without it and hands its result over in a timerLoad)
		// nor while PopDue's callback runs; adding writes to a batch (memory
		// only) happens under it.
		sync.Mutex
		// mem holds every live timer with identity < horizon (every one, if
		// all), as timer identities: TimerKey without the prefix, whose byte
		// order is (TS, hash, key) order.
		mem     *btree.BTreeG[string]
		horizon string // "" (the smallest identity) until the first load
		all     bool
		// ops are the Sets and Deletes a Pebble reader might not see yet.
		ops map[string]timerOp
		// pending lists the identities whose op is not flushed yet.
		pending []string
		// gen counts flushes; committed is the last generation whose batch
		// committed (batches of one worker commit in flush order).
		gen, committed uint64
		load           *timerLoad // the running loader, if any
		stats          TimerStats
		limit          int
		err            error // sticky loader error, returned by PopDue
		closed         bool
	}
}

type timerOp struct {
	set     bool   // Set (true) or Delete (false)
	gen     uint64 // the flush that journaled it; 0: not flushed yet
	pending bool   // listed in pending
}

// timerLoad is one run of the loader: it reads the timers of the range from
// identity from on, up to n of them. The loader fills the result fields and
// then closes done; only then may anyone else read them.
type timerLoad struct {
	from     string
	n        int
	snapshot uint64 // t.mu.committed when the load started
	cancel   atomic.Bool
	done     chan struct{}

	ids  []string // loaded identities, ascending
	next string   // first identity not loaded, unless all
	all  bool     // ids reach the end of the journal
	err  error
}

// NewTimers returns the timers of operator op in domain d for the key range
// [hashLo, hashHi). It holds no timers in memory until Load or the first
// PopDue or Next loads them.
func NewTimers(s *Store, ns uint64, op string, d Domain, hashLo, hashHi uint64) *Timers {
	t := &Timers{s: s, prefix: TimerKeyPrefix(ns, op, d), lo: hashLo, hi: hashHi}
	t.mu.mem = btree.NewG(32, func(a, b string) bool { return a < b })
	t.mu.ops = make(map[string]timerOp)
	t.mu.limit = DefaultTimerMemoryLimit
	s.mu.Lock()
	s.mu.timers[t] = struct{}{}
	s.mu.Unlock()
	return t
}

// Load (re)loads the range's timers from Pebble, at start or after a range
// move: it drops what is in memory and reads the first slice synchronously.
// Writes not yet committed are kept and applied over what is read.
func (t *Timers) Load() error {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return ErrTimersClosed
	}
	t.cancelLoadLocked()
	t.mu.mem.Clear(false)
	t.mu.horizon, t.mu.all, t.mu.err = "", false, nil
	ld := t.startLoadLocked()
	t.mu.stats.Waits++
	t.mu.Unlock()
	<-ld.done
	t.mu.Lock()
	defer t.mu.Unlock()
	t.installLocked(ld)
	return t.mu.err
}

// SetMemoryLimit sets how many timers to keep in memory (at least 1).
func (t *Timers) SetMemoryLimit(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.limit = max(n, 1)
	t.trimLocked()
}

// Set sets the timer (ts, key). Setting an existing timer again is a no-op.
// The journal write is added to the batch at the next Flush.
func (t *Timers) Set(ts int64, hash uint64, key []byte) {
	id := t.id(ts, hash, key)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recordLocked(id, true)
	if t.belowHorizonLocked(id) {
		t.mu.mem.ReplaceOrInsert(id)
		t.trimLocked()
	}
}

// Delete deletes the timer (ts, key), if set.
func (t *Timers) Delete(ts int64, hash uint64, key []byte) {
	id := t.id(ts, hash, key)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recordLocked(id, false)
	t.mu.mem.Delete(id)
}

func (t *Timers) id(ts int64, hash uint64, key []byte) string {
	if !InRange(hash, t.lo, t.hi) {
		panic("state: timer hash outside the key range of its Timers")
	}
	var sb strings.Builder
	sb.Grow(16 + len(key))
	var b [16]byte
	appendTimerID(b[:0], ts, hash, nil)
	sb.Write(b[:])
	sb.Write(key)
	return sb.String()
}

// PopDue calls fn for every timer with TS < limit, in (TS, hash, key) order,
// removing each before its call (the deletion is journaled at the next
// Flush). fn may Set and Delete timers; one set before limit fires in this
// same call, in order. An error from fn stops PopDue and is returned; the
// timer it was called for stays removed.
func (t *Timers) PopDue(limit int64, fn func(Timer) error) error {
	for {
		t.mu.Lock()
		if t.mu.closed {
			t.mu.Unlock()
			return ErrTimersClosed
		}
		t.pollLocked()
		if err := t.mu.err; err != nil {
			t.mu.Unlock()
			return err
		}
		if id, ok := t.mu.mem.Min(); ok {
			if idTS(id) >= limit {
				t.prefetchLocked()
				t.mu.Unlock()
				return nil
			}
			t.mu.mem.DeleteMin()
			t.recordLocked(id, false)
			t.prefetchLocked()
			t.mu.Unlock()
			if err := fn(decodeTimerID(id)); err != nil {
				return err
			}
			continue
		}
		// Memory is empty: due timers may lie past the horizon.
		if t.mu.all || idTS(t.mu.horizon) >= limit {
			t.mu.Unlock()
			return nil
		}
		t.waitLoadLocked() // unlocks
	}
}

// Next returns the TS of the earliest timer, if there is one, loading from
// Pebble if memory holds none. After a loader error it returns a lower bound
// (and PopDue returns the error). After Close it reports none.
func (t *Timers) Next() (int64, bool) {
	for {
		t.mu.Lock()
		if t.mu.closed {
			t.mu.Unlock()
			return 0, false
		}
		t.pollLocked()
		if id, ok := t.mu.mem.Min(); ok {
			t.mu.Unlock()
			return idTS(id), true
		}
		if t.mu.all {
			t.mu.Unlock()
			return 0, false
		}
		if t.mu.err != nil {
			ts := idTS(t.mu.horizon)
			t.mu.Unlock()
			return ts, true
		}
		t.waitLoadLocked() // unlocks
	}
}

// Len returns the number of timers in memory: every pending timer below the
// horizon. Timers past the horizon are not counted; use Next to learn
// whether any timer is pending.
func (t *Timers) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pollLocked()
	return t.mu.mem.Len()
}

// TimerStats counts a Timers' loads, for metrics and tests.
type TimerStats struct {
	Loads int64 // slices read from Pebble (Load's included)
	Waits int64 // times PopDue, Next or Load waited for a slice
	Trims int64 // times the memory limit lowered the horizon
}

// Stats returns the counters so far.
func (t *Timers) Stats() TimerStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.stats
}

// Flush adds the Sets and Deletes since the last Flush to b, once per bundle
// commit.
func (t *Timers) Flush(b *Batch) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.mu.pending) == 0 {
		return
	}
	t.mu.gen++
	gen := t.mu.gen
	var kbuf []byte
	// In key order, as in ValueState.FlushRange.
	slices.Sort(t.mu.pending)
	for _, id := range t.mu.pending {
		op := t.mu.ops[id]
		kbuf = append(append(kbuf[:0], t.prefix...), id...)
		if op.set {
			b.Set(kbuf, nil)
		} else {
			b.Delete(kbuf)
		}
		op.gen, op.pending = gen, false
		t.mu.ops[id] = op
	}
	clear(t.mu.pending)
	t.mu.pending = t.mu.pending[:0]
	b.OnCommit(func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.mu.committed = max(t.mu.committed, gen)
		t.pruneLocked()
	})
}

// Close stops the loader and waits for it. The Timers must not be used
// afterwards (PopDue returns ErrTimersClosed). Store.Close closes every open
// Timers.
func (t *Timers) Close() {
	t.mu.Lock()
	if t.mu.closed {
		t.mu.Unlock()
		return
	}
	t.mu.closed = true
	t.cancelLoadLocked()
	t.mu.Unlock()
	t.wg.Wait()
	t.s.mu.Lock()
	delete(t.s.mu.timers, t)
	t.s.mu.Unlock()
}

// recordLocked notes a Set or Delete in ops, to journal at the next Flush.
func (t *Timers) recordLocked(id string, set bool) {
	op := t.mu.ops[id]
	op.set, op.gen = set, 0
	if !op.pending {
		op.pending = true
		t.mu.pending = append(t.mu.pending, id)
	}
	t.mu.ops[id] = op
}

// pruneLocked forgets the ops every future load will see in Pebble: flushed,
// committed, and not newer than the snapshot of a running loader.
func (t *Timers) pruneLocked() {
	for id, op := range t.mu.ops {
		if op.gen != 0 && op.gen <= t.mu.committed &&
			(t.mu.load == nil || op.gen <= t.mu.load.snapshot) {
			delete(t.mu.ops, id)
		}
	}
}

func (t *Timers) belowHorizonLocked(id string) bool {
	return t.mu.all || id < t.mu.horizon
}

// trimLocked lowers the horizon until memory holds at most half the limit
// (but at least one timer, so PopDue always makes progress). The dropped
// timers are in Pebble or in ops, so a later load brings them back.
func (t *Timers) trimLocked() {
	if t.mu.mem.Len() <= t.mu.limit {
		return
	}
	keep := max(t.mu.limit/2, 1)
	var lowest string
	for t.mu.mem.Len() > keep {
		lowest, _ = t.mu.mem.DeleteMax()
	}
	t.mu.horizon, t.mu.all = lowest, false
	t.mu.stats.Trims++
	// A running load starts at the old horizon; its slice would leave a gap.
	t.cancelLoadLocked()
}

// sliceSize is how many timers a load reads.
func (t *Timers) sliceSize() int { return max(t.mu.limit/2, 1) }

// prefetchLocked starts loading the next slice when memory runs low.
func (t *Timers) prefetchLocked() {
	if t.mu.all || t.mu.load != nil || t.mu.err != nil || t.mu.closed {
		return
	}
	if t.mu.mem.Len() <= t.sliceSize()/2 {
		t.startLoadLocked()
	}
}

// waitLoadLocked waits for the next slice, starting its load if needed, and
// installs it. Called with t.mu held; returns with it released.
func (t *Timers) waitLoadLocked() {
	ld := t.mu.load
	if ld == nil {
		ld = t.startLoadLocked()
	}
	t.mu.stats.Waits++
	t.mu.Unlock()
	<-ld.done
	t.mu.Lock()
	t.installLocked(ld)
	t.mu.Unlock()
}

func (t *Timers) startLoadLocked() *timerLoad {
	ld := &timerLoad{
		from:     t.mu.horizon,
		n:        t.sliceSize(),
		snapshot: t.mu.committed,
		done:     make(chan struct{}),
	}
	t.mu.load = ld
	t.mu.stats.Loads++
	t.wg.Add(1)
	go t.runLoad(ld)
	return ld
}

func (t *Timers) cancelLoadLocked() {
	if t.mu.load != nil {
		t.mu.load.cancel.Store(true)
		t.mu.load = nil
		// Ops kept for the cancelled load's snapshot may go now.
		t.pruneLocked()
	}
}

// pollLocked installs the running load's slice if it is done.
func (t *Timers) pollLocked() {
	if ld := t.mu.load; ld != nil {
		select {
		case <-ld.done:
			t.installLocked(ld)
		default:
		}
	}
}

// installLocked adds a finished load's slice to memory, with ops applied
// over it, and moves the horizon to its end. A load that is no longer the
// current one (cancelled, or already installed) is ignored.
func (t *Timers) installLocked(ld *timerLoad) {
	if t.mu.load != ld {
		return
	}
	t.mu.load = nil
	if ld.err != nil {
		t.mu.err = ld.err
		return
	}
	// ld.from == t.mu.horizon: anything that moves the horizon cancels ld.
	inSlice := func(id string) bool { return id >= ld.from && (ld.all || id < ld.next) }
	for _, id := range ld.ids {
		if _, ok := t.mu.ops[id]; !ok {
			t.mu.mem.ReplaceOrInsert(id)
		}
	}
	for id, op := range t.mu.ops {
		if op.set && inSlice(id) {
			t.mu.mem.ReplaceOrInsert(id)
		}
	}
	t.mu.horizon, t.mu.all = ld.next, ld.all
	t.pruneLocked()
	t.trimLocked()
}

// runLoad is the loader goroutine: it reads up to ld.n timers of the range
// from ld.from on, skipping other ranges' timers, without any lock.
func (t *Timers) runLoad(ld *timerLoad) {
	defer t.wg.Done()
	defer close(ld.done)
	it, err := t.s.db.NewIter(&pebble.IterOptions{
		LowerBound: append(t.prefix[:len(t.prefix):len(t.prefix)], ld.from...),
		UpperBound: PrefixEnd(t.prefix),
	})
	if err != nil {
		ld.err = storageError("load timers", err)
		return
	}
	if t.testingLoadHook != nil {
		t.testingLoadHook()
	}
	ld.all = true
	for ok := it.First(); ok; ok = it.Next() {
		if ld.cancel.Load() {
			break // the result will be ignored
		}
		id := it.Key()[len(t.prefix):]
		if len(id) < 16 {
			ld.err = errCorrupt(it.Key())
			break
		}
		if !InRange(binary.BigEndian.Uint64(id[8:16]), t.lo, t.hi) {
			continue
		}
		if len(ld.ids) == ld.n {
			ld.next, ld.all = string(id), false
			break
		}
		ld.ids = append(ld.ids, string(id))
	}
	if err := it.Close(); err != nil && ld.err == nil {
		ld.err = storageError("load timers", err)
	}
}

// idTS returns the TS of a timer identity; the empty identity (the initial
// horizon) stands before every timer.
func idTS(id string) int64 {
	if id == "" {
		return math.MinInt64
	}
	return int64(beUint64(id) ^ (1 << 63))
}

func decodeTimerID(id string) Timer {
	return Timer{TS: idTS(id), Hash: beUint64(id[8:]), Key: []byte(id[16:])}
}
