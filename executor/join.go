package executor

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// joinOp runs a plan.JoinOp: a symmetric hash join of the two inputs of
// its stage. Each side keeps its rows in memory, by join key, and in the
// store; a row arriving on one side is matched at once with the other
// side's rows of its key (every pair is emitted exactly once: when the
// later of its two rows arrives), then kept until no future row of the
// other side can match it (the plan's Expire bounds, against the stage's
// input watermark; see planner/physical_join.go). Expiry is driven by a
// heap of keys ordered by their earliest expiring row, so advance touches
// only what expires.
//
// # State
//
// A kept row is one store entry, written into the bundle's batch when the
// row is kept and deleted when it expires:
//
//	key   StateKey(ns, op, hash(join key), side(1) seq(8 BE))
//	value flags(1) expiry(varint) len(key encoding)(uvarint) key encoding, row (datum.AppendRow)
//
// seq numbers a worker's kept rows (it resumes after the largest loaded).
// The hash leads, so a key range's rows are one span (state.StateSpan) and
// load reads exactly the worker's range. The whole state of a range lives
// in memory too (rows stay encoded there, and are decoded when matched):
// the join never reads the store after load.
type joinOp struct {
	baseOp
	plan     *plan.JoinOp
	sides    [2]*joinSide
	residual expr.Predicate
	widths   [2]int
	updating bool
	inputs   [2]emitFn
	scratch  datum.Row
	keyBuf   []byte
	kbuf     []byte // store key being built
	vbuf     []byte // store value being built
	prefix   []byte // state.StateKeyPrefix(ns, op)
	bytes    int64  // this worker's share of stateBytes
	shared   *atomic.Int64
}

// joinSide is one side's kept rows.
type joinSide struct {
	idx     int
	keyCols []int
	bounds  []joinBound
	outer   bool
	keys    map[string]*jkey
	expiry  keyHeap
	seq     uint64
}

type joinBound struct {
	ev     expr.Evaluator
	adjust int64
}

// jkey holds the kept rows of one join key on one side.
type jkey struct {
	hash   uint64
	enc    string // datum key encoding of the key columns
	rows   []jrow
	minExp int64 // earliest expiry of rows; math.MaxInt64: none expire
	hidx   int   // index in the side's expiry heap, -1 when not in it
}

// jrow is a kept row, encoded (datum.AppendRow).
type jrow struct {
	enc     string
	exp     int64 // dropped once the watermark passes it (math.MaxInt64: never)
	seq     uint64
	matched bool // has matched a row of the other side (outer sides)
}

const jrowOverhead = 64 // bytes of bookkeeping per kept row, for stateBytes

func newJoinOp(b baseOp, p *plan.JoinOp) (operator, error) {
	o := &joinOp{baseOp: b, plan: p, widths: p.Widths, updating: p.Updating}
	if p.Residual != nil {
		pred, err := expr.CompilePredicate(p.Residual)
		if err != nil {
			return nil, err
		}
		o.residual = pred
	}
	for s := 0; s < 2; s++ {
		sd := &joinSide{idx: s, keyCols: p.Keys[s], outer: p.Outer(s), keys: make(map[string]*jkey)}
		for _, bd := range p.Expire[s] {
			ev, err := expr.Compile(bd.Expr)
			if err != nil {
				return nil, err
			}
			sd.bounds = append(sd.bounds, joinBound{ev: ev, adjust: bd.Adjust})
		}
		o.sides[s] = sd
	}
	o.inputs[0] = func(row datum.Row) error { return o.arrive(0, row) }
	o.inputs[1] = func(row datum.Row) error { return o.arrive(1, row) }
	o.scratch = make(datum.Row, o.widths[0]+o.widths[1])
	o.prefix = state.StateKeyPrefix(b.w.job.meta.StateNS, b.opName)
	o.shared = sharedOpBytes(b.w.job, b.opName)
	return o, nil
}

func (o *joinOp) stateful() bool    { return true }
func (o *joinOp) stateBytes() int64 { return o.shared.Load() }

