package query

import (
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/planner"
)

// Point lookups: a filter over a keyed table whose conjuncts fix every
// primary key column to a constant (k = 5, k = $1) reads the one row with
// that key through Env.Lookup, then checks the whole condition on it.

// pointKey returns the primary key values pred fixes on scan's table, if
// it fixes all of them. A NULL value fixes nothing (no row matches; the
// scan-and-filter path says so as well).
func (r *runner) pointKey(scan *planner.Scan, pred expr.Expr) (datum.Row, bool, error) {
	rel := scan.Rel
	if rel == nil || rel.Kind != catalog.RelTable || rel.Table == nil || len(rel.Table.PrimaryKey) == 0 {
		return nil, false, nil
	}
	p, err := r.prepare(pred)
	if err != nil {
		return nil, false, err
	}
	fixed := map[int]datum.Datum{}
	for _, c := range splitAnd(p, nil) {
		call, ok := c.(*expr.Call)
		if !ok || call.Fn != "=" || len(call.Args) != 2 {
			continue
		}
		col, k := call.Args[0], call.Args[1]
		if _, isCol := col.(*expr.Col); !isCol {
			col, k = k, col
		}
		cc, ok1 := col.(*expr.Col)
		kc, ok2 := k.(*expr.Const)
		if !ok1 || !ok2 || kc.Val.IsNull() || cc.Idx < 0 || cc.Idx >= len(rel.Columns) {
			continue
		}
		ct := rel.Columns[cc.Idx].Type
		if cc.Typ != ct || kc.Typ != ct || kc.Val.Kind() != ct.Kind() {
			continue // a conversion is involved: let the filter decide
		}
		fixed[cc.Idx] = kc.Val
	}
	key := make(datum.Row, len(rel.Table.PrimaryKey))
	for i, c := range rel.Table.PrimaryKey {
		v, ok := fixed[c]
		if !ok {
			return nil, false, nil
		}
		key[i] = v
	}
	return key, true, nil
}

// lookup emits the row with primary key key if pred holds for it.
func (r *runner) lookup(scan *planner.Scan, key datum.Row, pred predicate, emit emitFunc) error {
	row, found, err := r.env.Lookup(r.ctx, scan.Rel, key)
	if err != nil || !found {
		return err
	}
	if width := len(scan.Cols); len(row) > width {
		row = row[:width:width]
	}
	ok, err := pred(row)
	if err != nil || !ok {
		return err
	}
	return emit(row)
}
