package executor

import (
	"encoding/binary"
	"errors"
	"unsafe"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// Pane timings, as PANE_TIMING() returns them.
const (
	paneEarly   = "EARLY"
	paneOnTime  = "ON_TIME"
	paneLate    = "LATE"
	paneDrained = "DRAINED"
)

// Timer kinds, the first byte of a window timer's key. timerSized marks
// the timer of a legacy window (see win.size): its key is kind|timerSized,
// start, size(8), key encoding.
const (
	timerFire    = 0
	timerCleanup = 1
	timerSized   = 2
)

// winFlagSized marks a legacy window's encoded state: its size follows the
// flags, and its state key ends with the size (update.go writes both).
const winFlagSized = 4

// windowAggOp runs one of three roles of a windowed aggregation:
//
//   - partial (the combiner before a shuffle): per bundle, per (key, window),
//     folds input rows into accumulators and emits them at the bundle's end
//     as one row [keys..., window_start, acc..., max_ts, n]. It is where
//     lateness is decided (see doc.go).
//   - merge (after the shuffle): folds partial rows into durable per
//     (key, window) state and fires panes from event-time timers.
//   - unlifted: both at once, from raw input rows.
type windowAggOp struct {
	baseOp
	plan     *plan.WindowAggOp
	spec     plan.WindowSpec
	keyCols  []int // input key columns (partial/unlifted)
	nkeys    int
	args     []expr.Evaluator // per aggregate; nil for count(*)
	accs     *expr.AccSetFactory
	scratch  expr.AccSet // merge: decodes one partial
	partial  bool
	merge    bool
	lateness int64

	// partial: per-bundle combiner.
	pmap   map[string]*pentry
	porder []*pentry
	pfree  []*pentry // entries of flushed bundles, for reuse

	// durable roles: every open window of the worker's key range.
	keys   map[string]*keyWins
	dirty  []*keyWins
	late   []*keyWins // keys with fired windows updated this bundle
	vs     *state.ValueState
	timers *state.Timers

	keyBuf []byte
	starts []int64
	arena  []byte
	ends   []int
}

type pentry struct {
	keyRow datum.Row
	start  int64
	accs   expr.AccSet
	maxTS  int64
	n      int64
}

type keyWins struct {
	hash    uint64
	enc     string // datum key encoding of the key columns
	keyRow  datum.Row
	wins    []*win
	isDirty bool
	isLate  bool
}

type win struct {
	start   int64
	size    int64 // 0: the op's window size; else a legacy window's own size
	accs    expr.AccSet
	pane    int64 // panes emitted so far
	fired   bool  // the ON_TIME (or DRAINED) pane was emitted
	changed bool  // changed since the last pane
	dirty   bool  // changed since the last flush
	deleted bool
}

func newWindowAggOp(b baseOp, p *plan.WindowAggOp) (operator, error) {
	o := &windowAggOp{baseOp: b, plan: p, spec: p.Window, keyCols: p.KeyCols, nkeys: len(p.KeyCols),
		partial: p.Partial, merge: p.Merge, lateness: b.w.job.plan.Options.AllowedLateness}
	if o.spec.Size <= 0 || (o.spec.Kind == plan.Hop && o.spec.Slide <= 0) {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "window size and slide must be positive")
	}
	if o.spec.Kind == plan.Tumble || o.spec.Slide == 0 {
		o.spec.Slide = o.spec.Size
	}
	o.accs = expr.NewAccSet(p.Aggs)
	o.scratch = o.accs.New()
	if !o.merge {
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
		o.pmap = make(map[string]*pentry)
	} else {
		o.keys = make(map[string]*keyWins)
		ns := b.w.job.meta.StateNS
		o.vs = b.w.job.valueState(o.opName)
		o.timers = state.NewTimers(b.w.job.x.cfg.Store, ns, o.opName, state.EventTime, b.w.lo, b.w.hiExcl())
	}
	return o, nil
}

