package executor

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"math"
	"sync/atomic"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// slicedAggOp runs a plan.WindowAggOp with Sliced set: a windowed
// aggregation whose windows each fire one pane (no allowed lateness, no
// early panes). Rows are aggregated into slices of event time, step wide
// (the HOP slide; a TUMBLE's size), and a window, span consecutive slices
// (size / step), combines them when it fires. A row then costs one
// accumulator update in the partial and a slice one merge, whatever the
// number of windows they belong to (five for HOP(2s, 10s)); per key a
// handful of slices is all the state.
//
// Rows of an upstream windowed result (Prewindowed) are their window's one
// slice: step is the window size and span 1, so the window ending at e is
// the slice starting at e - size, whatever the grid of the upstream starts.
//
// Firing needs no timers: every key is listed under the end of the next
// window it must fire, and advance pops ends in order while the watermark
// passes them. Windows ending at or below the input watermark have fired,
// so after a restart the schedule is rebuilt from the slices and the
// worker's committed watermark. Slices are written to the bundle's batch
// when they change and deleted once their last window fired:
//
//	StateKey(ns, op, hash(key), 0x01 start(8, sign flipped) key encoding)   a slice: its accumulators
//	StateKey(ns, op, hash(key), 0x02 end(8, sign flipped) key encoding)     a window's extra contributions
//
// Extras hold the rows that were on time for only some of their slice's
// windows (out-of-order input: the partial found the earlier windows
// closed): they count for the windows from the partial row's first_end on,
// and are kept per window.
type slicedAggOp struct {
	baseOp
	plan    *plan.WindowAggOp
	spec    plan.WindowSpec
	step    int64 // slice width
	span    int64 // slices per window
	size    int64
	keyCols []int
	nkeys   int
	args    []expr.Evaluator
	accs    *expr.AccSetFactory
	scratch expr.AccSet
	comb    expr.AccSet
	partial bool

	// partial: the bundle's slices.
	pmap   map[string]*spart
	porder []*spart
	arena  []byte
	ends   []int

	// merge: the worker's open slices.
	keys      map[string]*skey
	sched     endHeap           // distinct scheduled ends
	due       map[int64][]*skey // keys by the end of their next window
	dirty     []*skey
	lastFired int64 // every window ending at or below it has fired
	prefix    []byte
	kbuf      []byte
	vbuf      []byte
	keyBuf    []byte
	bytes     int64
	shared    *atomic.Int64
}

// spart is one (key, slice, first end) of a partial's bundle.
type spart struct {
	keyRow   datum.Row
	start    int64
	firstEnd int64
	accs     expr.AccSet
	maxTS    int64
	n        int64
}

// skey is one key's open slices at the merge.
type skey struct {
	hash    uint64
	enc     string
	keyRow  datum.Row
	slices  []*sslice // by start
	extras  map[int64]*sslice
	next    int64 // end of the next window to fire; math.MaxInt64: none
	isDirty bool
}

type sslice struct {
	hash  uint64 // the key range hash its state is filed under
	start int64  // slice start, or window end for an extra
	accs  expr.AccSet
	dirty bool
	size  int64 // bytes accounted
}

const (
	sliceTag = 0x01
	extraTag = 0x02
)

func newSlicedAggOp(b baseOp, p *plan.WindowAggOp) (operator, error) {
	o := &slicedAggOp{baseOp: b, plan: p, spec: p.Window, keyCols: p.KeyCols, nkeys: len(p.KeyCols), partial: p.Partial}
	s := p.Window
	if s.Size <= 0 || (s.Kind == plan.Hop && s.Slide <= 0) {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "window size and slide must be positive")
	}
	o.size = s.Size
	o.step, o.span = s.Size, 1
	if s.Kind == plan.Hop && s.Slide < s.Size && s.Size%s.Slide == 0 {
		o.step, o.span = s.Slide, s.Size/s.Slide
	}
	if p.Prewindowed != 0 {
		o.step, o.span = s.Size, 1
	}
	if s.Kind == plan.Hop && s.Size%s.Slide != 0 && p.Prewindowed == 0 {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "a sliced HOP window's size must be a multiple of its slide")
	}
	o.accs = expr.NewAccSet(p.Aggs)
	o.scratch = o.accs.New()
	o.comb = o.accs.New()
	if !p.Merge {
		o.args = make([]expr.Evaluator, len(p.Aggs))
		for i, a := range p.Aggs {
			if a.Arg == nil {
				continue
			}
			ev, err := expr.Compile(a.Arg)
			if err != nil {
				return nil, err
			}
			o.args[i] = ev
		}
	}
	if o.partial {
		o.pmap = make(map[string]*spart)
		return o, nil
	}
	o.keys = make(map[string]*skey)
	o.due = make(map[int64][]*skey)
	o.prefix = state.StateKeyPrefix(b.w.job.meta.StateNS, b.opName)
	o.shared = sharedOpBytes(b.w.job, b.opName)
	o.lastFired = b.w.inWM
	return o, nil
}