// input returns the function taking the rows of input i of the stage.
func (o *joinOp) input(i int) emitFn { return o.inputs[i] }

// process is only called for a join fed by one input (never planned).
func (o *joinOp) process(row datum.Row) error { return o.arrive(0, row) }

// expiry evaluates side s's bounds over row: the watermark past which the
// row can match nothing more.
func (o *joinOp) expiry(sd *joinSide, row datum.Row) (int64, error) {
	exp := int64(math.MaxInt64)
	for _, b := range sd.bounds {
		d, err := b.ev(row)
		if err != nil {
			return 0, err
		}
		if d.IsNull() {
			return math.MinInt64, nil // it compares with nothing
		}
		v := d.Micros()
		if (b.adjust > 0 && v > math.MaxInt64-b.adjust) || (b.adjust < 0 && v < math.MinInt64-b.adjust) {
			v = math.MaxInt64
			if b.adjust < 0 {
				v = math.MinInt64
			}
		} else {
			v += b.adjust
		}
		exp = min(exp, v)
	}
	return exp, nil
}

// arrive handles a row of side s: match it with the other side's rows of
// its key, emit the pairs, then keep it if it can still match.
func (o *joinOp) arrive(s int, row datum.Row) error {
	sd, od := o.sides[s], o.sides[1-s]
	o.keyBuf = o.keyBuf[:0]
	nullKey := false
	for _, c := range sd.keyCols {
		if row[c].IsNull() {
			nullKey = true
			break
		}
		o.keyBuf = datum.AppendKey(o.keyBuf, row[c])
	}
	exp, err := o.expiry(sd, row)
	if err != nil {
		return o.w.recordError(row, err)
	}
	matched := false
	if !nullKey {
		if ok := od.keys[string(o.keyBuf)]; ok != nil {
			if matched, err = o.probe(s, row, ok); err != nil {
				return err
			}
		}
	}
	if sd.outer && !matched && (o.updating || nullKey || exp < o.w.inWM) {
		// Updating: emitted now, retracted at its first match. Bounded
		// and unable to match any more: final now.
		if err := o.emitUnmatched(s, row, true); err != nil {
			return err
		}
	}
	if nullKey || exp < o.w.inWM {
		return nil // no row that can still arrive matches it
	}
	return o.keep(sd, row, exp, matched)
}

// probe matches row (side s) with the other side's rows of key k.
func (o *joinOp) probe(s int, row datum.Row, k *jkey) (bool, error) {
	od := o.sides[1-s]
	off := [2]int{0, o.widths[0]}
	copy(o.scratch[off[s]:off[s]+o.widths[s]], row)
	other := o.scratch[off[1-s] : off[1-s]+o.widths[1-s]]
	matched := false
	for i := range k.rows {
		r := &k.rows[i]
		if err := decodeRowInto(other, r.enc); err != nil {
			return false, err
		}
		if o.residual != nil {
			ok, err := o.residual(o.scratch)
			if err != nil {
				if err := o.w.recordError(row, err); err != nil {
					return false, err
				}
				continue
			}
			if !ok {
				continue
			}
		}
		matched = true
		if od.outer && !r.matched {
			r.matched = true
			if o.updating {
				// Retract the NULL-extended row emitted for it.
				if err := o.emitUnmatched(1-s, other, false); err != nil {
					return false, err
				}
			}
			o.save(od, k, r) // its matched flag changed
		}
		out := make(datum.Row, len(o.scratch), len(o.scratch)+1)
		copy(out, o.scratch)
		if o.updating {
			out = append(out, datum.NewBool(true))
		}
		if err := o.out(out); err != nil {
			return false, err
		}
	}
	return matched, nil
}