func (o *windowAggOp) stateful() bool { return !o.partial }

func (o *windowAggOp) stateBytes() int64 {
	if o.vs == nil {
		return 0
	}
	return o.vs.Bytes()
}

func (o *windowAggOp) newAccs() expr.AccSet { return o.accs.New() }

// windowStarts returns the starts of every window containing ts.
func (o *windowAggOp) windowStarts(ts int64) []int64 {
	s := o.spec
	last := floorDiv(ts-s.Offset, s.Slide)*s.Slide + s.Offset
	o.starts = o.starts[:0]
	for st := last; st > ts-s.Size; st -= s.Slide {
		o.starts = append(o.starts, st)
	}
	return o.starts
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// lateState classifies a window ending at end against watermark wm:
// 0 on time, 1 late but within the allowed lateness, 2 too late (dropped).
func (o *windowAggOp) lateState(end, wm int64) int {
	if end > wm {
		return 0
	}
	if wm-end < o.lateness {
		return 1
	}
	return 2
}

var countStar = datum.NewBool(true)

func (o *windowAggOp) process(row datum.Row) error {
	if o.merge {
		return o.processPartial(row)
	}
	tsd := row[o.spec.TimeCol]
	if tsd.IsNull() {
		return o.w.recordError(row, pgerr.New(pgerr.NullValueNotAllowed, "event time is NULL"))
	}
	ts := tsd.Micros()
	// Evaluate the aggregate arguments once per row.
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
	wm := o.gateWM()
	for _, start := range o.startsOf(ts) {
		end := start + o.spec.Size
		if o.lateState(end, wm) == 2 {
			o.w.bundleLate++
			continue
		}
		if o.partial {
			if err := o.addPartial(row, start, ts, vals); err != nil {
				return err
			}
			continue
		}
		kw := o.keyFor(o.keyBuf, row, nil)
		wn := o.windowFor(kw, start, wm)
		if err := wn.accs.AddRow(vals); err != nil {
			return o.w.recordError(row, err)
		}
		o.touch(kw, wn)
	}
	return nil
}

func (o *windowAggOp) addPartial(row datum.Row, start, ts int64, vals []datum.Datum) error {
	kl := len(o.keyBuf)
	o.keyBuf = binary.BigEndian.AppendUint64(o.keyBuf, uint64(start))
	pe := o.pmap[string(o.keyBuf)]
	if pe == nil {
		if k := len(o.pfree); k > 0 {
			pe, o.pfree = o.pfree[k-1], o.pfree[:k-1]
			pe.accs.Reset()
			pe.start, pe.maxTS, pe.n = start, ts, 0
		} else {
			pe = &pentry{keyRow: make(datum.Row, o.nkeys), start: start, accs: o.newAccs(), maxTS: ts}
		}
		for i, c := range o.keyCols {
			pe.keyRow[i] = row[c]
		}
		o.pmap[string(o.keyBuf)] = pe
		o.porder = append(o.porder, pe)
	}
	o.keyBuf = o.keyBuf[:kl]
	if err := pe.accs.AddRow(vals); err != nil {
		return o.w.recordError(row, err)
	}
	if ts > pe.maxTS {
		pe.maxTS = ts
	}
	pe.n++
	return nil
}

// processPartial merges one partial row [keys..., start, accs, max_ts, n]
// (accs: every aggregate's encoded state in one BYTEA).
func (o *windowAggOp) processPartial(row datum.Row) error {
	k := o.nkeys
	start := row[k].Micros()
	end := start + o.spec.Size
	n := row[k+3].Int()
	wm := o.w.inWM
	if o.lateState(end, wm) == 2 {
		// Cannot happen when lateness is decided upstream (doc.go); kept
		// so a partial that arrives after cleanup is counted, not lost.
		o.w.bundleLate += n
		return nil
	}
	o.keyBuf = datum.AppendKeyRow(o.keyBuf[:0], row[:k])
	kw := o.keyFor(o.keyBuf, row[:k], nil)
	wn := o.windowFor(kw, start, wm)
	if _, err := o.scratch.Decode(unsafeBytes(row[k+1].Str())); err != nil {
		return err
	}
	if err := wn.accs.Merge(o.scratch); err != nil {
		return o.w.recordError(row, err)
	}
	o.touch(kw, wn)
	return nil
}

func (o *windowAggOp) keyFor(enc []byte, row datum.Row, keyRow datum.Row) *keyWins {
	kw := o.keys[string(enc)]
	if kw != nil {
		return kw
	}
	if keyRow == nil {
		keyRow = make(datum.Row, o.nkeys)
		if o.merge {
			copy(keyRow, row[:o.nkeys])
		} else {
			for i, c := range o.keyCols {
				keyRow[i] = row[c]
			}
		}
	}
	kw = &keyWins{hash: datum.HashRow(keyRow, nil), enc: string(enc), keyRow: keyRow}
	o.keys[kw.enc] = kw
	return kw
}

// windowFor finds or creates the window starting at start; a new window
// gets its firing timer.
func (o *windowAggOp) windowFor(kw *keyWins, start, wm int64) *win {
	for _, wn := range kw.wins {
		if wn.start == start && wn.size == 0 && !wn.deleted {
			return wn
		}
	}
	wn := &win{start: start, accs: o.newAccs()}
	kw.wins = append(kw.wins, wn)
	end := start + o.spec.Size
	if o.lateState(end, wm) == 0 {
		o.timers.Set(end-1, kw.hash, timerKey(timerFire, start, kw.enc))
	} else {
		// Late within lateness and never seen: its on-time pane is long
		// gone; emit it as a LATE pane and clean it up at end+lateness.
		wn.fired = true
		o.timers.Set(end-1+o.lateness, kw.hash, timerKey(timerCleanup, start, kw.enc))
	}
	return wn
}

func (o *windowAggOp) touch(kw *keyWins, wn *win) {
	wn.changed = true
	wn.dirty = true
	if !kw.isDirty {
		kw.isDirty = true
		o.dirty = append(o.dirty, kw)
	}
	if wn.fired && !kw.isLate {
		kw.isLate = true
		o.late = append(o.late, kw)
	}
}

func timerKey(kind byte, start int64, enc string) []byte {
	b := make([]byte, 0, 9+len(enc))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint64(b, uint64(start))
	return append(b, enc...)
}

func stateKey(start int64, enc string) []byte {
	b := make([]byte, 0, 8+len(enc))
	b = binary.BigEndian.AppendUint64(b, uint64(start))
	return append(b, enc...)
}

// A legacy window is one that was open when an update changed the window
// size (update.go): it keeps its own size, so it closes and reports its
// old bounds, while new rows open windows of the new size. Its state key
// and timers carry the size, so it never collides with a new window of the
// same start.

// winEnd is the end of window wn.
func (o *windowAggOp) winEnd(wn *win) int64 {
	if wn.size != 0 {
		return wn.start + wn.size
	}
	return wn.start + o.spec.Size
}

func winStateKey(wn *win, enc string) []byte {
	k := stateKey(wn.start, enc)
	if wn.size != 0 {
		k = binary.BigEndian.AppendUint64(k, uint64(wn.size))
	}
	return k
}

func winTimerKey(kind byte, wn *win, enc string) []byte {
	if wn.size == 0 {
		return timerKey(kind, wn.start, enc)
	}
	b := make([]byte, 0, 17+len(enc))
	b = append(b, kind|timerSized)
	b = binary.BigEndian.AppendUint64(b, uint64(wn.start))
	b = binary.BigEndian.AppendUint64(b, uint64(wn.size))
	return append(b, enc...)
}

func (o *windowAggOp) advance(wm, natural int64) error {
	if o.partial {
		return nil
	}
	return o.timers.PopDue(wm, func(t state.Timer) error {
		if len(t.Key) < 9 {
			return errors.New("executor: corrupt window timer")
		}
		kind := t.Key[0]
		start := int64(binary.BigEndian.Uint64(t.Key[1:9]))
		enc, size := t.Key[9:], int64(0)
		if kind&timerSized != 0 {
			if len(t.Key) < 17 {
				return errors.New("executor: corrupt window timer")
			}
			kind &^= timerSized
			size, enc = int64(binary.BigEndian.Uint64(t.Key[9:17])), t.Key[17:]
		}
		kw := o.keys[string(enc)]
		if kw == nil {
			return nil
		}
		var wn *win
		for _, c := range kw.wins {
			if c.start == start && c.size == size && !c.deleted {
				wn = c
			}
		}
		if wn == nil {
			return nil
		}
		end := o.winEnd(wn)
		if kind == timerFire {
			timing := paneOnTime
			if end > natural {
				timing = paneDrained
			}
			if err := o.emitPane(kw, wn, timing); err != nil {
				return err
			}
			wn.fired = true
			if o.lateness > 0 && wm != maxWM {
				o.timers.Set(end-1+o.lateness, kw.hash, winTimerKey(timerCleanup, wn, kw.enc))
				o.markDirty(kw, wn)
				return nil
			}
		} else if wn.changed {
			if err := o.emitPane(kw, wn, paneLate); err != nil {
				return err
			}
		}
		wn.deleted = true
		o.markDirty(kw, wn)
		return nil
	})
}

func (o *windowAggOp) markDirty(kw *keyWins, wn *win) {
	wn.dirty = true
	if !kw.isDirty {
		kw.isDirty = true
		o.dirty = append(o.dirty, kw)
	}
}

func (o *windowAggOp) emitPane(kw *keyWins, wn *win, timing string) error {
	out := make(datum.Row, 0, o.nkeys+4+o.accs.Len())
	out = append(out, kw.keyRow...)
	out = append(out, datum.NewTimestamp(wn.start), datum.NewTimestamp(o.winEnd(wn)))
	out = wn.accs.AppendResults(out)
	out = append(out, datum.NewString(timing), datum.NewInt(wn.pane))
	wn.pane++
	wn.changed = false
	return o.out(out)
}

func (o *windowAggOp) tick(now int64) error {
	if o.partial || o.w.job.plan.Options.EmitEarly <= 0 {
		return nil
	}
	for _, kw := range o.keys {
		for _, wn := range kw.wins {
			if !wn.deleted && !wn.fired && wn.changed {
				if err := o.emitPane(kw, wn, paneEarly); err != nil {
					return err
				}
				o.markDirty(kw, wn)
			}
		}
	}
	return nil
}

func (o *windowAggOp) flush() error {
	if o.partial {
		// Encode every entry's accumulators into one arena, turned into
		// one string, so each row's BYTEA is a substring: one allocation
		// per bundle instead of one per row.
		o.arena = o.arena[:0]
		o.ends = o.ends[:0]
		for _, pe := range o.porder {
			o.arena = pe.accs.Append(o.arena)
			o.ends = append(o.ends, len(o.arena))
		}
		arena := string(o.arena)
		rows := make([]datum.Datum, len(o.porder)*(o.nkeys+4))
		prev := 0
		for i, pe := range o.porder {
			out := rows[: 0 : o.nkeys+4]
			rows = rows[o.nkeys+4:]
			out = append(out, pe.keyRow...)
			out = append(out, datum.NewTimestamp(pe.start), datum.NewBytesString(arena[prev:o.ends[i]]),
				datum.NewTimestamp(pe.maxTS), datum.NewInt(pe.n))
			prev = o.ends[i]
			if err := o.out(out); err != nil {
				return err
			}
		}
		clear(o.pmap)
		// The emitted rows copied the entries' keys and encoded their
		// accumulators: the entries are free for the next bundle.
		for _, pe := range o.porder {
			clear(pe.keyRow)
		}
		o.pfree = append(o.pfree, o.porder...)
		clear(o.porder)
		o.porder = o.porder[:0]
		return nil
	}
	// LATE panes for windows updated after they fired.
	for _, kw := range o.late {
		kw.isLate = false
		for _, wn := range kw.wins {
			if wn.fired && wn.changed && !wn.deleted {
				if err := o.emitPane(kw, wn, paneLate); err != nil {
					return err
				}
			}
		}
	}
	o.late = o.late[:0]
	// Persist what changed.
	var buf []byte
	for _, kw := range o.dirty {
		kw.isDirty = false
		live := kw.wins[:0]
		for _, wn := range kw.wins {
			if wn.dirty {
				wn.dirty = false
				if wn.deleted {
					o.vs.Delete(kw.hash, winStateKey(wn, kw.enc))
				} else {
					buf = encodeWin(buf[:0], wn)
					o.vs.Put(kw.hash, winStateKey(wn, kw.enc), append([]byte(nil), buf...))
				}
			}
			if !wn.deleted {
				live = append(live, wn)
			}
		}
		for i := len(live); i < len(kw.wins); i++ {
			kw.wins[i] = nil
		}
		kw.wins = live
		if len(live) == 0 {
			delete(o.keys, kw.enc)
		}
	}
	o.dirty = o.dirty[:0]
	o.vs.FlushRange(o.w.batch, o.w.lo, o.w.hiExcl())
	o.timers.Flush(o.w.batch)
	return nil
}

func encodeWin(b []byte, wn *win) []byte {
	b = binary.AppendVarint(b, wn.pane)
	var flags byte
	if wn.fired {
		flags |= 1
	}
	if wn.changed {
		flags |= 2
	}
	if wn.size != 0 {
		flags |= winFlagSized
	}
	b = append(b, flags)
	if wn.size != 0 {
		b = binary.AppendVarint(b, wn.size)
	}
	return wn.accs.Append(b)
}

func (o *windowAggOp) decodeWin(start int64, v []byte) (*win, error) {
	wn := &win{start: start, accs: o.newAccs()}
	p, n := binary.Varint(v)
	if n <= 0 || len(v) < n+1 {
		return nil, errors.New("executor: corrupt window state")
	}
	wn.pane = p
	wn.fired = v[n]&1 != 0
	wn.changed = v[n]&2 != 0
	rest := v[n+1:]
	if v[n]&winFlagSized != 0 {
		size, m := binary.Varint(rest)
		if m <= 0 || size <= 0 {
			return nil, errors.New("executor: corrupt window state")
		}
		wn.size, rest = size, rest[m:]
	}
	if _, err := wn.accs.Decode(rest); err != nil {
		return nil, err
	}
	return wn, nil
}

func (o *windowAggOp) load() error {
	if o.partial {
		return nil
	}
	if err := o.timers.Load(); err != nil {
		return err
	}
	return o.vs.Scan(o.w.lo, o.w.hiExcl(), func(hash uint64, key, val []byte) error {
		if len(key) < 8 {
			return errors.New("executor: corrupt window state key")
		}
		start := int64(binary.BigEndian.Uint64(key))
		enc := key[8:]
		keyRow, rest, err := datum.DecodeKeyRow(enc, o.nkeys)
		if err != nil {
			return err
		}
		enc = enc[:len(enc)-len(rest)] // a legacy window's key ends with its size
		wn, err := o.decodeWin(start, val)
		if err != nil {
			return err
		}
		kw := o.keys[string(enc)]
		if kw == nil {
			kw = &keyWins{hash: hash, enc: string(enc), keyRow: keyRow}
			o.keys[kw.enc] = kw
		}
		kw.wins = append(kw.wins, wn)
		return nil
	})
}

// unsafeBytes views a string's bytes without copying; the bytes must not
// be modified (decoders only read them).
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// closeOp stops the timers' background loader.
func (o *windowAggOp) closeOp() {
	if o.timers != nil {
		o.timers.Close()
	}
}