func (o *slicedAggOp) stateful() bool { return !o.partial }

func (o *slicedAggOp) stateBytes() int64 {
	if o.partial {
		return 0
	}
	return o.shared.Load()
}

// sliceOf returns the start of the slice holding a row with time ts.
func (o *slicedAggOp) sliceOf(ts int64) int64 {
	switch o.plan.Prewindowed {
	case plan.PrewindowedStart:
		return ts
	case plan.PrewindowedEnd:
		return ts - o.size
	}
	return floorDiv(ts-o.spec.Offset, o.step)*o.step + o.spec.Offset
}

// gateWM is the watermark raw rows are judged late against (see
// windowAggOp.gateWM).
func (o *slicedAggOp) gateWM() int64 {
	if o.w.st.source == nil {
		return minWM
	}
	return o.w.gateWM()
}

func (o *slicedAggOp) process(row datum.Row) error {
	if o.plan.Merge {
		return o.merge(row)
	}
	tsd := row[o.spec.TimeCol]
	if tsd.IsNull() {
		return o.w.recordError(row, pgerr.New(pgerr.NullValueNotAllowed, "event time is NULL"))
	}
	start := o.sliceOf(tsd.Micros())
	first, last := start+o.step, start+o.span*o.step
	if wm := o.gateWM(); wm != minWM && first <= wm {
		// Late for the windows ending at or below the watermark.
		if last <= wm {
			o.w.bundleLate += o.span
			return nil
		}
		late := (wm-first)/o.step + 1
		o.w.bundleLate += late
		first += late * o.step
	}
	var argBuf [8]datum.Datum
	vals := argBuf[:0]
	for _, ev := range o.args {
		if ev == nil {
			vals = append(vals, countStar)
			continue
		}
		d, err := ev(row)
		if err != nil {
			return o.w.recordError(row, err)
		}
		vals = append(vals, d)
	}
	o.keyBuf = o.keyBuf[:0]
	for _, c := range o.keyCols {
		o.keyBuf = datum.AppendKey(o.keyBuf, row[c])
	}
	if !o.partial {
		return o.addRaw(row, start, first, vals)
	}
	kl := len(o.keyBuf)
	o.keyBuf = binary.BigEndian.AppendUint64(o.keyBuf, uint64(start))
	o.keyBuf = binary.BigEndian.AppendUint64(o.keyBuf, uint64(first))
	pe := o.pmap[string(o.keyBuf)]
	if pe == nil {
		keyRow := make(datum.Row, o.nkeys)
		for i, c := range o.keyCols {
			keyRow[i] = row[c]
		}
		pe = &spart{keyRow: keyRow, start: start, firstEnd: first, accs: o.accs.New(), maxTS: tsd.Micros()}
		o.pmap[string(o.keyBuf)] = pe
		o.porder = append(o.porder, pe)
	}
	o.keyBuf = o.keyBuf[:kl]
	if err := pe.accs.AddRow(vals); err != nil {
		return o.w.recordError(row, err)
	}
	pe.maxTS = max(pe.maxTS, tsd.Micros())
	pe.n++
	return nil
}