// emitUnmatched emits row of side s NULL-extended; insert is the op column
// of an updating join.
func (o *joinOp) emitUnmatched(s int, row datum.Row, insert bool) error {
	n := o.widths[0] + o.widths[1]
	out := make(datum.Row, n, n+1)
	off := 0
	if s == 1 {
		off = o.widths[0]
	}
	copy(out[off:], row[:o.widths[s]])
	if o.updating {
		out = append(out, datum.NewBool(insert))
	}
	return o.out(out)
}

// keep adds row to side sd's state (memory and the bundle's batch).
func (o *joinOp) keep(sd *joinSide, row datum.Row, exp int64, matched bool) error {
	k := sd.keys[string(o.keyBuf)]
	if k == nil {
		h := datum.HashRow(row, sd.keyCols)
		k = &jkey{hash: h, enc: string(o.keyBuf), minExp: math.MaxInt64, hidx: -1}
		sd.keys[k.enc] = k
	}
	sd.seq++
	k.rows = append(k.rows, jrow{enc: string(datum.AppendRow(o.vbuf[:0], row)), exp: exp, seq: sd.seq, matched: matched})
	r := &k.rows[len(k.rows)-1]
	o.addBytes(int64(len(r.enc) + len(k.enc) + jrowOverhead))
	if exp < k.minExp {
		k.minExp = exp
		if k.hidx < 0 {
			heap.Push(&sd.expiry, k)
		} else {
			heap.Fix(&sd.expiry, k.hidx)
		}
	}
	o.save(sd, k, r)
	return nil
}

func (o *joinOp) addBytes(d int64) {
	o.bytes += d
	o.shared.Add(d)
}

// storeKey builds the store key of row r of key k on side sd in o.kbuf.
func (o *joinOp) storeKey(sd *joinSide, k *jkey, seq uint64) []byte {
	b := append(o.kbuf[:0], o.prefix...)
	b = binary.BigEndian.AppendUint64(b, k.hash)
	b = append(b, byte(sd.idx))
	b = binary.BigEndian.AppendUint64(b, seq)
	o.kbuf = b
	return b
}

// save writes kept row r into the bundle's batch.
func (o *joinOp) save(sd *joinSide, k *jkey, r *jrow) {
	v := o.vbuf[:0]
	var flags byte
	if r.matched {
		flags |= 1
	}
	v = append(v, flags)
	v = binary.AppendVarint(v, r.exp)
	v = binary.AppendUvarint(v, uint64(len(k.enc)))
	v = append(v, k.enc...)
	v = append(v, r.enc...)
	o.vbuf = v
	o.w.batch.Set(o.storeKey(sd, k, r.seq), v)
}

// advance drops the rows whose expiry the watermark passed; an outer
// side's rows that never matched are emitted NULL-extended first.
func (o *joinOp) advance(wm, natural int64) error {
	for s, sd := range o.sides {
		for len(sd.expiry) > 0 && sd.expiry[0].minExp < wm {
			k := sd.expiry[0]
			live := k.rows[:0]
			minExp := int64(math.MaxInt64)
			var gone int64
			for i := range k.rows {
				r := k.rows[i]
				if r.exp >= wm {
					live = append(live, r)
					minExp = min(minExp, r.exp)
					continue
				}
				if sd.outer && !r.matched && !o.updating {
					row, _, err := datum.DecodeRow(unsafeBytes(r.enc))
					if err != nil {
						return err
					}
					if err := o.emitUnmatched(s, row, true); err != nil {
						return err
					}
				}
				o.w.batch.Delete(o.storeKey(sd, k, r.seq))
				gone += int64(len(r.enc) + len(k.enc) + jrowOverhead)
			}
			clear(k.rows[len(live):])
			k.rows = live
			o.addBytes(-gone)
			k.minExp = minExp
			if minExp == math.MaxInt64 {
				heap.Pop(&sd.expiry)
			} else {
				heap.Fix(&sd.expiry, 0)
			}
			if len(k.rows) == 0 {
				delete(sd.keys, k.enc)
			}
		}
	}
	return nil
}

