package executor

import (
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/table"
)

// lookupJoinOp runs a plan.LookupJoinOp: each input row is joined with
// the current rows of a table, read through the table package. What it
// reads is cached for one bundle only (a point read per distinct key, or
// one index of the whole table), so a change to the table applies from
// the next bundle on.
type lookupJoinOp struct {
	baseOp
	plan       *plan.LookupJoinOp
	point      bool
	filter     expr.Predicate
	exprs      []expr.Evaluator
	residual   expr.Predicate
	width      int // table side columns
	keyBuf     []byte
	pk         datum.Row
	cache      map[string][]datum.Row // this bundle's reads, by key encoding
	indexed    bool
	streamCols int
}

func newLookupJoinOp(b baseOp, p *plan.LookupJoinOp) (operator, error) {
	o := &lookupJoinOp{baseOp: b, plan: p, point: p.PointLookup(), width: len(p.TableExprs), cache: map[string][]datum.Row{}}
	var err error
	if p.TableFilter != nil {
		if o.filter, err = expr.CompilePredicate(p.TableFilter); err != nil {
			return nil, err
		}
	}
	for _, e := range p.TableExprs {
		ev, err := expr.Compile(e)
		if err != nil {
			return nil, err
		}
		o.exprs = append(o.exprs, ev)
	}
	if p.Residual != nil {
		if o.residual, err = expr.CompilePredicate(p.Residual); err != nil {
			return nil, err
		}
	}
	o.streamCols = len(p.Schema) - o.width
	o.pk = make(datum.Row, len(p.StreamKeys))
	return o, nil
}

// side turns a stored table row into the join's table side, or nil when
// the table filter rejects it.
func (o *lookupJoinOp) side(stored datum.Row) (datum.Row, error) {
	if o.filter != nil {
		ok, err := o.filter(stored)
		if err != nil || !ok {
			return nil, err
		}
	}
	out := make(datum.Row, len(o.exprs))
	for i, ev := range o.exprs {
		d, err := ev(stored)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// index reads the whole table into the cache, by the encoding of its key
// columns (once per bundle).
func (o *lookupJoinOp) index() error {
	o.indexed = true
	var kb []byte
	return table.Scan(o.w.job.x.cfg.Store, o.plan.TableID, func(_ []byte, stored datum.Row) error {
		if len(stored) != len(o.plan.TableSchema) {
			return pgerr.New(pgerr.InternalError, "lookup join: table %s has a row of %d columns, not %d", o.plan.Table, len(stored), len(o.plan.TableSchema))
		}
		kb = kb[:0]
		for _, c := range o.plan.TableKeys {
			if stored[c].IsNull() {
				return nil
			}
			kb = datum.AppendKey(kb, stored[c])
		}
		side, err := o.side(stored)
		if err != nil {
			return o.w.recordError(stored, err)
		}
		if side != nil {
			o.cache[string(kb)] = append(o.cache[string(kb)], side)
		}
		return nil
	})
}

// lookup returns the table side rows matching the key in o.keyBuf.
func (o *lookupJoinOp) lookup() ([]datum.Row, error) {
	if rows, ok := o.cache[string(o.keyBuf)]; ok || o.indexed {
		return rows, nil
	}
	if !o.point {
		if err := o.index(); err != nil {
			return nil, err
		}
		return o.cache[string(o.keyBuf)], nil
	}
	var rows []datum.Row
	stored, ok, err := table.Get(o.w.job.x.cfg.Store, o.plan.TableID, o.pk)
	if err != nil {
		return nil, err
	}
	if ok {
		side, err := o.side(stored)
		if err != nil {
			if err := o.w.recordError(stored, err); err != nil {
				return nil, err
			}
		} else if side != nil {
			rows = []datum.Row{side}
		}
	}
	o.cache[string(o.keyBuf)] = rows
	return rows, nil
}

func (o *lookupJoinOp) process(row datum.Row) error {
	o.keyBuf = o.keyBuf[:0]
	var rows []datum.Row
	null := false
	for i, c := range o.plan.StreamKeys {
		if row[c].IsNull() {
			null = true
			break
		}
		o.pk[i] = row[c]
		o.keyBuf = datum.AppendKey(o.keyBuf, row[c])
	}
	if !null {
		var err error
		if rows, err = o.lookup(); err != nil {
			return err
		}
	}
	matched := false
	for _, t := range rows {
		out := make(datum.Row, 0, o.streamCols+o.width)
		out = append(append(out, row[:o.streamCols]...), t...)
		if o.residual != nil {
			ok, err := o.residual(out)
			if err != nil {
				if err := o.w.recordError(row, err); err != nil {
					return err
				}
				continue
			}
			if !ok {
				continue
			}
		}
		matched = true
		if err := o.out(out); err != nil {
			return err
		}
	}
	if !matched && o.plan.Outer {
		out := make(datum.Row, o.streamCols+o.width)
		copy(out, row[:o.streamCols])
		return o.out(out)
	}
	return nil
}

// flush forgets the bundle's reads: the next bundle sees the table as it
// is then.
func (o *lookupJoinOp) flush() error {
	clear(o.cache)
	o.indexed = false
	return nil
}

// unionOp passes the rows of every input of its stage on unchanged.
type unionOp struct{ baseOp }

func (o *unionOp) process(row datum.Row) error { return o.out(row) }

// lateGateOp drops the rows that are late for a join (plan.LateGateOp):
// TimeCol below the watermark the record is judged against, plus Delta.
type lateGateOp struct {
	baseOp
	col   int
	delta int64
}

func (o *lateGateOp) process(row datum.Row) error {
	d := row[o.col]
	if d.IsNull() {
		return o.w.recordError(row, pgerr.New(pgerr.NullValueNotAllowed, "event time is NULL"))
	}
	if wm := o.w.gateWM(); wm != minWM && d.Micros()-o.delta < wm {
		o.w.bundleLate++
		return nil
	}
	return o.out(row)
}
