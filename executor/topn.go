package executor

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"sort"
	"sync/atomic"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// topNOp runs a plan.TopNOp: per partition of a window it keeps the
// first N rows in the op's order and, when the watermark passes the
// window's end, emits them numbered. Like slicedAggOp it needs no timers:
// partitions are listed under their window's end, and after a restart the
// ends at or below the committed watermark are known to have fired. A
// partition's rows are one store entry, rewritten when the bundle changes
// them and deleted when the window fires:
//
//	StateKey(ns, op, hash(partition key), key encoding)   rows (datum.AppendRow each)
type topNOp struct {
	baseOp
	plan      *plan.TopNOp
	parts     map[string]*tpart
	sched     endHeap
	due       map[int64][]*tpart
	dirty     []*tpart
	lastFired int64
	prefix    []byte
	keyBuf    []byte
	kbuf      []byte
	vbuf      []byte
	bytes     int64
	shared    *atomic.Int64
}

// tpart is one partition's best rows so far, in order.
type tpart struct {
	hash    uint64
	enc     string
	end     int64
	rows    []datum.Row
	size    int64 // bytes accounted
	isDirty bool
	gone    bool
}

func newTopNOp(b baseOp, p *plan.TopNOp) (operator, error) {
	o := &topNOp{baseOp: b, plan: p, parts: map[string]*tpart{}, due: map[int64][]*tpart{}, lastFired: b.w.inWM}
	o.prefix = state.StateKeyPrefix(b.w.job.meta.StateNS, b.opName)
	o.shared = sharedOpBytes(b.w.job, b.opName)
	return o, nil
}

func (o *topNOp) stateful() bool    { return true }
func (o *topNOp) stateBytes() int64 { return o.shared.Load() }

// less orders rows: by the op's keys (NULLs placed as asked), then by the
// whole row, so ties rank deterministically.
func (o *topNOp) less(a, b datum.Row) bool {
	for _, k := range o.plan.Order {
		x, y := a[k.Col], b[k.Col]
		var c int
		switch {
		case x.IsNull() && y.IsNull():
			c = 0
		case x.IsNull():
			c = 1
			if k.NullsFirst {
				c = -1
			}
		case y.IsNull():
			c = -1
			if k.NullsFirst {
				c = 1
			}
		default:
			c = datum.Compare(x, y)
			if k.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c < 0
		}
	}
	return datum.CompareRows(a, b) < 0
}

func (o *topNOp) windowEnd(row datum.Row) int64 {
	v := row[o.plan.WindowCol].Micros()
	if o.plan.WindowEnd {
		return v
	}
	return v + o.plan.Size
}

func (o *topNOp) process(row datum.Row) error {
	end := o.windowEnd(row)
	if end <= o.lastFired {
		o.w.bundleLate++ // its window fired: cannot happen for on-time input
		return nil
	}
	o.keyBuf = o.keyBuf[:0]
	for _, c := range o.plan.Keys {
		o.keyBuf = datum.AppendKey(o.keyBuf, row[c])
	}
	pt := o.parts[string(o.keyBuf)]
	if pt == nil {
		pt = &tpart{hash: datum.HashRow(row, o.plan.Keys), enc: string(o.keyBuf), end: end}
		o.parts[pt.enc] = pt
		o.schedule(pt)
	}
	n := int64(len(pt.rows))
	if o.plan.N > 0 && n >= o.plan.N && !o.less(row, pt.rows[n-1]) {
		return nil // not among the first N
	}
	i := sort.Search(len(pt.rows), func(i int) bool { return o.less(row, pt.rows[i]) })
	pt.rows = append(pt.rows, nil)
	copy(pt.rows[i+1:], pt.rows[i:])
	pt.rows[i] = row
	if o.plan.N > 0 && int64(len(pt.rows)) > o.plan.N {
		pt.rows[len(pt.rows)-1] = nil
		pt.rows = pt.rows[:o.plan.N]
	}
	if !pt.isDirty {
		pt.isDirty = true
		o.dirty = append(o.dirty, pt)
	}
	return nil
}

func (o *topNOp) schedule(pt *tpart) {
	l, ok := o.due[pt.end]
	if !ok {
		heap.Push(&o.sched, pt.end)
	}
	o.due[pt.end] = append(l, pt)
}

func (o *topNOp) advance(wm, natural int64) error {
	for len(o.sched) > 0 && o.sched[0] <= wm {
		e := heap.Pop(&o.sched).(int64)
		for _, pt := range o.due[e] {
			for i, r := range pt.rows {
				out := make(datum.Row, len(r), len(r)+1)
				copy(out, r)
				if err := o.out(append(out, datum.NewInt(int64(i+1)))); err != nil {
					return err
				}
			}
			o.w.batch.Delete(o.stateKey(pt))
			o.addBytes(-pt.size)
			pt.gone = true
			delete(o.parts, pt.enc)
		}
		delete(o.due, e)
	}
	if wm > o.lastFired {
		o.lastFired = wm
	}
	return nil
}

func (o *topNOp) stateKey(pt *tpart) []byte {
	b := append(o.kbuf[:0], o.prefix...)
	b = binary.BigEndian.AppendUint64(b, pt.hash)
	b = append(b, pt.enc...)
	o.kbuf = b
	return b
}

func (o *topNOp) addBytes(d int64) {
	o.bytes += d
	o.shared.Add(d)
}

func (o *topNOp) flush() error {
	for _, pt := range o.dirty {
		pt.isDirty = false
		if pt.gone {
			continue
		}
		v := binary.AppendUvarint(o.vbuf[:0], uint64(len(pt.rows)))
		for _, r := range pt.rows {
			v = datum.AppendRow(v, r)
		}
		o.vbuf = v
		o.w.batch.Set(o.stateKey(pt), v)
		n := int64(len(v) + len(pt.enc) + 64)
		o.addBytes(n - pt.size)
		pt.size = n
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
	return nil
}

var errCorruptTopN = errors.New("executor: corrupt top-N state")

func (o *topNOp) load() error {
	o.lastFired = o.w.inWM
	lo, hi := state.StateSpan(o.w.job.meta.StateNS, o.opName, o.w.lo, o.w.hiExcl())
	np := len(o.prefix)
	return o.w.job.x.cfg.Store.Scan(lo, hi, func(key, val []byte) error {
		if len(key) < np+8 {
			return errCorruptTopN
		}
		pt := &tpart{hash: binary.BigEndian.Uint64(key[np:]), enc: string(key[np+8:]), size: int64(len(val) + len(key) - np + 56)}
		n, w := binary.Uvarint(val)
		if w <= 0 || n == 0 {
			return errCorruptTopN
		}
		val = val[w:]
		for i := uint64(0); i < n; i++ {
			r, rest, err := datum.DecodeRow(val)
			if err != nil {
				return err
			}
			pt.rows = append(pt.rows, r)
			val = rest
		}
		pt.end = o.windowEnd(pt.rows[0])
		o.parts[pt.enc] = pt
		o.addBytes(pt.size)
		o.schedule(pt)
		return nil
	})
}

func (o *topNOp) closeOp() {
	o.shared.Add(-o.bytes)
	o.bytes = 0
	releaseOpBytes(o.w.job, o.opName)
}