// load reads the worker's range of the join's state.
func (o *joinOp) load() error {
	lo, hi := state.StateSpan(o.w.job.meta.StateNS, o.opName, o.w.lo, o.w.hiExcl())
	np := len(o.prefix)
	err := o.w.job.x.cfg.Store.Scan(lo, hi, func(key, val []byte) error {
		if len(key) != np+17 || len(val) < 1 {
			return errCorruptJoin
		}
		hash := binary.BigEndian.Uint64(key[np:])
		s := int(key[np+8])
		seq := binary.BigEndian.Uint64(key[np+9:])
		if s > 1 {
			return errCorruptJoin
		}
		sd := o.sides[s]
		flags := val[0]
		exp, n := binary.Varint(val[1:])
		if n <= 0 {
			return errCorruptJoin
		}
		rest := val[1+n:]
		kl, n := binary.Uvarint(rest)
		if n <= 0 || uint64(len(rest)-n) < kl {
			return errCorruptJoin
		}
		enc := string(rest[n : n+int(kl)])
		k := sd.keys[enc]
		if k == nil {
			k = &jkey{hash: hash, enc: enc, minExp: math.MaxInt64, hidx: -1}
			sd.keys[enc] = k
		}
		k.rows = append(k.rows, jrow{enc: string(rest[n+int(kl):]), exp: exp, seq: seq, matched: flags&1 != 0})
		k.minExp = min(k.minExp, exp)
		sd.seq = max(sd.seq, seq)
		o.addBytes(int64(len(val) + jrowOverhead))
		return nil
	})
	if err != nil {
		return err
	}
	for _, sd := range o.sides {
		for _, k := range sd.keys {
			if k.minExp != math.MaxInt64 {
				heap.Push(&sd.expiry, k)
			}
		}
	}
	return nil
}

func (o *joinOp) closeOp() {
	o.shared.Add(-o.bytes)
	o.bytes = 0
	releaseOpBytes(o.w.job, o.opName)
}

var errCorruptJoin = errors.New("executor: corrupt join state")

// decodeRowInto decodes a datum.AppendRow encoding into dst (whose length
// the encoding must have).
func decodeRowInto(dst datum.Row, enc string) error {
	b := unsafeBytes(enc)
	n, w := binary.Uvarint(b)
	if w <= 0 || n != uint64(len(dst)) {
		return errCorruptJoin
	}
	b = b[w:]
	var err error
	for i := range dst {
		if dst[i], b, err = datum.DecodeValue(b); err != nil {
			return err
		}
	}
	return nil
}

// keyHeap orders keys by their earliest expiring row.
type keyHeap []*jkey

func (h keyHeap) Len() int           { return len(h) }
func (h keyHeap) Less(i, j int) bool { return h[i].minExp < h[j].minExp }
func (h keyHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *keyHeap) Push(x any) {
	k := x.(*jkey)
	k.hidx = len(*h)
	*h = append(*h, k)
}
func (h *keyHeap) Pop() any {
	old := *h
	k := old[len(old)-1]
	old[len(old)-1] = nil
	k.hidx = -1
	*h = old[:len(old)-1]
	return k
}

// multiInput is implemented by operators that start a stage with several
// inputs and tell them apart (a join's two sides).
type multiInput interface {
	input(i int) emitFn
}

// entry returns the function that takes the rows of delivery d: the first
// operator's process, or, in a stage with several inputs whose first
// operator tells them apart, the one for the input d came from.
func (w *worker) entry(d delivery) emitFn {
	first := w.ops[0]
	if len(w.st.plan.Inputs) < 2 {
		return first.process
	}
	mi, ok := first.(multiInput)
	if !ok {
		return first.process
	}
	from := fromStageOf(d.key)
	for i, in := range w.st.plan.Inputs {
		if in.Stage == from {
			return mi.input(i)
		}
	}
	return first.process
}

// Operators whose state is per unit (not a shared state object) report
// the operator's total through a counter the job's units share
// (Job.opBytes), released when the last unit closes it.
type opBytesTable struct {
	sync.Mutex
	m map[string]*opBytesEntry
}