// addRaw folds a raw row into key o.keyBuf's slice (an unlifted op: the
// side chain of a tee, plan.TeeOp).
func (o *slicedAggOp) addRaw(row datum.Row, start, first int64, vals []datum.Datum) error {
	if start+o.span*o.step <= o.lastFired {
		o.w.bundleLate++
		return nil
	}
	sk := o.keys[string(o.keyBuf)]
	if sk == nil {
		keyRow := make(datum.Row, o.nkeys)
		for i, c := range o.keyCols {
			keyRow[i] = row[c]
		}
		sk = &skey{hash: datum.HashRow(keyRow, nil), enc: string(o.keyBuf), keyRow: keyRow, next: math.MaxInt64}
		o.keys[sk.enc] = sk
	}
	var acc expr.AccSet
	if first <= start+o.step {
		sl := o.sliceFor(sk, start)
		if len(o.plan.PartitionCols) > 0 {
			sl.hash = datum.HashRow(row, o.plan.PartitionCols)
		}
		sl.dirty = true
		acc = sl.accs
	} else {
		o.scratch.Reset()
		acc = o.scratch
	}
	if err := acc.AddRow(vals); err != nil {
		return o.w.recordError(row, err)
	}
	if first > start+o.step {
		// On time for the later windows only.
		if err := o.addExtras(sk, first, start+o.span*o.step); err != nil {
			return o.w.recordError(row, err)
		}
	}
	o.touch(sk, start, first)
	return nil
}

// addExtras merges o.scratch into key sk's contributions to the windows
// ending at first..last that have not fired: rows on time for those
// windows only.
func (o *slicedAggOp) addExtras(sk *skey, first, last int64) error {
	if sk.extras == nil {
		sk.extras = map[int64]*sslice{}
	}
	for e := first; e <= last; e += o.step {
		if e <= o.lastFired {
			continue
		}
		ex := sk.extras[e]
		if ex == nil {
			ex = &sslice{hash: sk.hash, start: e, accs: o.accs.New()}
			sk.extras[e] = ex
		}
		if err := ex.accs.Merge(o.scratch); err != nil {
			return err
		}
		ex.dirty = true
	}
	return nil
}

// touch marks key sk changed in this bundle and schedules its first window
// still to fire of a slice starting at start whose first end is first.
func (o *slicedAggOp) touch(sk *skey, start, first int64) {
	if !sk.isDirty {
		sk.isDirty = true
		o.dirty = append(o.dirty, sk)
	}
	e := max(first, start+o.step)
	if e <= o.lastFired {
		e += ((o.lastFired-e)/o.step + 1) * o.step
	}
	o.schedule(sk, e)
}

// merge folds a partial row [keys..., start, accs, max_ts, n, first_end].
func (o *slicedAggOp) merge(row datum.Row) error {
	k := o.nkeys
	start := row[k].Micros()
	first := row[k+4].Micros()
	last := start + o.span*o.step
	if last <= o.lastFired {
		// Every window of the slice has fired: cannot happen for rows
		// judged on time upstream (doc.go); counted, not lost silently.
		o.w.bundleLate += row[k+3].Int()
		return nil
	}
	if _, err := o.scratch.Decode(unsafeBytes(row[k+1].Str())); err != nil {
		return err
	}
	o.keyBuf = datum.AppendKeyRow(o.keyBuf[:0], row[:k])
	sk := o.keys[string(o.keyBuf)]
	if sk == nil {
		keyRow := make(datum.Row, k)
		copy(keyRow, row[:k])
		sk = &skey{hash: datum.HashRow(keyRow, nil), enc: string(o.keyBuf), keyRow: keyRow, next: math.MaxInt64}
		o.keys[sk.enc] = sk
	}
	if first <= start+o.step {
		sl := o.sliceFor(sk, start)
		if err := sl.accs.Merge(o.scratch); err != nil {
			return o.w.recordError(row, err)
		}
		sl.dirty = true
	} else if err := o.addExtras(sk, first, last); err != nil {
		// On time for the windows ending at first and later only.
		return o.w.recordError(row, err)
	}
	o.touch(sk, start, first)
	return nil
}

// sliceFor finds or adds key sk's slice starting at start (filed under
// the key's hash).
func (o *slicedAggOp) sliceFor(sk *skey, start int64) *sslice {
	i := len(sk.slices)
	for i > 0 && sk.slices[i-1].start >= start {
		if sk.slices[i-1].start == start {
			return sk.slices[i-1]
		}
		i--
	}
	sl := &sslice{hash: sk.hash, start: start, accs: o.accs.New()}
	sk.slices = append(sk.slices, nil)
	copy(sk.slices[i+1:], sk.slices[i:])
	sk.slices[i] = sl
	return sl
}

