package planner

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
)

// This file compiles the parts of a job that combine streams: joins (of two
// streams, or of a stream with a table), UNION ALL, and aggregations over
// updating inputs. The rules:
//
//   - A join of two streams compiles each input as its own branch (its own
//     stages), then starts a keyed stage with two inputs, each shuffled by
//     its side of the equi-join keys, whose first op is a JoinOp. Filters
//     directly above an inner join are merged into its condition; the
//     conditions on one side only are pushed into that side's branch, and
//     each branch keeps (projects) only the columns the rest of the job
//     reads, before the shuffle.
//   - How long the join keeps each side's rows follows from its condition
//     and the event-time attributes of its inputs (tattr): a condition
//     O.t <= e(s) (or = or <, also in BETWEEN) where O.t is an event-time
//     column of the other side bounds the rows s of this side. That covers
//     window joins (both inputs windowed, joined on window_start or
//     window_end: rows live until their window closes) and interval joins
//     (a.ts BETWEEN b.ts - INTERVAL ... AND b.ts). A side without a bound
//     keeps its rows forever: the plan warns.
//   - A join with a table (a Scan of a table, under filters and
//     projections only) is a lookup join: it fuses into the stream's stage
//     and reads the table's current rows (a side input).
//   - UNION ALL is a keyed stage with one input per branch.
//
// # Event-time attributes
//
// A physical column is an event-time attribute (tattr.ok) when every row
// reaching the stage that consumes it, except rows the job counts as late,
// has a value of at least that stage's input watermark plus delta. A
// source's WATERMARK FOR column is one (delta 0) in its source stage, where
// lateness is decided (LateGateOp, or the windowed aggregation's combiner);
// windows assigned from it are ones too (window_end: delta 1; window_start:
// delta 1 - size). A windowed aggregation's results are: a window's row is
// emitted by the bundle whose watermark first passed window_end - 1, so
// downstream its window_end - 1 is at least the input watermark (delta 1;
// window_start: 1 - size). Projections pass attributes through unchanged.
// After a join only the window columns an inner join matched on equal stay
// attributes.

// tattr is what a physical column says about event time (see above).
type tattr struct {
	ok    bool
	delta int64
	// win is set for the window_start and window_end columns of windowed
	// rows: their window (end tells which column).
	win *plan.WindowSpec
	end bool
}

// pruned marks, in a layout, a logical column that no later operator reads
// and that a join's input branch dropped before its shuffle.
const pruned = -4

// opCol is the op column of an updating stream (physical_join.go).
var opCol = plan.Column{Name: plan.OpColName, Type: datum.TypeBool, NotNull: true}

// assignedWindowAttrs are the attributes of the window_start and window_end
// columns a WindowAssignOp appends, given its time column's.
func assignedWindowAttrs(ts tattr, spec plan.WindowSpec) []tattr {
	if !ts.ok {
		return []tattr{{}, {}}
	}
	w := spec
	w.TimeCol = -1
	return []tattr{{ok: true, delta: ts.delta + 1 - spec.Size, win: &w}, {ok: true, delta: ts.delta + 1, win: &w, end: true}}
}

// windowResultAttrs are the attributes of a windowed aggregation's
// window_start and window_end output columns.
func windowResultAttrs(spec plan.WindowSpec) (start, end tattr) {
	w := spec
	w.TimeCol = -1
	return tattr{ok: true, delta: 1 - spec.Size, win: &w}, tattr{ok: true, delta: 1, win: &w, end: true}
}

func sameWindow(a, b plan.WindowSpec) bool {
	norm := func(w plan.WindowSpec) plan.WindowSpec {
		if w.Kind == plan.Tumble || w.Slide == 0 {
			w.Slide = w.Size
		}
		w.TimeCol = 0
		return w
	}
	return norm(a) == norm(b)
}

// jobInfo is what the compiler needs to know about the whole logical plan
// before it compiles any part of it.
type jobInfo struct {
	// need is, per join, which of its output columns the job reads above
	// it (its inputs are pruned to these before their shuffle).
	need map[*Join][]bool
	// feedsAgg marks aggregations whose results are read by another
	// aggregation or a join: if continuous, they emit retractions.
	feedsAgg map[Node]bool
}

func analyzeJob(top Node) *jobInfo {
	in := &jobInfo{need: map[*Join][]bool{}, feedsAgg: map[Node]bool{}}
	in.visit(top, allTrue(len(top.Schema())))
	return in
}