type opBytesEntry struct {
	n    atomic.Int64
	refs int
}

func sharedOpBytes(j *Job, op string) *atomic.Int64 {
	t := &j.opBytes
	t.Lock()
	defer t.Unlock()
	if t.m == nil {
		t.m = make(map[string]*opBytesEntry)
	}
	e := t.m[op]
	if e == nil {
		e = &opBytesEntry{}
		t.m[op] = e
	}
	e.refs++
	return &e.n
}

func releaseOpBytes(j *Job, op string) {
	t := &j.opBytes
	t.Lock()
	defer t.Unlock()
	if e := t.m[op]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(t.m, op)
		}
	}
}

// startsOf returns the starts of the windows a row with time ts belongs
// to: those containing ts, or, for rows already windowed upstream
// (plan.WindowAggOp.Prewindowed), the one window whose start or end ts
// is.
func (o *windowAggOp) startsOf(ts int64) []int64 {
	switch o.plan.Prewindowed {
	case plan.PrewindowedStart:
		o.starts = append(o.starts[:0], ts)
		return o.starts
	case plan.PrewindowedEnd:
		o.starts = append(o.starts[:0], ts-o.spec.Size)
		return o.starts
	}
	return o.windowStarts(ts)
}

// gateWM is the watermark a windowed aggregation judges the lateness of
// its raw input rows against. Lateness is decided in source stages
// (doc.go); in a keyed stage the rows are results of upstream stages that
// are on time by construction (their window's end, or their event time, is
// past the input watermark the stage had when they were produced), and
// rows produced by this stage's own timers arrive after the watermark
// moved: judging them again would drop them.
func (o *windowAggOp) gateWM() int64 {
	if o.w.st.source == nil {
		return minWM
	}
	return o.w.gateWM()
}

// teeOp runs a plan.TeeOp: every input row goes to the side chain
// (whose end is the right input of the stage's join) and on to the next
// operator. Timers, flushes, loads and state are the side operators'.
type teeOp struct {
	baseOp
	side []operator
}

// newTeeOp builds a tee at the start of a chain whose later operators
// (rest, already built) include the join its side chain feeds.
func newTeeOp(b baseOp, p *plan.TeeOp, rest []operator) (operator, error) {
	var join multiInput
	for _, op := range rest {
		if mi, ok := op.(multiInput); ok {
			join = mi
			break
		}
	}
	if join == nil {
		return nil, errors.New("executor: a tee without the join its side chain feeds")
	}
	side, err := buildChain(b.w, p.Side, join.input(1))
	if err != nil {
		return nil, err
	}
	return &teeOp{baseOp: b, side: side}, nil
}

func (t *teeOp) process(row datum.Row) error {
	if len(t.side) > 0 {
		if err := t.side[0].process(row); err != nil {
			return err
		}
	}
	return t.out(row)
}

func (t *teeOp) advance(wm, natural int64) error {
	for _, op := range t.side {
		if err := op.advance(wm, natural); err != nil {
			return err
		}
	}
	return nil
}

func (t *teeOp) tick(now int64) error {
	for _, op := range t.side {
		if err := op.tick(now); err != nil {
			return err
		}
	}
	return nil
}

func (t *teeOp) flush() error {
	for _, op := range t.side {
		if err := op.flush(); err != nil {
			return err
		}
	}
	return nil
}

func (t *teeOp) load() error {
	for _, op := range t.side {
		if err := op.load(); err != nil {
			return err
		}
	}
	return nil
}

func (t *teeOp) stateful() bool {
	for _, op := range t.side {
		if op.stateful() {
			return true
		}
	}
	return false
}

func (t *teeOp) stateBytes() int64 {
	var n int64
	for _, op := range t.side {
		n += op.stateBytes()
	}
	return n
}

func (t *teeOp) closeOp() {
	for _, op := range t.side {
		if c, ok := op.(interface{ closeOp() }); ok {
			c.closeOp()
		}
	}
}