// schedule makes sure key sk fires the window ending at e (if earlier than
// what it was due for).
func (o *slicedAggOp) schedule(sk *skey, e int64) {
	if e >= sk.next {
		return
	}
	sk.next = e
	l, ok := o.due[e]
	if !ok {
		heap.Push(&o.sched, e)
	}
	o.due[e] = append(l, sk)
}

// advance fires, in order, every window ending at or below wm.
func (o *slicedAggOp) advance(wm, natural int64) error {
	if o.partial {
		return nil
	}
	for len(o.sched) > 0 && o.sched[0] <= wm {
		e := heap.Pop(&o.sched).(int64)
		list := o.due[e]
		delete(o.due, e)
		for _, sk := range list {
			if sk.next != e {
				continue // rescheduled earlier and fired already
			}
			if err := o.fire(sk, e, natural); err != nil {
				return err
			}
		}
	}
	if wm > o.lastFired {
		o.lastFired = wm
	}
	return nil
}

// fire emits key sk's window ending at e, drops the slices no later window
// needs, and schedules its next window.
func (o *slicedAggOp) fire(sk *skey, e, natural int64) error {
	o.comb.Reset()
	found := false
	for _, sl := range sk.slices {
		if d := e - sl.start; d > 0 && d%o.step == 0 && d/o.step <= o.span {
			if err := o.comb.Merge(sl.accs); err != nil {
				return err
			}
			found = true
		}
	}
	if ex := sk.extras[e]; ex != nil {
		if err := o.comb.Merge(ex.accs); err != nil {
			return err
		}
		found = true
		o.drop(sk, extraTag, ex)
		delete(sk.extras, e)
	}
	if found {
		timing := paneOnTime
		if e > natural {
			timing = paneDrained
		}
		out := make(datum.Row, 0, o.nkeys+4+o.accs.Len())
		out = append(out, sk.keyRow...)
		out = append(out, datum.NewTimestamp(e-o.size), datum.NewTimestamp(e))
		out = o.comb.AppendResults(out)
		out = append(out, datum.NewString(timing), datum.NewInt(0))
		if err := o.out(out); err != nil {
			return err
		}
	}
	// Drop the slices whose last window this was; find the next window.
	next := int64(math.MaxInt64)
	live := sk.slices[:0]
	for _, sl := range sk.slices {
		if sl.start+o.span*o.step <= e {
			o.drop(sk, sliceTag, sl)
			continue
		}
		live = append(live, sl)
		k := max((e-sl.start)/o.step+1, 1)
		next = min(next, sl.start+k*o.step)
	}
	clear(sk.slices[len(live):])
	sk.slices = live
	for end := range sk.extras {
		if end > e {
			next = min(next, end)
		}
	}
	sk.next = math.MaxInt64
	if next == math.MaxInt64 {
		if len(sk.slices) == 0 && len(sk.extras) == 0 {
			delete(o.keys, sk.enc)
		}
		return nil
	}
	o.schedule(sk, next)
	return nil
}

// stateKey builds the store key of a slice (tag sliceTag) or an extra
// (extraTag) of key sk in o.kbuf.
func (o *slicedAggOp) stateKey(sk *skey, tag byte, sl *sslice) []byte {
	t := sl.start
	b := append(o.kbuf[:0], o.prefix...)
	b = binary.BigEndian.AppendUint64(b, sl.hash)
	b = append(b, tag)
	b = binary.BigEndian.AppendUint64(b, uint64(t)^(1<<63))
	b = append(b, sk.enc...)
	o.kbuf = b
	return b
}

func (o *slicedAggOp) drop(sk *skey, tag byte, sl *sslice) {
	o.w.batch.Delete(o.stateKey(sk, tag, sl))
	o.addBytes(-sl.size)
	sl.size = 0
}

func (o *slicedAggOp) addBytes(d int64) {
	o.bytes += d
	o.shared.Add(d)
}

func (o *slicedAggOp) save(sk *skey, tag byte, sl *sslice) {
	o.vbuf = sl.accs.Append(o.vbuf[:0])
	o.w.batch.Set(o.stateKey(sk, tag, sl), o.vbuf)
	n := int64(len(o.vbuf) + len(sk.enc) + 48)
	o.addBytes(n - sl.size)
	sl.size = n
}