func allTrue(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

func markCols(need []bool, e expr.Expr) {
	walkExpr(e, func(x expr.Expr) {
		if c, ok := x.(*expr.Col); ok && c.Idx < len(need) {
			need[c.Idx] = true
		}
	})
}

func (in *jobInfo) visit(n Node, need []bool) {
	switch x := n.(type) {
	case *Filter:
		nn := append([]bool(nil), need...)
		markCols(nn, x.Pred)
		in.visit(x.Input, nn)
	case *Project:
		nn := make([]bool, len(x.Input.Schema()))
		for i, e := range x.Exprs {
			if i >= len(need) || need[i] {
				markCols(nn, e)
			}
		}
		in.visit(x.Input, nn)
	case *WindowAssign:
		nn := make([]bool, len(x.Input.Schema()))
		copy(nn, need)
		nn[x.TimeCol] = true
		in.visit(x.Input, nn)
	case *Aggregate:
		nn := make([]bool, len(x.Input.Schema()))
		for _, g := range x.GroupBy {
			markCols(nn, g)
		}
		for _, a := range x.Aggs {
			if a.Arg != nil {
				markCols(nn, a.Arg)
			}
		}
		in.markFeeds(x.Input)
		in.visit(x.Input, nn)
	case *Distinct:
		in.markFeeds(x.Input)
		in.visit(x.Input, allTrue(len(x.Input.Schema())))
	case *Join:
		nn := append([]bool(nil), need...)
		if prev := in.need[x]; prev != nil {
			for i := range nn {
				nn[i] = nn[i] || prev[i]
			}
		}
		in.need[x] = append([]bool(nil), nn...)
		if x.On != nil {
			markCols(nn, x.On)
		}
		nl := len(x.Left.Schema())
		in.markFeeds(x.Left)
		in.markFeeds(x.Right)
		in.visit(x.Left, nn[:nl])
		in.visit(x.Right, nn[nl:])
	default:
		for _, c := range n.Inputs() {
			in.visit(c, allTrue(len(c.Schema())))
		}
	}
}

// markFeeds marks the aggregation that produces n's rows through filters
// and projections, if any.
func (in *jobInfo) markFeeds(n Node) {
	for {
		switch x := n.(type) {
		case *Filter:
			n = x.Input
		case *Project:
			n = x.Input
		case *Aggregate, *Distinct:
			in.feedsAgg[x] = true
			return
		default:
			return
		}
	}
}

// flatConjuncts splits e into its AND-ed parts, whatever the arity of the
// AND calls.
func flatConjuncts(e expr.Expr) []expr.Expr {
	if c, ok := e.(*expr.Call); ok && c.Fn == "and" {
		var out []expr.Expr
		for _, a := range c.Args {
			out = append(out, flatConjuncts(a)...)
		}
		return out
	}
	return []expr.Expr{e}
}

// sidesOf reports whether e reads columns left of nl, and right of it.
func sidesOf(e expr.Expr, nl int) (left, right bool) {
	walkExpr(e, func(x expr.Expr) {
		if c, ok := x.(*expr.Col); ok {
			if c.Idx < nl {
				left = true
			} else {
				right = true
			}
		}
	})
	return left, right
}

// shiftCols adds d to every column index of e.
func shiftCols(e expr.Expr, d int) expr.Expr {
	out, _ := mapCols(e, func(c *expr.Col) (expr.Expr, error) {
		return &expr.Col{Idx: c.Idx + d, Typ: c.Typ, Name: c.Name}, nil
	})
	return out
}

// join compiles a join (and the filters directly above it, taken from the
// end of chain when they can merge into its condition). It returns the
// branch that continues after the join and what remains of chain.
func (p *jobPlanner) join(j *Join, chain []Node) (*jobPlanner, []Node, error) {
	kind := j.Kind
	var conds []expr.Expr
	if j.On != nil {
		conds = flatConjuncts(j.On)
	}
	if kind == plan.InnerJoin || kind == plan.CrossJoin {
		kind = plan.InnerJoin
		for len(chain) > 0 {
			f, ok := chain[len(chain)-1].(*Filter)
			if !ok {
				break
			}
			if containsSubquery(f.Pred) {
				return nil, nil, pgerr.New(pgerr.FeatureNotSupported, "subqueries are not supported in jobs yet")
			}
			conds = append(conds, flatConjuncts(f.Pred)...)
			chain = chain[:len(chain)-1]
		}
	}
	for _, c := range conds {
		if containsSubquery(c) {
			return nil, nil, pgerr.New(pgerr.FeatureNotSupported, "subqueries are not supported in jobs yet")
		}
	}
	nl := len(j.Left.Schema())
	var lpush, rpush, rest []expr.Expr
	for _, c := range conds {
		l, r := sidesOf(c, nl)
		switch {
		case l && !r && (kind == plan.InnerJoin || kind == plan.RightJoin):
			lpush = append(lpush, c)
		case r && !l && (kind == plan.InnerJoin || kind == plan.LeftJoin):
			rpush = append(rpush, shiftCols(c, -nl))
		default:
			rest = append(rest, c)
		}
	}
	left, right := j.Left, j.Right
	if len(lpush) > 0 {
		left = &Filter{Input: left, Pred: conjoin(lpush)}
	}
	if len(rpush) > 0 {
		right = &Filter{Input: right, Pred: conjoin(rpush)}
	}
	lt, rt := tableSide(left), tableSide(right)
	var br *jobPlanner
	var err error
	switch {
	case lt != nil && rt != nil:
		return nil, nil, pgerr.New(pgerr.FeatureNotSupported, "a job cannot join two tables: one side of each join must be a stream").
			WithHint("Run the join of the tables as a statement (INSERT ... SELECT), or join each table with the stream.")
	case rt != nil:
		br, err = p.lookupJoin(j, kind, left, rt, rest, true)
	case lt != nil:
		br, err = p.lookupJoin(j, kind, right, lt, rest, false)
	default:
		br, err = p.streamJoin(j, kind, left, right, rest)
	}
	return br, chain, err
}

// ---- stream-stream joins ----

func (p *jobPlanner) streamJoin(j *Join, kind plan.JoinKind, left, right Node, conds []expr.Expr) (*jobPlanner, error) {
	nl := len(left.Schema())
	fk, err := p.fork(kind, left, right, conds, nl)
	if err != nil {
		return nil, err
	}
	var lb, rb *jobPlanner
	if fk != nil {
		lb, rb = fk.main, fk.side
	} else {
		if lb, err = p.compile(left); err != nil {
			return nil, err
		}
		if rb, err = p.compile(right); err != nil {
			return nil, err
		}
	}
	brs := [2]*jobPlanner{lb, rb}
	if p.opts.EmitEarly > 0 || p.opts.AllowedLateness > 0 {
		return nil, pgerr.New(pgerr.FeatureNotSupported, "emit_early and allowed_lateness are not supported in jobs that join streams yet").
			WithDetail("A join needs each input row once, on time; early and late panes would update rows it has already joined.")
	}
	for _, b := range brs {
		if b.layout.changelog {
			return nil, pgerr.New(pgerr.FeatureNotSupported,
				"a job cannot join an updating stream (the results of a continuous aggregation or of an outer join) yet").
				WithHint("Window the aggregation (TUMBLE or HOP), so that each result is final when emitted.")
		}
	}
	// Equi-join keys: one side's expression = the other's.
	var keyExprs [2][]expr.Expr
	var equis, residual []expr.Expr
	for _, c := range conds {
		a, b, ok := equiPair(c, nl)
		if ok {
			pa, err1 := lb.layout.remap(a)
			pb, err2 := rb.layout.remap(shiftCols(b, -nl))
			if err1 == nil && err2 == nil {
				if pa, pb, ok = sameKeyType(pa, pb); ok {
					keyExprs[0] = append(keyExprs[0], pa)
					keyExprs[1] = append(keyExprs[1], pb)
					equis = append(equis, c)
					continue
				}
			}
		}
		residual = append(residual, c)
	}
	var keyCols [2][]int
	for s, b := range brs {
		keyCols[s] = b.keyColumns(keyExprs[s], "join_key")
	}
	// Keep only what the job reads later, the condition and the keys.
	need := p.info.need[j]
	for s, b := range brs {
		keep := make([]bool, len(b.layout.schema))
		lo, hi := 0, nl
		if s == 1 {
			lo, hi = nl, len(j.Cols)
		}
		for i := lo; i < hi; i++ {
			if need == nil || need[i] {
				if pc := b.layout.m[i-lo]; pc >= 0 {
					keep[pc] = true
				}
			}
		}
		for _, c := range conds {
			walkExpr(c, func(x expr.Expr) {
				if col, ok := x.(*expr.Col); ok && col.Idx >= lo && col.Idx < hi {
					if pc := b.layout.m[col.Idx-lo]; pc >= 0 {
						keep[pc] = true
					}
				}
			})
		}
		for _, kc := range keyCols[s] {
			keep[kc] = true
		}
		newIdx := b.narrow(keep)
		for i, kc := range keyCols[s] {
			keyCols[s][i] = newIdx[kc]
		}
	}
	widths := [2]int{len(lb.layout.schema), len(rb.layout.schema)}
	joined := joinLayout(lb.layout, rb.layout, nl)
	physOf := func(es []expr.Expr) ([]expr.Expr, error) {
		out := make([]expr.Expr, len(es))
		for i, e := range es {
			var err error
			if out[i], err = joined.remap(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	physEquis, err := physOf(equis)
	if err != nil {
		return nil, err
	}
	physResidual, err := physOf(residual)
	if err != nil {
		return nil, err
	}
	bounds, used := joinBounds(append(physEquis, physResidual...), widths, [2][]tattr{lb.layout.attr, rb.layout.attr})
	// In a source stage, drop the rows that are late for the attributes
	// the bounds rely on: the join then sees only on-time rows.
	for s, b := range brs {
		if b.stage.Source == nil {
			continue
		}
		cols := make([]int, 0, len(used[s]))
		for c := range used[s] {
			cols = append(cols, c)
		}
		sort.Ints(cols)
		for _, c := range cols {
			b.emit(&plan.LateGateOp{OpBase: plan.OpBase{Schema: b.layout.schema}, TimeCol: c, Delta: b.layout.attr[c].delta})
		}
	}
	op := &plan.JoinOp{Kind: kind, Keys: keyCols, Widths: widths, Expire: bounds}
	if len(physResidual) > 0 {
		op.Residual = conjoin(physResidual)
	}
	sideName := [2]string{"left", "right"}
	for s := 0; s < 2; s++ {
		if op.Outer(s) && len(bounds[s]) == 0 {
			op.Updating = true
		}
	}
	var st *plan.Stage
	if fk != nil {
		// Both inputs come from the fork stage's one input: the side
		// chain runs in a TeeOp ahead of the main chain's operators.
		st = fk.stage
		st.Ops = append([]plan.Op{&plan.TeeOp{OpBase: plan.OpBase{Schema: fk.in}, Side: fk.sideStage.Ops}}, st.Ops...)
	} else {
		st = &plan.Stage{ID: len(p.out.Stages), Parallelism: p.opts.Parallelism}
		st.Name = "s" + itoa(st.ID)
		if len(keyCols[0]) == 0 {
			st.Parallelism = 1 // no key: every row meets every row in one range
		}
		for s, b := range brs {
			b.stage.Output = &plan.StageOutput{Stage: st.ID, KeyCols: keyCols[s], Schema: b.layout.schema, TimeCol: -1}
			st.Inputs = append(st.Inputs, plan.StageInput{Stage: b.stage.ID, Schema: b.layout.schema})
		}
		p.out.Stages = append(p.out.Stages, st)
	}
	schema := concatSchema(lb.layout.schema, rb.layout.schema)
	for s := 0; s < 2; s++ {
		if op.Outer(1 - s) {
			lo, hi := 0, widths[0]
			if s == 1 {
				lo, hi = widths[0], len(schema)
			}
			for i := lo; i < hi; i++ {
				schema[i].NotNull = false
			}
		}
	}
	if op.Updating {
		schema = append(schema, opCol)
		joined.schema = schema
		joined.origin = append(joined.origin, -1)
		joined.attr = append(joined.attr, tattr{})
		joined.changelog = true
	}
	joined.schema = schema
	op.Schema = schema
	// Window columns matched on equal by an inner join stay attributes.
	if kind == plan.InnerJoin {
		for i := range keyCols[0] {
			l, r := keyCols[0][i], keyCols[1][i]
			la, ra := lb.layout.attr[l], rb.layout.attr[r]
			if la.ok && ra.ok {
				a := la
				a.delta = max(la.delta, ra.delta)
				if la.win == nil || ra.win == nil || !sameWindow(*la.win, *ra.win) || la.end != ra.end {
					a.win = nil
				}
				joined.attr[l], joined.attr[widths[0]+r] = a, a
			}
		}
	}
	if kind == plan.InnerJoin {
		joinedAttrs(joined.attr, append(physEquis, physResidual...), widths, [2][]tattr{lb.layout.attr, rb.layout.attr})
	}
	br := p.branch(st)
	br.emit(op)
	br.layout = joined
	for s := 0; s < 2; s++ {
		if len(bounds[s]) == 0 {
			p.out.Warnings = append(p.out.Warnings, fmt.Sprintf(
				"the join on %s keeps every row of its %s input: no time bound in its condition lets it forget them, so its state grows without limit",
				joinDesc(op, schema), sideName[s]))
		}
	}
	return br, nil
}

// joinDesc names a join by its keys for messages.
func joinDesc(op *plan.JoinOp, out plan.Schema) string {
	if len(op.Keys[0]) == 0 {
		return "two streams (no equality)"
	}
	parts := make([]string, len(op.Keys[0]))
	for i := range op.Keys[0] {
		parts[i] = out[op.Keys[0][i]].Name + " = " + out[op.Widths[0]+op.Keys[1][i]].Name
	}
	return strings.Join(parts, " AND ")
}

// joinLayout is the layout of a join's output row (left physical row, then
// right) for the join's logical columns (left's nl, then right's).
func joinLayout(l, r *layout, nl int) *layout {
	wl := len(l.schema)
	out := &layout{schema: concatSchema(l.schema, r.schema)}
	for _, m := range l.m {
		out.m = append(out.m, m)
	}
	for _, m := range r.m {
		if m >= 0 {
			m += wl
		}
		out.m = append(out.m, m)
	}
	out.origin = make([]int, len(out.schema))
	for i := range out.origin {
		out.origin[i] = -1
	}
	out.attr = make([]tattr, len(out.schema))
	return out
}

// equiPair matches c = (a = b) where a reads only left columns (< nl) and
// b only right ones, in either order; b keeps its join-row indexes.
func equiPair(c expr.Expr, nl int) (a, b expr.Expr, ok bool) {
	call, isCall := c.(*expr.Call)
	if !isCall || call.Fn != "=" || len(call.Args) != 2 {
		return nil, nil, false
	}
	x, y := call.Args[0], call.Args[1]
	xl, xr := sidesOf(x, nl)
	yl, yr := sidesOf(y, nl)
	switch {
	case xl && !xr && yr && !yl:
		return x, y, true
	case yl && !yr && xr && !xl:
		return y, x, true
	}
	return nil, nil, false
}

// sameKeyType makes two key expressions of one physical kind (their key
// encodings must match for equal values to meet).
func sameKeyType(a, b expr.Expr) (expr.Expr, expr.Expr, bool) {
	ta, tb := a.Type(), b.Type()
	if ta == tb || (ta.Kind() == tb.Kind() && ta.Kind() != datum.KindFloat) {
		// One physical kind: equal values have equal key encodings.
		return a, b, true
	}
	isInt := func(t datum.Type) bool { return t == datum.TypeInt2 || t == datum.TypeInt4 || t == datum.TypeInt8 }
	if isInt(ta) && isInt(tb) {
		ca, err1 := expr.ResolveCast(a, datum.TypeInt8)
		cb, err2 := expr.ResolveCast(b, datum.TypeInt8)
		if err1 == nil && err2 == nil {
			return ca, cb, true
		}
	}
	return nil, nil, false
}

// keyColumns returns the physical columns holding es (over the branch's
// physical row), appending the computed ones in a projection.
func (p *jobPlanner) keyColumns(es []expr.Expr, name string) []int {
	cols := make([]int, len(es))
	in := p.layout.schema
	var extra []expr.Expr
	for i, e := range es {
		if c, ok := e.(*expr.Col); ok {
			cols[i] = c.Idx
			continue
		}
		cols[i] = len(in) + len(extra)
		extra = append(extra, e)
	}
	if len(extra) == 0 {
		return cols
	}
	exprs := make([]expr.Expr, 0, len(in)+len(extra))
	schema := append(plan.Schema(nil), in...)
	for i, c := range in {
		exprs = append(exprs, &expr.Col{Idx: i, Typ: c.Type, Name: c.Name})
	}
	for _, e := range extra {
		exprs = append(exprs, e)
		schema = append(schema, plan.Column{Name: name, Type: e.Type()})
	}
	p.emit(&plan.ProjectOp{OpBase: plan.OpBase{Schema: schema}, Exprs: exprs})
	l := p.layout
	p.layout = &layout{m: l.m, schema: schema, origin: append(append([]int(nil), l.origin...), make([]int, len(extra))...),
		attr: append(append([]tattr(nil), l.attr...), make([]tattr, len(extra))...), changelog: l.changelog}
	for i := len(l.origin); i < len(p.layout.origin); i++ {
		p.layout.origin[i] = -1
	}
	return cols
}

// narrow keeps the physical columns marked in keep (in order), emitting a
// projection when that drops any. It returns each old column's new index
// (-1: dropped). Logical columns whose column is dropped become pruned.
func (p *jobPlanner) narrow(keep []bool) []int {
	l := p.layout
	idx := make([]int, len(l.schema))
	all := true
	n := 0
	for i := range l.schema {
		if keep[i] {
			idx[i] = n
			n++
		} else {
			idx[i] = -1
			all = false
		}
	}
	if all {
		return idx
	}
	out := &layout{changelog: l.changelog}
	var exprs []expr.Expr
	for i, c := range l.schema {
		if keep[i] {
			exprs = append(exprs, &expr.Col{Idx: i, Typ: c.Type, Name: c.Name})
			out.schema = append(out.schema, c)
			out.origin = append(out.origin, l.origin[i])
			out.attr = append(out.attr, l.attr[i])
		}
	}
	for _, m := range l.m {
		switch {
		case m >= 0 && idx[m] >= 0:
			out.m = append(out.m, idx[m])
		case m >= 0:
			out.m = append(out.m, pruned)
		default:
			out.m = append(out.m, m)
		}
	}
	p.emit(&plan.ProjectOp{OpBase: plan.OpBase{Schema: out.schema}, Exprs: exprs})
	p.layout = out
	return idx
}

// timeRef matches e = col [+|- constant interval] and returns the column
// and the constant in microseconds.
func timeRef(e expr.Expr) (col int, k int64, ok bool) {
	switch x := e.(type) {
	case *expr.Col:
		return x.Idx, 0, isTimestamp(x.Typ)
	case *expr.Call:
		if (x.Fn != "+" && x.Fn != "-") || len(x.Args) != 2 {
			return 0, 0, false
		}
		c, isCol := x.Args[0].(*expr.Col)
		k, isConst := constMicros(x.Args[1])
		if !isCol && x.Fn == "+" {
			c, isCol = x.Args[1].(*expr.Col)
			k, isConst = constMicros(x.Args[0])
		}
		if !isCol || !isConst || !isTimestamp(c.Typ) {
			return 0, 0, false
		}
		if x.Fn == "-" {
			k = -k
		}
		return c.Idx, k, true
	}
	return 0, 0, false
}

func isTimestamp(t datum.Type) bool { return t == datum.TypeTimestamp || t == datum.TypeTimestampTZ }

func constMicros(e expr.Expr) (int64, bool) {
	c, ok := e.(*expr.Const)
	if !ok || c.Typ != datum.TypeInterval || c.Val.IsNull() || c.Val.Months() != 0 {
		return 0, false
	}
	return c.Val.Micros(), true
}

// joinBounds derives each side's expiry bounds from the join's conditions
// (over the output row: widths[0] left columns, then the right's). used[s]
// lists the attribute columns of side s that bounds of the other side rely
// on (side-local indexes).
func joinBounds(conds []expr.Expr, widths [2]int, attrs [2][]tattr) (bounds [2][]plan.JoinBound, used [2]map[int]bool) {
	used = [2]map[int]bool{{}, {}}
	seen := map[string]bool{}
	sideOfCol := func(c int) (int, int) {
		if c < widths[0] {
			return 0, c
		}
		return 1, c - widths[0]
	}
	// try: x op y with x = O.t + k, y over side s only.
	try := func(x expr.Expr, op string, y expr.Expr) {
		col, k, ok := timeRef(x)
		if !ok {
			return
		}
		o, local := sideOfCol(col)
		at := attrs[o][local]
		if !at.ok || !isTimestamp(y.Type()) {
			return
		}
		s := 1 - o
		onlyS := true
		walkExpr(y, func(e expr.Expr) {
			if c, ok := e.(*expr.Col); ok {
				if cs, _ := sideOfCol(c.Idx); cs != s {
					onlyS = false
				}
			}
		})
		if !onlyS {
			return
		}
		var adj int64
		switch op {
		case "<=", "=":
			adj = -k - at.delta
		case "<":
			adj = -k - at.delta - 1
		default:
			return
		}
		ly := y
		if s == 1 {
			ly = shiftCols(y, -widths[0])
		}
		key := fmt.Sprintf("%d/%s/%d", s, exprKey(ly), adj)
		if !seen[key] {
			seen[key] = true
			bounds[s] = append(bounds[s], plan.JoinBound{Expr: ly, Adjust: adj})
		}
		used[o][local] = true
	}
	flip := map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
	for _, c := range conds {
		call, ok := c.(*expr.Call)
		if !ok || len(call.Args) != 2 {
			continue
		}
		f, ok := flip[call.Fn]
		if !ok {
			continue
		}
		try(call.Args[0], call.Fn, call.Args[1])
		try(call.Args[1], f, call.Args[0])
	}
	return bounds, used
}

// joinedAttrs adds to out (the attributes of an inner join's output row)
// the event-time columns its condition keeps on time. A pair is emitted
// when its second row arrives, on time: a column c of side s is on time
// in the output if it is when s's row arrives last (its own delta) and,
// when the other side's row arrives last, the condition says c >= o.t + k
// for an attribute o.t of that side (delta o.t's + k).
func joinedAttrs(out []tattr, conds []expr.Expr, widths [2]int, attrs [2][]tattr) {
	side := func(c int) (int, int) {
		if c < widths[0] {
			return 0, c
		}
		return 1, c - widths[0]
	}
	// best[c] is the smallest delta the other side's arrival gives c.
	best := map[int]int64{}
	try := func(x expr.Expr, op string, y expr.Expr) {
		// x op y with x = c, y = o.t + k: c >= o.t + k.
		cx, ok := x.(*expr.Col)
		if !ok || !isTimestamp(cx.Typ) {
			return
		}
		col, k, ok := timeRef(y)
		if !ok {
			return
		}
		sc, lc := side(cx.Idx)
		so, lo := side(col)
		if sc == so || !attrs[sc][lc].ok || !attrs[so][lo].ok {
			return
		}
		d := attrs[so][lo].delta + k
		switch op {
		case ">":
			d++
		case ">=", "=":
		default:
			return
		}
		if cur, seen := best[cx.Idx]; !seen || d > cur {
			best[cx.Idx] = d
		}
	}
	flip := map[string]string{"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
	for _, c := range conds {
		call, ok := c.(*expr.Call)
		if !ok || len(call.Args) != 2 {
			continue
		}
		f, ok := flip[call.Fn]
		if !ok {
			continue
		}
		try(call.Args[0], call.Fn, call.Args[1])
		try(call.Args[1], f, call.Args[0])
	}
	for c, d := range best {
		s, l := side(c)
		a := attrs[s][l]
		if out[c].ok {
			continue // a window column matched on equal: already set
		}
		a.delta = min(a.delta, d)
		a.win = nil
		out[c] = a
	}
}

// ---- lookup joins ----

// tableRef is the table side of a lookup join: a table under filters and
// projections, as expressions over the stored row.
type tableRef struct {
	rel     *catalog.Relation
	cols    plan.Schema // the side's logical columns
	exprs   []expr.Expr // per logical column, over the stored row
	filters []expr.Expr // over the stored row
}

// tableSide returns n as the table side of a lookup join, or nil when n
// is not filters and projections over a table scan.
func tableSide(n Node) *tableRef {
	var chain []Node
	for {
		switch x := n.(type) {
		case *Filter:
			chain = append(chain, x)
			n = x.Input
			continue
		case *Project:
			chain = append(chain, x)
			n = x.Input
			continue
		case *Scan:
			if x.Rel.Kind != catalog.RelTable {
				return nil
			}
			t := &tableRef{rel: x.Rel}
			for i, c := range x.Cols {
				t.exprs = append(t.exprs, &expr.Col{Idx: i, Typ: c.Type, Name: c.Name})
			}
			through := func(e expr.Expr) expr.Expr {
				out, _ := mapCols(e, func(c *expr.Col) (expr.Expr, error) { return t.exprs[c.Idx], nil })
				return out
			}
			for i := len(chain) - 1; i >= 0; i-- {
				switch y := chain[i].(type) {
				case *Filter:
					t.filters = append(t.filters, through(y.Pred))
				case *Project:
					next := make([]expr.Expr, len(y.Exprs))
					for k, e := range y.Exprs {
						next[k] = through(e)
					}
					t.exprs = next
				}
			}
			t.cols = n.Schema()
			if len(chain) > 0 {
				t.cols = chain[0].Schema()
			}
			return t
		}
		return nil
	}
}

// lookupJoin compiles a join of the stream node with a table: the stream
// is the join's left input when streamLeft.
func (p *jobPlanner) lookupJoin(j *Join, kind plan.JoinKind, stream Node, t *tableRef, conds []expr.Expr, streamLeft bool) (*jobPlanner, error) {
	outer := false
	switch {
	case kind == plan.InnerJoin:
	case kind == plan.LeftJoin && streamLeft, kind == plan.RightJoin && !streamLeft:
		outer = true
	default:
		return nil, pgerr.New(pgerr.FeatureNotSupported,
			"a job cannot emit the rows of table %s that match no row of the stream (%s JOIN with the table on the outer side)", t.rel.Name, strings.ToUpper(kind.String())).
			WithHint("Join the stream with the table: src LEFT JOIN %s, or an inner join.", t.rel.Name)
	}
	if containsSubqueries(t.exprs) || containsSubqueries(t.filters) {
		return nil, pgerr.New(pgerr.FeatureNotSupported, "subqueries are not supported in jobs yet")
	}
	sb, err := p.compile(stream)
	if err != nil {
		return nil, err
	}
	if sb.layout.changelog {
		return nil, pgerr.New(pgerr.FeatureNotSupported, "a job cannot join an updating stream with a table yet")
	}
	ns, nt := len(stream.Schema()), len(t.cols)
	// Logical join columns: stream side [so, so+ns), table side [to, to+nt).
	so, to := 0, ns
	if !streamLeft {
		so, to = nt, 0
	}
	isStream := func(c int) bool { return c >= so && c < so+ns }
	// Over the lookup row: the stream's physical row, then the table side.
	ws := len(sb.layout.schema)
	lookup := &layout{schema: append(plan.Schema(nil), sb.layout.schema...)}
	lookup.m = make([]int, ns+nt)
	for i := 0; i < ns; i++ {
		lookup.m[so+i] = sb.layout.m[i]
	}
	for i, c := range t.cols {
		lookup.m[to+i] = ws + i
		lookup.schema = append(lookup.schema, plan.Column{Name: c.Name, Type: t.exprs[i].Type(), NotNull: c.NotNull && !outer})
	}
	lookup.origin = make([]int, len(lookup.schema))
	for i := range lookup.origin {
		lookup.origin[i] = -1
	}
	lookup.attr = append(append([]tattr(nil), sb.layout.attr...), make([]tattr, nt)...)

	var streamKeys []expr.Expr
	var tableKeys []int
	var residual []expr.Expr
	for _, c := range conds {
		var se, te expr.Expr
		if call, ok := c.(*expr.Call); ok && call.Fn == "=" && len(call.Args) == 2 {
			for k := 0; k < 2; k++ {
				x, y := call.Args[k], call.Args[1-k]
				xs, ys := true, true
				walkExpr(x, func(e expr.Expr) {
					if col, ok := e.(*expr.Col); ok && !isStream(col.Idx) {
						xs = false
					}
				})
				walkExpr(y, func(e expr.Expr) {
					if col, ok := e.(*expr.Col); ok && isStream(col.Idx) {
						ys = false
					}
				})
				if xs && ys && len(colsUsed(x)) > 0 {
					if yc, ok := y.(*expr.Col); ok {
						if stored, ok := t.exprs[yc.Idx-to].(*expr.Col); ok {
							se, te = x, stored
						}
					}
				}
			}
		}
		if se != nil {
			pe, err := mapCols(se, func(col *expr.Col) (expr.Expr, error) {
				return &expr.Col{Idx: col.Idx - so, Typ: col.Typ, Name: col.Name}, nil
			})
			if err == nil {
				pe, err = sb.layout.remap(pe)
			}
			if err == nil {
				if pe, te2, ok := sameKeyType(pe, te); ok {
					if tc, ok := te2.(*expr.Col); ok {
						streamKeys = append(streamKeys, pe)
						tableKeys = append(tableKeys, tc.Idx)
						continue
					}
				}
			}
		}
		residual = append(residual, c)
	}
	// Order the keys like the primary key when they are exactly it.
	pk := t.rel.Table.PrimaryKey
	if len(pk) == len(tableKeys) && len(pk) > 0 {
		pos := map[int]int{}
		for i, c := range pk {
			pos[c] = i
		}
		ok := true
		sk := make([]expr.Expr, len(pk))
		tk := make([]int, len(pk))
		for i, c := range tableKeys {
			k, in := pos[c]
			if !in || sk[k] != nil {
				ok = false
				break
			}
			sk[k], tk[k] = streamKeys[i], c
		}
		if ok {
			streamKeys, tableKeys = sk, tk
		}
	}
	keyCols := sb.keyColumns(streamKeys, "lookup_key")
	// keyColumns may have widened the stream row: recompute the lookup row.
	if w := len(sb.layout.schema); w != ws {
		extra := w - ws
		lookup.schema = append(append(plan.Schema(nil), sb.layout.schema...), lookup.schema[ws:]...)
		for i := range lookup.m {
			if lookup.m[i] >= ws {
				lookup.m[i] += extra
			}
		}
		lookup.origin = append(lookup.origin, make([]int, extra)...)
		for i := range lookup.origin {
			lookup.origin[i] = -1
		}
		lookup.attr = append(append([]tattr(nil), sb.layout.attr...), make([]tattr, nt)...)
		ws = w
	}
	physRes := make([]expr.Expr, len(residual))
	for i, c := range residual {
		if physRes[i], err = lookup.remap(c); err != nil {
			return nil, err
		}
	}
	op := &plan.LookupJoinOp{OpBase: plan.OpBase{Schema: lookup.schema}, Table: t.rel.Name, TableID: t.rel.ID,
		TableSchema: catalogSchema(t.rel.Columns), PrimaryKey: append([]int(nil), pk...),
		StreamKeys: keyCols, TableKeys: tableKeys, TableExprs: t.exprs, Outer: outer}
	if len(t.filters) > 0 {
		op.TableFilter = conjoin(t.filters)
	}
	if len(physRes) > 0 {
		op.Residual = conjoin(physRes)
	}
	if len(tableKeys) == 0 {
		p.out.Warnings = append(p.out.Warnings, fmt.Sprintf(
			"the lookup join with table %s has no equality on the table's columns: every input row is matched against every row of the table", t.rel.Name))
	}
	sb.emit(op)
	sb.layout = lookup
	if !containsString(p.out.SideInputs, t.rel.Name) {
		p.out.SideInputs = append(p.out.SideInputs, t.rel.Name)
	}
	return sb, nil
}

func containsSubqueries(es []expr.Expr) bool {
	for _, e := range es {
		if containsSubquery(e) {
			return true
		}
	}
	return false
}

func containsString(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// ---- UNION ALL ----

// unionAll compiles UNION ALL of streams: each input is a branch whose rows
// are projected to the union's columns and shuffled (by all columns, to
// spread them) into one stage.
func (p *jobPlanner) unionAll(x *SetOp) (*jobPlanner, error) {
	var inputs []Node
	var flatten func(n Node)
	flatten = func(n Node) {
		if s, ok := n.(*SetOp); ok && s.Op == "UNION" && s.All {
			flatten(s.Left)
			flatten(s.Right)
			return
		}
		inputs = append(inputs, n)
	}
	flatten(x)
	st := &plan.Stage{Parallelism: p.opts.Parallelism}
	var brs []*jobPlanner
	for _, in := range inputs {
		b, err := p.compile(in)
		if err != nil {
			return nil, err
		}
		if b.layout.changelog {
			return nil, pgerr.New(pgerr.FeatureNotSupported, "UNION ALL of an updating stream is not supported in jobs yet")
		}
		exprs := make([]expr.Expr, len(x.Cols))
		for i, c := range in.Schema() {
			var e expr.Expr = &expr.Col{Idx: i, Typ: c.Type, Name: c.Name}
			if c.Type != x.Cols[i].Type {
				var err error
				if e, err = expr.ResolveCast(e, x.Cols[i].Type); err != nil {
					return nil, err
				}
			}
			exprs[i] = e
		}
		if err := b.project(exprs, x.Cols); err != nil {
			return nil, err
		}
		if len(b.layout.schema) != len(x.Cols) {
			return nil, pgerr.New(pgerr.InternalError, "planner: UNION ALL input is not in the union's columns")
		}
		brs = append(brs, b)
	}
	st.ID = len(p.out.Stages)
	st.Name = "s" + itoa(st.ID)
	all := seqInts(len(x.Cols))
	out := identityLayout(append(plan.Schema(nil), x.Cols...), false)
	for i := range out.attr {
		a := brs[0].layout.attr[i]
		for _, b := range brs[1:] {
			o := b.layout.attr[i]
			if !o.ok {
				a = tattr{}
				break
			}
			a.delta = min(a.delta, o.delta)
			if a.win == nil || o.win == nil || !sameWindow(*a.win, *o.win) || a.end != o.end {
				a.win = nil
			}
		}
		out.attr[i] = a
	}
	for _, b := range brs {
		b.stage.Output = &plan.StageOutput{Stage: st.ID, KeyCols: all, Schema: b.layout.schema, TimeCol: -1}
		st.Inputs = append(st.Inputs, plan.StageInput{Stage: b.stage.ID, Schema: b.layout.schema})
	}
	p.out.Stages = append(p.out.Stages, st)
	br := p.branch(st)
	br.emit(&plan.UnionOp{OpBase: plan.OpBase{Schema: out.schema}})
	br.layout = out
	return br, nil
}

func seqInts(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// ---- aggregations over updating streams ----

// retractAggregate compiles a continuous aggregation over an updating
// stream: a RetractAggOp in a new stage, the input shuffled by the group
// keys (the op column stays the last column).
func (p *jobPlanner) retractAggregate(a *Aggregate) error {
	if a.Window != nil {
		return pgerr.New(pgerr.FeatureNotSupported, "a job cannot window an updating stream")
	}
	if p.info.feedsAgg[a] {
		return pgerr.New(pgerr.FeatureNotSupported, "a job can aggregate the results of an aggregation only once yet")
	}
	aggs := make([]*expr.AggFunc, len(a.Aggs))
	for i, ag := range a.Aggs {
		if !retractableAgg(ag) {
			return pgerr.New(pgerr.FeatureNotSupported, "%s over an updating stream is not supported yet", aggString(ag)).
				WithHint("count, sum, avg, min and max are.")
		}
		c := *ag
		if ag.Arg != nil {
			arg, err := p.layout.remap(ag.Arg)
			if err != nil {
				return err
			}
			c.Arg = arg
		}
		aggs[i] = &c
	}
	// Key columns; computed ones go before the op column.
	l := p.layout
	in := l.schema[:len(l.schema)-1]
	keyCols := make([]int, len(a.GroupBy))
	var extra []expr.Expr
	for i, g := range a.GroupBy {
		pe, err := l.remap(g)
		if err != nil {
			return err
		}
		if c, ok := pe.(*expr.Col); ok {
			keyCols[i] = c.Idx
			continue
		}
		keyCols[i] = len(in) + len(extra)
		extra = append(extra, pe)
	}
	if len(extra) > 0 {
		var exprs []expr.Expr
		schema := append(plan.Schema(nil), in...)
		for i, c := range in {
			exprs = append(exprs, &expr.Col{Idx: i, Typ: c.Type, Name: c.Name})
		}
		for i, e := range extra {
			exprs = append(exprs, e)
			schema = append(schema, plan.Column{Name: "key_" + itoa(i), Type: e.Type()})
		}
		oc := len(l.schema) - 1
		exprs = append(exprs, &expr.Col{Idx: oc, Typ: opCol.Type, Name: opCol.Name})
		schema = append(schema, opCol)
		p.emit(&plan.ProjectOp{OpBase: plan.OpBase{Schema: schema}, Exprs: exprs})
		p.layout = &layout{m: l.m, schema: schema, origin: make([]int, len(schema)), attr: make([]tattr, len(schema)), changelog: true}
	}
	next := &plan.Stage{ID: len(p.out.Stages), Parallelism: p.opts.Parallelism}
	next.Name = "s" + itoa(next.ID)
	if len(keyCols) == 0 {
		next.Parallelism = 1
	}
	p.stage.Output = &plan.StageOutput{Stage: next.ID, KeyCols: keyCols, Schema: p.layout.schema, TimeCol: -1}
	next.Inputs = []plan.StageInput{{Stage: p.stage.ID, Schema: p.layout.schema}}
	p.out.Stages = append(p.out.Stages, next)
	p.stage = next
	var schema plan.Schema
	for i, kc := range keyCols {
		c := p.layout.schema[kc]
		c.Name = a.Cols[i].Name
		schema = append(schema, c)
	}
	for i, ag := range aggs {
		schema = append(schema, plan.Column{Name: a.Cols[len(a.GroupBy)+i].Name, Type: ag.Typ, NotNull: ag.Fn == "count"})
	}
	schema = append(schema, opCol)
	p.emit(&plan.RetractAggOp{OpBase: plan.OpBase{Schema: schema}, KeyCols: keyCols, Aggs: aggs})
	out := identityLayout(schema, false)
	out.m = out.m[:len(schema)-1]
	out.changelog = true
	p.layout = out
	p.src = nil
	return nil
}

// ---- top-N per window ----

// topN compiles ROW_NUMBER() OVER (PARTITION BY <window column>, ... ORDER
// BY ...) into a TopNOp in a new stage keyed by the partition: a window's
// ranking is final when the window closes. A filter above on the row
// number (rn <= N, rn < N, rn = 1), through projections, bounds the rows
// kept per partition; it stays in the plan (every row then passes it).
func (p *jobPlanner) topN(w *Window, above []Node) error {
	if len(w.Funcs) != 1 || w.Funcs[0].Fn != "row_number" || w.Funcs[0].Agg != nil {
		return pgerr.New(pgerr.FeatureNotSupported, "window functions other than ROW_NUMBER() are not supported in jobs yet").
			WithHint("A job ranks rows per window: ROW_NUMBER() OVER (PARTITION BY window_start ORDER BY ...), filtered by rn <= N.")
	}
	f := w.Funcs[0]
	if p.layout.changelog {
		return pgerr.New(pgerr.FeatureNotSupported, "a job cannot rank an updating stream yet")
	}
	if p.window != nil {
		return pgerr.New(pgerr.InternalError, "planner: window assignment pending at a window function")
	}
	var parts []expr.Expr
	winCol := -1
	var win tattr
	for _, e := range f.PartitionBy {
		pe, err := p.layout.remap(e)
		if err != nil {
			return err
		}
		if c, ok := pe.(*expr.Col); ok && winCol < 0 && p.layout.attr[c.Idx].win != nil {
			winCol, win = c.Idx, p.layout.attr[c.Idx]
		}
		parts = append(parts, pe)
	}
	if winCol < 0 {
		return pgerr.New(pgerr.FeatureNotSupported,
			"ROW_NUMBER() in a job must partition by the window_start or window_end of a window").
			WithDetail("A window's ranking is final, and emitted, when the watermark passes the window's end; a ranking of the whole stream would never be.").
			WithHint("Rank the rows of a TUMBLE or HOP window: PARTITION BY window_start[, ...].")
	}
	if p.opts.EmitEarly > 0 || p.opts.AllowedLateness > 0 {
		return pgerr.New(pgerr.FeatureNotSupported, "emit_early and allowed_lateness are not supported with ROW_NUMBER() in jobs yet")
	}
	var orders []expr.Expr
	for _, o := range f.OrderBy {
		pe, err := p.layout.remap(o.Expr)
		if err != nil {
			return err
		}
		orders = append(orders, pe)
	}
	keyCols := p.keyColumns(parts, "partition_key")
	orderCols := p.keyColumns(orders, "order_key")
	if p.stage.Source != nil {
		p.emit(&plan.LateGateOp{OpBase: plan.OpBase{Schema: p.layout.schema}, TimeCol: winCol, Delta: win.delta})
	}
	op := &plan.TopNOp{Keys: keyCols, N: topNLimit(len(w.Cols)-1, above), WindowCol: winCol, WindowEnd: win.end, Size: win.win.Size}
	for i, c := range orderCols {
		op.Order = append(op.Order, plan.SortKey{Col: c, Desc: f.OrderBy[i].Desc, NullsFirst: f.OrderBy[i].NullsFirst})
	}
	next := &plan.Stage{ID: len(p.out.Stages), Parallelism: p.opts.Parallelism}
	next.Name = "s" + itoa(next.ID)
	p.stage.Output = &plan.StageOutput{Stage: next.ID, KeyCols: keyCols, Schema: p.layout.schema, TimeCol: -1}
	next.Inputs = []plan.StageInput{{Stage: p.stage.ID, Schema: p.layout.schema}}
	p.out.Stages = append(p.out.Stages, next)
	p.stage = next
	l := p.layout
	op.Schema = append(append(plan.Schema(nil), l.schema...), plan.Column{Name: "row_number", Type: datum.TypeInt8, NotNull: true})
	p.emit(op)
	p.layout = &layout{m: append(append([]int(nil), l.m...), len(l.schema)), schema: op.Schema,
		origin: append(append([]int(nil), l.origin...), -1), attr: append(append([]tattr(nil), l.attr...), tattr{})}
	p.src = nil
	return nil
}

// topNLimit finds, in the nodes above a window function (nearest first), a
// filter bounding its row number (column rn): rn <= N, rn < N, rn = 1 (or
// mirrored). 0 when there is none.
func topNLimit(rn int, above []Node) int64 {
	for _, n := range above {
		switch x := n.(type) {
		case *Project:
			next := -1
			for i, e := range x.Exprs {
				if c, ok := e.(*expr.Col); ok && c.Idx == rn {
					next = i
					break
				}
			}
			if next < 0 {
				return 0
			}
			rn = next
		case *Filter:
			for _, c := range flatConjuncts(x.Pred) {
				call, ok := c.(*expr.Call)
				if !ok || len(call.Args) != 2 {
					continue
				}
				fn, a, b := call.Fn, call.Args[0], call.Args[1]
				if _, ok := b.(*expr.Col); ok {
					a, b = b, a
					fn = map[string]string{"<=": ">=", "<": ">", ">=": "<=", ">": "<", "=": "="}[fn]
				}
				col, ok1 := a.(*expr.Col)
				k, ok2 := b.(*expr.Const)
				if !ok1 || !ok2 || col.Idx != rn || k.Val.IsNull() || k.Val.Kind() != datum.KindInt {
					continue
				}
				v := k.Val.Int()
				switch {
				case fn == "<=" && v >= 1:
					return v
				case fn == "<" && v >= 2:
					return v - 1
				case fn == "=" && v == 1:
					return 1
				}
			}
		default:
			return 0
		}
	}
	return 0
}

// ---- sharing a join's common input ----

// forkPlan is a join whose inputs share their producer: the left input is
// a windowed aggregation X (under filters and projections) and the right an
// aggregation of the same X grouped by (at least) the join keys and one of
// X's window columns: Nexmark q5's "the auctions whose count is the
// maximum of their window". X is computed once; its rows are shuffled by
// the join keys into one stage, where a TeeOp passes each row to the
// right's chain (projections, the aggregation unlifted — its groups never
// span key ranges — then the join's right input) and on to the left's
// chain (then the join's left input).
type forkPlan struct {
	stage     *plan.Stage // the join's stage
	sideStage *plan.Stage // scratch: collects the right chain's ops
	in        plan.Schema // the fork stage's input row
	main      *jobPlanner
	side      *jobPlanner
}

// peelFP returns the filters and projections on top of n (top-down) and
// the node under them.
func peelFP(n Node) ([]Node, Node) {
	var chain []Node
	for {
		switch x := n.(type) {
		case *Filter:
			chain = append(chain, x)
			n = x.Input
		case *Project:
			chain = append(chain, x)
			n = x.Input
		default:
			return chain, n
		}
	}
}

// traceCol follows output column c of chain (top-down filters and
// projections) to the column of the node under it, or -1 when a projection
// computes it.
func traceCol(c int, chain []Node) int {
	for _, n := range chain {
		if pr, ok := n.(*Project); ok {
			col, ok := pr.Exprs[c].(*expr.Col)
			if !ok {
				return -1
			}
			c = col.Idx
		}
	}
	return c
}

// nodeKey is a logical subtree's identity for sharing ("" when it cannot
// be shared).
func nodeKey(n Node) string {
	var b strings.Builder
	if !writeNodeKey(&b, n) {
		return ""
	}
	return b.String()
}

func writeNodeKey(b *strings.Builder, n Node) bool {
	switch x := n.(type) {
	case *Scan:
		if x.Rel.Kind != catalog.RelSource {
			return false
		}
		fmt.Fprintf(b, "scan(%d)", x.Rel.ID)
		return true
	case *Filter:
		b.WriteString("filter(" + exprKey(x.Pred) + ",")
	case *Project:
		b.WriteString("project(")
		for _, e := range x.Exprs {
			b.WriteString(exprKey(e) + ";")
		}
	case *WindowAssign:
		fmt.Fprintf(b, "window(%d,%d,%d,%d,%d,", x.Kind, x.TimeCol, x.Size, x.Slide, x.Offset)
	case *Aggregate:
		b.WriteString("agg(")
		for _, g := range x.GroupBy {
			b.WriteString(exprKey(g) + ";")
		}
		for _, a := range x.Aggs {
			arg := ""
			if a.Arg != nil {
				arg = exprKey(a.Arg)
			}
			fmt.Fprintf(b, "%s/%t/%s;", a.Fn, a.Distinct, arg)
		}
		fmt.Fprintf(b, "%t,", x.Window != nil)
	default:
		return false
	}
	for _, in := range n.Inputs() {
		if !writeNodeKey(b, in) {
			return false
		}
	}
	b.WriteString(")")
	return true
}

// sameAggregate reports whether a and b compute the same rows up to the
// order of their group keys, and maps b's output columns to a's.
func sameAggregate(a, b *Aggregate) ([]int, bool) {
	if len(a.GroupBy) != len(b.GroupBy) || len(a.Aggs) != len(b.Aggs) || (a.Window == nil) != (b.Window == nil) {
		return nil, false
	}
	if k := nodeKey(a.Input); k == "" || k != nodeKey(b.Input) {
		return nil, false
	}
	for i := range a.Aggs {
		x, y := a.Aggs[i], b.Aggs[i]
		if x.Fn != y.Fn || x.Distinct != y.Distinct || (x.Arg == nil) != (y.Arg == nil) || (x.Arg != nil && exprKey(x.Arg) != exprKey(y.Arg)) {
			return nil, false
		}
	}
	perm := make([]int, len(b.Cols))
	for i := range perm {
		perm[i] = i
	}
	used := map[int]bool{}
	for i, g := range b.GroupBy {
		k := exprKey(g)
		found := -1
		for j, h := range a.GroupBy {
			if !used[j] && exprKey(h) == k {
				found = j
				break
			}
		}
		if found < 0 {
			return nil, false
		}
		used[found] = true
		perm[i] = found
	}
	return perm, true
}

// remapBottom returns chain (top-down filters and projections) with the
// bottom node's column references mapped through perm.
func remapBottom(chain []Node, perm []int) []Node {
	if len(chain) == 0 {
		return chain
	}
	out := append([]Node(nil), chain...)
	through := func(e expr.Expr) expr.Expr {
		r, _ := mapCols(e, func(c *expr.Col) (expr.Expr, error) {
			return &expr.Col{Idx: perm[c.Idx], Typ: c.Typ, Name: c.Name}, nil
		})
		return r
	}
	switch n := out[len(out)-1].(type) {
	case *Filter:
		out[len(out)-1] = &Filter{Input: n.Input, Pred: through(n.Pred)}
	case *Project:
		exprs := make([]expr.Expr, len(n.Exprs))
		for i, e := range n.Exprs {
			exprs[i] = through(e)
		}
		out[len(out)-1] = &Project{Input: n.Input, Exprs: exprs, Cols: n.Cols}
	}
	return out
}

// fork plans the shared-input form of an inner join when it applies (nil
// otherwise).
func (p *jobPlanner) fork(kind plan.JoinKind, left, right Node, conds []expr.Expr, nl int) (*forkPlan, error) {
	if kind != plan.InnerJoin || p.opts.EmitEarly > 0 || p.opts.AllowedLateness > 0 {
		return nil, nil
	}
	lchain, lbot := peelFP(left)
	x, ok := lbot.(*Aggregate)
	if !ok || x.Window == nil {
		return nil, nil
	}
	rchain, rmid := peelFP(right)
	ra, ok := rmid.(*Aggregate)
	if !ok || ra.Window != nil {
		return nil, nil
	}
	rinner, rbot := peelFP(ra.Input)
	ry, ok := rbot.(*Aggregate)
	if !ok {
		return nil, nil
	}
	perm, ok := sameAggregate(x, ry)
	if !ok {
		return nil, nil
	}
	// Read the right's chain over x's columns.
	rinner = remapBottom(rinner, perm)
	// The right aggregation's groups, as columns of x.
	groups := map[int]bool{}
	window := false
	for _, g := range ra.GroupBy {
		c, ok := g.(*expr.Col)
		if !ok {
			return nil, nil
		}
		xc := traceCol(c.Idx, rinner)
		if xc < 0 {
			return nil, nil
		}
		groups[xc] = true
		if xc < len(x.GroupBy) {
			if wc, ok := x.GroupBy[xc].(*expr.Col); ok && (wc.Idx == x.Window.StartCol() || wc.Idx == x.Window.EndCol()) {
				window = true
			}
		}
	}
	if !window {
		return nil, nil
	}
	// The join keys the two sides trace to the same column of x: the
	// shuffle key. The right's groups must include them.
	var keys []int
	seen := map[int]bool{}
	for _, c := range conds {
		a, b, ok := equiPair(c, nl)
		if !ok {
			continue
		}
		ac, ok1 := a.(*expr.Col)
		bc, ok2 := b.(*expr.Col)
		if !ok1 || !ok2 {
			continue
		}
		la := traceCol(ac.Idx, lchain)
		rg := traceCol(bc.Idx-nl, rchain)
		if la < 0 || rg < 0 || rg >= len(ra.GroupBy) {
			continue
		}
		gc, ok := ra.GroupBy[rg].(*expr.Col)
		if !ok {
			continue
		}
		if rx := traceCol(gc.Idx, rinner); rx == la && !seen[la] {
			seen[la] = true
			keys = append(keys, la)
		}
	}
	// One key, the only equality: the join's and the stage's key hashes
	// are then the same (state is filed by them).
	equis := 0
	for _, c := range conds {
		if _, _, ok := equiPair(c, nl); ok {
			equis++
		}
	}
	if len(keys) != 1 || equis != 1 {
		return nil, nil
	}
	for _, k := range keys {
		if !groups[k] {
			return nil, nil
		}
	}
	sort.Ints(keys)
	b, err := p.compile(x)
	if err != nil {
		return nil, err
	}
	var keyPhys []int
	for _, k := range keys {
		pc := b.layout.m[k]
		if pc < 0 {
			return nil, pgerr.New(pgerr.InternalError, "planner: shared join input key is not a column")
		}
		keyPhys = append(keyPhys, pc)
	}
	st := &plan.Stage{ID: len(p.out.Stages), Parallelism: p.opts.Parallelism}
	st.Name = "s" + itoa(st.ID)
	b.stage.Output = &plan.StageOutput{Stage: st.ID, KeyCols: keyPhys, Schema: b.layout.schema, TimeCol: -1}
	st.Inputs = []plan.StageInput{{Stage: b.stage.ID, Schema: b.layout.schema}}
	p.out.Stages = append(p.out.Stages, st)
	fk := &forkPlan{stage: st, sideStage: &plan.Stage{ID: st.ID, Name: st.Name}, in: b.layout.schema}
	fk.main = p.branch(st)
	fk.main.layout = cloneLayout(b.layout)
	fk.side = p.branch(fk.sideStage)
	fk.side.layout = cloneLayout(b.layout)
	fk.side.unlifted = true
	apply := func(br *jobPlanner, chain []Node) error {
		for i := len(chain) - 1; i >= 0; i-- {
			if err := p.checkExprs(chain[i]); err != nil {
				return err
			}
			var err error
			switch n := chain[i].(type) {
			case *Filter:
				err = br.filter(n)
			case *Project:
				err = br.project(n.Exprs, n.Cols)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if err := apply(fk.main, lchain); err != nil {
		return nil, err
	}
	if err := apply(fk.side, rinner); err != nil {
		return nil, err
	}
	// Where the stage's key is in the side aggregation's input.
	kc := -1
	for i := range ra.Input.Schema() {
		if traceCol(i, rinner) == keys[0] {
			if pc := fk.side.layout.m[i]; pc >= 0 {
				kc = pc
				break
			}
		}
	}
	if kc < 0 {
		return nil, pgerr.New(pgerr.InternalError, "planner: the shared join input's key is not in the side aggregation's input")
	}
	fk.side.partitionCols = []int{kc}
	if err := p.checkExprs(ra); err != nil {
		return nil, err
	}
	if err := fk.side.aggregate(ra, false); err != nil {
		return nil, err
	}
	if err := apply(fk.side, rchain); err != nil {
		return nil, err
	}
	return fk, nil
}

func cloneLayout(l *layout) *layout {
	return &layout{m: append([]int(nil), l.m...), schema: append(plan.Schema(nil), l.schema...),
		origin: append([]int(nil), l.origin...), attr: append([]tattr(nil), l.attr...), changelog: l.changelog}
}

// retractableAgg reports whether a RetractAggOp can compute a.
func retractableAgg(a *expr.AggFunc) bool {
	if a.Distinct {
		return false
	}
	switch a.Fn {
	case "count", "min", "max":
		return true
	case "sum", "avg":
		t := a.Typ
		return t == datum.TypeInt8 || t == datum.TypeFloat8 || t == datum.TypeFloat4 || t == datum.TypeNumeric
	}
	return false
}
