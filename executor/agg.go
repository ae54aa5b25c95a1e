package executor

import (
	"errors"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// aggOp is a continuous (non-windowed) aggregation. Partial: a per-bundle
// combiner emitting [keys..., acc...]. Merge/unlifted: durable per-key
// accumulators; at the end of each bundle the current result of every key
// that changed is emitted as [keys..., result...] (an upsert downstream).
type aggOp struct {
	baseOp
	plan    *plan.AggOp
	keyCols []int
	nkeys   int
	args    []expr.Evaluator
	accs    *expr.AccSetFactory
	scratch expr.AccSet
	partial bool
	merge   bool

	groups  map[string]*group
	changed []*group
	vs      *state.ValueState
	keyBuf  []byte
}

type group struct {
	hash    uint64
	enc     string
	keyRow  datum.Row
	accs    expr.AccSet
	changed bool
	// Retract (plan.AggOp): emitted says a result row was emitted
	// before; prev is that row, saved when the bundle first changes it.
	emitted bool
	prev    datum.Row
}

func newAggOp(b baseOp, p *plan.AggOp) (operator, error) {
	o := &aggOp{baseOp: b, plan: p, keyCols: p.KeyCols, nkeys: len(p.KeyCols), partial: p.Partial, merge: p.Merge,
		groups: make(map[string]*group), accs: expr.NewAccSet(p.Aggs)}
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
	if !o.partial {
		o.vs = b.w.job.valueState(o.opName)
	}
	return o, nil
}

func (o *aggOp) stateful() bool { return !o.partial }

func (o *aggOp) stateBytes() int64 {
	if o.vs == nil {
		return 0
	}
	return o.vs.Bytes()
}

func (o *aggOp) groupFor(enc []byte, keyRow func() datum.Row) *group {
	g := o.groups[string(enc)]
	if g == nil {
		kr := keyRow()
		g = &group{hash: datum.HashRow(kr, nil), enc: string(enc), keyRow: kr, accs: o.accs.New()}
		o.groups[g.enc] = g
	}
	if !g.changed {
		g.changed = true
		o.changed = append(o.changed, g)
		if o.plan.Retract && g.emitted {
			g.prev = g.accs.AppendResults(append(make(datum.Row, 0, o.nkeys+o.accs.Len()+1), g.keyRow...))
		}
	}
	return g
}

func (o *aggOp) process(row datum.Row) error {
	if o.merge {
		o.keyBuf = datum.AppendKeyRow(o.keyBuf[:0], row[:o.nkeys])
		g := o.groupFor(o.keyBuf, func() datum.Row { return row[:o.nkeys:o.nkeys].Copy() })
		if _, err := o.scratch.Decode(unsafeBytes(row[o.nkeys].Str())); err != nil {
			return err
		}
		if err := g.accs.Merge(o.scratch); err != nil {
			return o.w.recordError(row, err)
		}
		return nil
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
	g := o.groupFor(o.keyBuf, func() datum.Row {
		kr := make(datum.Row, o.nkeys)
		for i, c := range o.keyCols {
			kr[i] = row[c]
		}
		return kr
	})
	if err := g.accs.AddRow(vals); err != nil {
		return o.w.recordError(row, err)
	}
	return nil
}

func (o *aggOp) flush() error {
	var buf []byte
	for _, g := range o.changed {
		g.changed = false
		out := make(datum.Row, 0, o.nkeys+o.accs.Len()+1)
		out = append(out, g.keyRow...)
		if o.partial {
			out = append(out, datum.NewBytes(g.accs.Append(nil)))
		} else {
			out = g.accs.AppendResults(out)
		}
		if o.plan.Retract {
			// An updating stream: retract the previous row, then insert.
			if g.prev != nil {
				if err := o.out(append(g.prev, datum.NewBool(false))); err != nil {
					return err
				}
				g.prev = nil
			}
			g.emitted = true
			out = append(out, datum.NewBool(true))
		}
		if err := o.out(out); err != nil {
			return err
		}
		if !o.partial {
			buf = g.accs.Append(buf[:0])
			o.vs.Put(g.hash, []byte(g.enc), append([]byte(nil), buf...))
		}
	}
	o.changed = o.changed[:0]
	if o.partial {
		clear(o.groups)
		return nil
	}
	o.vs.FlushRange(o.w.batch, o.w.lo, o.w.hiExcl())
	return nil
}

func (o *aggOp) load() error {
	if o.partial {
		return nil
	}
	return o.vs.Scan(o.w.lo, o.w.hiExcl(), func(hash uint64, key, val []byte) error {
		keyRow, _, err := datum.DecodeKeyRow(key, o.nkeys)
		if err != nil {
			return err
		}
		g := &group{hash: hash, enc: string(key), keyRow: keyRow, accs: o.accs.New(), emitted: true}
		if val, err = g.accs.Decode(val); err != nil {
			return err
		}
		if len(val) != 0 {
			return errors.New("executor: corrupt aggregate state")
		}
		o.groups[g.enc] = g
		return nil
	})
}