func (o *slicedAggOp) flush() error {
	if o.partial {
		return o.flushPartial()
	}
	for _, sk := range o.dirty {
		sk.isDirty = false
		if o.keys[sk.enc] != sk {
			continue // all its windows fired in this bundle
		}
		for _, sl := range sk.slices {
			if sl.dirty {
				sl.dirty = false
				o.save(sk, sliceTag, sl)
			}
		}
		for _, ex := range sk.extras {
			if ex.dirty {
				ex.dirty = false
				o.save(sk, extraTag, ex)
			}
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	return nil
}

// flushPartial emits the bundle's slices: [keys..., start, accs, max_ts,
// n, first_end], the accumulators of all of them encoded into one string.
func (o *slicedAggOp) flushPartial() error {
	o.arena = o.arena[:0]
	o.ends = o.ends[:0]
	for _, pe := range o.porder {
		o.arena = pe.accs.Append(o.arena)
		o.ends = append(o.ends, len(o.arena))
	}
	arena := string(o.arena)
	w := o.nkeys + 5
	rows := make([]datum.Datum, len(o.porder)*w)
	prev := 0
	for i, pe := range o.porder {
		out := rows[:0:w]
		rows = rows[w:]
		out = append(out, pe.keyRow...)
		out = append(out, datum.NewTimestamp(pe.start), datum.NewBytesString(arena[prev:o.ends[i]]),
			datum.NewTimestamp(pe.maxTS), datum.NewInt(pe.n), datum.NewTimestamp(pe.firstEnd))
		prev = o.ends[i]
		if err := o.out(out); err != nil {
			return err
		}
	}
	clear(o.pmap)
	clear(o.porder)
	o.porder = o.porder[:0]
	return nil
}

var errCorruptSlice = errors.New("executor: corrupt window slice state")

// load reads the worker's range of slices and rebuilds the schedule: the
// windows ending at or below the committed watermark have fired.
func (o *slicedAggOp) load() error {
	if o.partial {
		return nil
	}
	o.lastFired = o.w.inWM
	lo, hi := state.StateSpan(o.w.job.meta.StateNS, o.opName, o.w.lo, o.w.hiExcl())
	np := len(o.prefix)
	err := o.w.job.x.cfg.Store.Scan(lo, hi, func(key, val []byte) error {
		if len(key) < np+17 {
			return errCorruptSlice
		}
		hash := binary.BigEndian.Uint64(key[np:])
		tag := key[np+8]
		t := int64(binary.BigEndian.Uint64(key[np+9:]) ^ (1 << 63))
		enc := key[np+17:]
		sk := o.keys[string(enc)]
		if sk == nil {
			keyRow, _, err := datum.DecodeKeyRow(enc, o.nkeys)
			if err != nil {
				return err
			}
			sk = &skey{hash: hash, enc: string(enc), keyRow: keyRow, next: math.MaxInt64}
			o.keys[sk.enc] = sk
		}
		sl := &sslice{hash: hash, start: t, accs: o.accs.New()}
		if rest, err := sl.accs.Decode(val); err != nil {
			return err
		} else if len(rest) != 0 {
			return errCorruptSlice
		}
		sl.size = int64(len(val) + len(enc) + 48)
		o.addBytes(sl.size)
		switch tag {
		case sliceTag:
			sk.slices = append(sk.slices, sl) // the scan is in start order
		case extraTag:
			if sk.extras == nil {
				sk.extras = map[int64]*sslice{}
			}
			sk.extras[t] = sl
		default:
			return errCorruptSlice
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, sk := range o.keys {
		next := int64(math.MaxInt64)
		for _, sl := range sk.slices {
			k := int64(1)
			if o.lastFired != minWM && o.lastFired >= sl.start+o.step {
				k = (o.lastFired-sl.start)/o.step + 1
			}
			if k <= o.span {
				next = min(next, sl.start+k*o.step)
			}
		}
		for end := range sk.extras {
			if end > o.lastFired {
				next = min(next, end)
			}
		}
		if next != math.MaxInt64 {
			o.schedule(sk, next)
		}
	}
	return nil
}

func (o *slicedAggOp) closeOp() {
	if o.partial {
		return
	}
	o.shared.Add(-o.bytes)
	o.bytes = 0
	releaseOpBytes(o.w.job, o.opName)
}

// endHeap is a min-heap of window ends.
type endHeap []int64

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
