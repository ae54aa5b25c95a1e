package executor

import (
	"encoding/binary"
	"errors"
	"math"
	"sort"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// retractAggOp runs a plan.RetractAggOp: a continuous aggregation over
// an updating stream (the last input column is the op column: true adds a
// row, false takes one back). Its accumulators can take values back:
// counts and sums subtract, min and max keep a count per distinct value.
// Its output is an updating stream too: per bundle, every group that
// changed retracts the row it emitted before (if it had rows) and inserts
// its new one (if it still has rows). State is one ValueState entry per
// group, written at the bundle's end.
type retractAggOp struct {
	baseOp
	plan    *plan.RetractAggOp
	keyCols []int
	args    []expr.Evaluator
	kinds   []raccKind
	groups  map[string]*rgroup
	changed []*rgroup
	vs      *state.ValueState
	keyBuf  []byte
}

type raccKind uint8

const (
	raccCountStar raccKind = iota
	raccCount
	raccSumInt
	raccSumFloat
	raccAvg
	raccMin
	raccMax
)

type rgroup struct {
	hash    uint64
	enc     string
	keyRow  datum.Row
	rows    int64 // net rows
	accs    []racc
	changed bool
	prev    datum.Row // the row emitted before this bundle's changes
}

// racc is one retractable accumulator.
type racc struct {
	n    int64   // values (rows for count(*))
	i    int64   // integer sum
	f    float64 // float sum
	vals map[string]*rval
}

// rval is one distinct value of a min or max, with its multiplicity.
type rval struct {
	d datum.Datum
	n int64
}

func newRetractAggOp(b baseOp, p *plan.RetractAggOp) (operator, error) {
	o := &retractAggOp{baseOp: b, plan: p, keyCols: p.KeyCols, groups: map[string]*rgroup{}}
	for _, a := range p.Aggs {
		var ev expr.Evaluator
		if a.Arg != nil {
			var err error
			if ev, err = expr.Compile(a.Arg); err != nil {
				return nil, err
			}
		}
		o.args = append(o.args, ev)
		var k raccKind
		switch {
		case a.Fn == "count" && a.Arg == nil:
			k = raccCountStar
		case a.Fn == "count":
			k = raccCount
		case a.Fn == "sum" && a.Typ == datum.TypeInt8:
			k = raccSumInt
		case a.Fn == "sum":
			k = raccSumFloat
		case a.Fn == "avg":
			k = raccAvg
		case a.Fn == "min":
			k = raccMin
		case a.Fn == "max":
			k = raccMax
		default:
			return nil, errors.New("executor: aggregate " + a.Fn + " cannot take values back")
		}
		o.kinds = append(o.kinds, k)
	}
	o.vs = b.w.job.valueState(o.opName)
	return o, nil
}

func (o *retractAggOp) stateful() bool    { return true }
func (o *retractAggOp) stateBytes() int64 { return o.vs.Bytes() }

func (o *retractAggOp) process(row datum.Row) error {
	insert := row[len(row)-1].Bool()
	var sign int64 = 1
	if !insert {
		sign = -1
	}
	o.keyBuf = o.keyBuf[:0]
	for _, c := range o.keyCols {
		o.keyBuf = datum.AppendKey(o.keyBuf, row[c])
	}
	g := o.groups[string(o.keyBuf)]
	if g == nil {
		kr := make(datum.Row, len(o.keyCols))
		for i, c := range o.keyCols {
			kr[i] = row[c]
		}
		g = &rgroup{hash: datum.HashRow(kr, nil), enc: string(o.keyBuf), keyRow: kr, accs: make([]racc, len(o.kinds))}
		o.groups[g.enc] = g
	}
	if !g.changed {
		g.changed = true
		o.changed = append(o.changed, g)
		if g.rows > 0 {
			g.prev = o.resultRow(g)
		}
	}
	g.rows += sign
	for i, k := range o.kinds {
		a := &g.accs[i]
		if k == raccCountStar {
			a.n += sign
			continue
		}
		v, err := o.args[i](row)
		if err != nil {
			return o.w.recordError(row, err)
		}
		if v.IsNull() {
			continue
		}
		a.n += sign
		switch k {
		case raccSumInt:
			a.i += sign * v.Int()
		case raccSumFloat, raccAvg:
			a.f += float64(sign) * v.AsFloat()
		case raccMin, raccMax:
			if a.vals == nil {
				a.vals = map[string]*rval{}
			}
			kb := string(datum.AppendKey(nil, v))
			e := a.vals[kb]
			if e == nil {
				e = &rval{d: v}
				a.vals[kb] = e
			}
			if e.n += sign; e.n <= 0 {
				delete(a.vals, kb)
			}
		}
	}
	return nil
}

func (o *retractAggOp) result(k raccKind, a *racc) datum.Datum {
	switch k {
	case raccCountStar, raccCount:
		return datum.NewInt(a.n)
	}
	if a.n <= 0 {
		return datum.Null
	}
	switch k {
	case raccSumInt:
		return datum.NewInt(a.i)
	case raccSumFloat:
		return datum.NewFloat(a.f)
	case raccAvg:
		return datum.NewFloat(a.f / float64(a.n))
	}
	var best datum.Datum
	first := true
	for _, e := range a.vals {
		c := 0
		if !first {
			c = datum.Compare(e.d, best)
		}
		if first || (k == raccMin && c < 0) || (k == raccMax && c > 0) {
			best, first = e.d, false
		}
	}
	if first {
		return datum.Null
	}
	return best
}

// resultRow is group g's current output row, without the op column.
func (o *retractAggOp) resultRow(g *rgroup) datum.Row {
	out := make(datum.Row, 0, len(g.keyRow)+len(o.kinds)+1)
	out = append(out, g.keyRow...)
	for i, k := range o.kinds {
		out = append(out, o.result(k, &g.accs[i]))
	}
	return out
}

func (o *retractAggOp) flush() error {
	var buf []byte
	for _, g := range o.changed {
		g.changed = false
		if g.prev != nil {
			if err := o.out(append(g.prev, datum.NewBool(false))); err != nil {
				return err
			}
			g.prev = nil
		}
		if g.rows <= 0 {
			delete(o.groups, g.enc)
			o.vs.Delete(g.hash, []byte(g.enc))
			continue
		}
		if err := o.out(append(o.resultRow(g), datum.NewBool(true))); err != nil {
			return err
		}
		buf = encodeRGroup(buf[:0], g)
		o.vs.Put(g.hash, []byte(g.enc), append([]byte(nil), buf...))
	}
	o.changed = o.changed[:0]
	o.vs.FlushRange(o.w.batch, o.w.lo, o.w.hiExcl())
	return nil
}

func encodeRGroup(b []byte, g *rgroup) []byte {
	b = binary.AppendVarint(b, g.rows)
	for i := range g.accs {
		a := &g.accs[i]
		b = binary.AppendVarint(b, a.n)
		b = binary.AppendVarint(b, a.i)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.f))
		keys := make([]string, 0, len(a.vals))
		for k := range a.vals {
			keys = append(keys, k)
		}
		sort.Strings(keys) // deterministic encoding
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = datum.AppendValue(b, a.vals[k].d)
			b = binary.AppendVarint(b, a.vals[k].n)
		}
	}
	return b
}

