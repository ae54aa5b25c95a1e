package query

import (
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

// Joins materialize one side (the build side) and stream the other (the
// probe side) past it. The On condition is split into its AND-ed conjuncts;
// those of the form f(left) = g(right) become hash keys (a NULL key matches
// nothing), the rest are evaluated on each candidate pair. Without hash
// keys every pair is a candidate (nested loops).
//
// The probe side is the left input, except for RIGHT joins, where it is the
// right one, so that the outer side is always the streamed one (or, for
// FULL joins, both: unmatched build rows are emitted after the probe).

func (r *runner) execJoin(n *planner.Join, emit emitFunc) error {
	nl, nr := len(n.Left.Schema()), len(n.Right.Schema())
	width := nl + nr
	var conjuncts []expr.Expr
	if n.On != nil {
		on, err := r.prepare(n.On)
		if err != nil {
			return err
		}
		conjuncts = splitAnd(on, nil)
	}
	// Sort the conjuncts: hash keys, conditions on one side only (checked
	// once per row of that side), and the rest (checked per pair). A
	// constant TRUE conjunct drops out; a constant FALSE or NULL one leaves
	// no pairs.
	never := false
	var leftKeys, rightKeys, leftOnly, rightOnly, residual []expr.Expr
	for _, c := range conjuncts {
		if k, ok := c.(*expr.Const); ok {
			if k.Val.IsNull() || (k.Val.Kind() == datum.KindBool && !k.Val.Bool()) {
				never = true
			}
			continue
		}
		if l, rt, ok := equiKey(c, nl, width); ok {
			leftKeys = append(leftKeys, l)
			rightKeys = append(rightKeys, rt)
			continue
		}
		switch exprSide(c, nl, width) {
		case sideLeft, sideNone:
			leftOnly = append(leftOnly, c)
		case sideRight:
			rightOnly = append(rightOnly, c)
		default:
			residual = append(residual, c)
		}
	}

	j := &joiner{r: r, nl: nl, nr: nr, never: never, emit: emit}
	switch n.Kind {
	case plan.InnerJoin, plan.CrossJoin:
	case plan.LeftJoin:
		j.probeOuter = true
	case plan.RightJoin:
		j.probeOuter = true
	case plan.FullJoin:
		j.probeOuter, j.buildOuter = true, true
	default:
		return internalf("unknown join kind %d", n.Kind)
	}
	probe, build := n.Left, n.Right
	probeKeys, buildKeys := leftKeys, rightKeys
	probeOnly, buildOnly := leftOnly, rightOnly
	if n.Kind == plan.RightJoin {
		probe, build = n.Right, n.Left
		probeKeys, buildKeys = rightKeys, leftKeys
		probeOnly, buildOnly = rightOnly, leftOnly
		j.probeRight = true
	}
	var err error
	if j.probeKeys, err = r.compileAll(probeKeys); err != nil {
		return err
	}
	if j.buildKeys, err = r.compileAll(buildKeys); err != nil {
		return err
	}
	if j.probeFilter, err = r.compileConj(probeOnly); err != nil {
		return err
	}
	if j.buildFilter, err = r.compileConj(buildOnly); err != nil {
		return err
	}
	if j.residual, err = r.compileConj(residual); err != nil {
		return err
	}
	j.scratch = make(datum.Row, width)
	if err := j.buildTable(build); err != nil {
		return err
	}
	if (len(j.rows) == 0 || never) && !j.probeOuter {
		// Nothing can match: skip the probe side.
	} else if err := r.exec(probe, j.probe); err != nil {
		return err
	}
	if j.buildOuter {
		for i, row := range j.rows {
			if !j.matched[i] {
				if err := emit(j.combine(nil, row)); err != nil {
					return err
				}
			}
		}
		for _, row := range j.dead {
			if err := emit(j.combine(nil, row)); err != nil {
				return err
			}
		}
	}
	return nil
}

// joiner is one running join.
type joiner struct {
	r      *runner
	nl, nr int
	// never: the condition is constantly false or NULL; no pair matches.
	never bool
	// probeRight: the probe side is the join's right input.
	probeRight bool
	// probeOuter / buildOuter: unmatched rows of that side are emitted
	// null-extended.
	probeOuter, buildOuter bool

	probeKeys, buildKeys []evaluator // hash keys, over the concatenated row
	// Conditions over the concatenated row (nil: none): reading only the
	// probe side, only the build side, or both.
	probeFilter, buildFilter, residual predicate

	rows    []datum.Row      // build rows
	keys    []datum.Datum    // build rows' key values, len(buildKeys) per row
	heads   map[uint64]int32 // key hash -> first build row with it
	next    []int32          // build row -> next build row with its key hash, or -1
	matched []bool           // buildOuter: build rows that matched
	dead    []datum.Row      // buildOuter: build rows that can match nothing

	scratch  datum.Row // concatenated row for evaluating keys and conditions
	probeBuf []datum.Datum
	emit     emitFunc
}

// sideRow places a row of one side into the scratch row (the other side's
// columns are left as they are: side expressions never read them).
func (j *joiner) sideRow(row datum.Row, right bool) datum.Row {
	if right {
		copy(j.scratch[j.nl:], row)
		return j.scratch
	}
	return row
}

// combine returns a new output row from a left and a right row (nil:
// NULLs), given as build and probe rows.
func (j *joiner) combine(probe, build datum.Row) datum.Row {
	left, right := probe, build
	if j.probeRight {
		left, right = build, probe
	}
	out := make(datum.Row, j.nl+j.nr)
	copy(out, left)
	copy(out[j.nl:], right)
	return out
}

func (j *joiner) buildTable(build planner.Node) error {
	nk := len(j.buildKeys)
	if nk > 0 {
		j.heads = make(map[uint64]int32)
	}
	buildRight := !j.probeRight
	return j.r.exec(build, func(row datum.Row) error {
		src := j.sideRow(row, buildRight)
		if j.buildFilter != nil {
			ok, err := j.buildFilter(src)
			if err != nil {
				return err
			}
			if !ok {
				return j.unmatchable(row)
			}
		}
		if nk == 0 {
			j.rows = append(j.rows, row)
			if j.buildOuter {
				j.matched = append(j.matched, false)
			}
			return nil
		}
		h := uint64(nk)
		n := len(j.keys)
		for _, ev := range j.buildKeys {
			d, err := ev(src)
			if err != nil {
				return err
			}
			if d.IsNull() {
				j.keys = j.keys[:n]
				return j.unmatchable(row)
			}
			h = mix(h, hashDatum(d))
			j.keys = append(j.keys, d)
		}
		id := int32(len(j.rows))
		j.rows = append(j.rows, row)
		if j.buildOuter {
			j.matched = append(j.matched, false)
		}
		head, ok := j.heads[h]
		if !ok {
			head = -1
		}
		j.next = append(j.next, head)
		j.heads[h] = id
		return nil
	})
}

// unmatchable records a build row that can match no probe row: it is only
// kept to be emitted null-extended by an outer join.
func (j *joiner) unmatchable(row datum.Row) error {
	if j.buildOuter {
		j.dead = append(j.dead, row)
	}
	return nil
}

// probe joins one probe row with the build rows.
func (j *joiner) probe(row datum.Row) error {
	found := false
	if !j.never {
		ok := true
		if j.probeFilter != nil {
			var err error
			if ok, err = j.probeFilter(j.sideRow(row, j.probeRight)); err != nil {
				return err
			}
		}
		if ok {
			var err error
			if len(j.probeKeys) > 0 {
				found, err = j.probeHash(row)
			} else {
				found, err = j.probeLoop(row)
			}
			if err != nil {
				return err
			}
		}
	}
	if !found && j.probeOuter {
		return j.emit(j.combine(row, nil))
	}
	return nil
}

func (j *joiner) probeHash(row datum.Row) (bool, error) {
	nk := len(j.probeKeys)
	src := j.sideRow(row, j.probeRight)
	h := uint64(nk)
	keys := j.probeBuf[:0]
	for _, ev := range j.probeKeys {
		d, err := ev(src)
		if err != nil {
			return false, err
		}
		if d.IsNull() {
			return false, nil
		}
		h = mix(h, hashDatum(d))
		keys = append(keys, d)
	}
	j.probeBuf = keys
	id, ok := j.heads[h]
	if !ok {
		return false, nil
	}
	found := false
	for ; id >= 0; id = j.next[id] {
		if err := j.r.tick(); err != nil {
			return false, err
		}
		bk := j.keys[int(id)*nk : int(id)*nk+nk]
		same := true
		for i := range keys {
			if datum.Compare(keys[i], bk[i]) != 0 {
				same = false
				break
			}
		}
		if !same {
			continue
		}
		ok, err := j.pair(row, id)
		if err != nil {
			return false, err
		}
		found = found || ok
	}
	return found, nil
}

func (j *joiner) probeLoop(row datum.Row) (bool, error) {
	found := false
	for id := range j.rows {
		if err := j.r.tick(); err != nil {
			return false, err
		}
		ok, err := j.pair(row, int32(id))
		if err != nil {
			return false, err
		}
		found = found || ok
	}
	return found, nil
}

// pair checks the residual condition on a probe row and build row id and
// emits their combination if it holds.
func (j *joiner) pair(probe datum.Row, id int32) (bool, error) {
	build := j.rows[id]
	if j.residual != nil {
		left, right := probe, build
		if j.probeRight {
			left, right = build, probe
		}
		copy(j.scratch, left)
		copy(j.scratch[j.nl:], right)
		ok, err := j.residual(j.scratch)
		if err != nil || !ok {
			return false, err
		}
	}
	if j.buildOuter {
		j.matched[id] = true
	}
	return true, j.emit(j.combine(probe, build))
}

// splitAnd appends the AND-ed conjuncts of e to out.
func splitAnd(e expr.Expr, out []expr.Expr) []expr.Expr {
	if c, ok := e.(*expr.Call); ok && c.Fn == "and" {
		for _, a := range c.Args {
			out = splitAnd(a, out)
		}
		return out
	}
	return append(out, e)
}

// andAll rebuilds a conjunction.
func andAll(es []expr.Expr) expr.Expr {
	e := es[0]
	for _, x := range es[1:] {
		e = &expr.Call{Fn: "and", Args: []expr.Expr{e, x}, Typ: datum.TypeBool}
	}
	return e
}

// equiKey recognizes a conjunct a = b where one side reads only left
// columns (index < nl) and the other only right ones, and returns the
// left and right expressions.
func equiKey(c expr.Expr, nl, width int) (left, right expr.Expr, ok bool) {
	call, isCall := c.(*expr.Call)
	if !isCall || call.Fn != "=" || len(call.Args) != 2 {
		return nil, nil, false
	}
	a, b := call.Args[0], call.Args[1]
	sa, sb := exprSide(a, nl, width), exprSide(b, nl, width)
	switch {
	case sa == sideLeft && sb == sideRight:
		return a, b, true
	case sa == sideRight && sb == sideLeft:
		return b, a, true
	}
	return nil, nil, false
}

const (
	sideNone  = 0 // reads no column
	sideLeft  = 1
	sideRight = 2
	sideBoth  = 3
	sideBad   = 4 // not understood: never a hash key
)

// exprSide tells which join input(s) e reads.
func exprSide(e expr.Expr, nl, width int) int {
	side := sideNone
	var walk func(e expr.Expr) bool
	walk = func(e expr.Expr) bool {
		switch x := e.(type) {
		case nil:
		case *expr.Col:
			switch {
			case x.Idx < 0 || x.Idx >= width:
				return false
			case x.Idx < nl:
				side |= sideLeft
			default:
				side |= sideRight
			}
		case *expr.Const, *expr.Param:
		case *expr.Call:
			if isVolatile(x) {
				return false
			}
			for _, a := range x.Args {
				if !walk(a) {
					return false
				}
			}
		case *expr.Cast:
			return walk(x.Arg)
		case *expr.Case:
			if !walk(x.Operand) || !walk(x.Else) {
				return false
			}
			for _, w := range x.Whens {
				if !walk(w.Cond) || !walk(w.Then) {
					return false
				}
			}
		default:
			return false
		}
		return true
	}
	if !walk(e) {
		return sideBad
	}
	return side
}