var errCorruptRetract = errors.New("executor: corrupt aggregate state")

func (o *retractAggOp) load() error {
	return o.vs.Scan(o.w.lo, o.w.hiExcl(), func(hash uint64, key, val []byte) error {
		keyRow, _, err := datum.DecodeKeyRow(key, len(o.keyCols))
		if err != nil {
			return err
		}
		g := &rgroup{hash: hash, enc: string(key), keyRow: keyRow, accs: make([]racc, len(o.kinds))}
		var n int
		if g.rows, n = binary.Varint(val); n <= 0 {
			return errCorruptRetract
		}
		val = val[n:]
		for i := range g.accs {
			a := &g.accs[i]
			if a.n, n = binary.Varint(val); n <= 0 {
				return errCorruptRetract
			}
			val = val[n:]
			if a.i, n = binary.Varint(val); n <= 0 {
				return errCorruptRetract
			}
			val = val[n:]
			if len(val) < 8 {
				return errCorruptRetract
			}
			a.f = math.Float64frombits(binary.LittleEndian.Uint64(val))
			val = val[8:]
			cnt, n := binary.Uvarint(val)
			if n <= 0 {
				return errCorruptRetract
			}
			val = val[n:]
			for j := uint64(0); j < cnt; j++ {
				var d datum.Datum
				if d, val, err = datum.DecodeValue(val); err != nil {
					return err
				}
				c, n := binary.Varint(val)
				if n <= 0 {
					return errCorruptRetract
				}
				val = val[n:]
				if a.vals == nil {
					a.vals = map[string]*rval{}
				}
				a.vals[string(datum.AppendKey(nil, d))] = &rval{d: d, n: c}
			}
		}
		o.groups[g.enc] = g
		return nil
	})
}
