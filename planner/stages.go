package planner

import (
	"fmt"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// This file compiles a job's INSERT INTO target SELECT ... into stages
// (package plan). The rules:
//
//   - Each source scan starts a branch at its own source stage; stateless
//     operators (filters, projections, window assignment) fuse into the
//     stage the branch has reached.
//   - An aggregation (windowed or not) splits the branch at a shuffle by
//     its group key, window columns excluded. Combiner lifting: the current
//     stage ends with the Partial half, which folds each bundle's rows into
//     accumulators per (key, window); the new keyed stage starts with the
//     Merge half, which owns the state. Every Weir aggregate is mergeable
//     (count(DISTINCT x) merges its value sets), so lifting always applies.
//     Sliding windows (and windows regrouping an upstream window's
//     results) without early or late panes aggregate by slices (Sliced).
//   - A later aggregation continues the branch the same way: grouped by an
//     upstream window's window_start or window_end it is windowed by that
//     window (Prewindowed); over an upstream continuous aggregation, whose
//     results update, the latter emits retractions (Retract) and the former
//     is a RetractAggOp.
//   - Joins and UNION ALL combine branches in a keyed stage with several
//     inputs; a join with a table fuses into the stream's stage
//     (stages_join.go).
//   - What follows (HAVING, the select list, the conversion to the target's
//     columns) fuses into the last stage, which ends with the sink.
//
// Jobs that read only tables are not jobs: PlanJob rejects them (0A000) and
// the engine runs INSERT ... SELECT over tables as a batch statement. Set
// operations other than UNION ALL, ORDER BY/LIMIT and subqueries in
// expressions are not supported in jobs yet (0A000).

// PlanJob binds and compiles a job: CREATE JOB name WITH (with) AS ins.
// Operator names are assigned (names.go) and the name.* options applied.
func PlanJob(r Resolver, name string, ins *sql.Insert, with []sql.Option) (*plan.JobPlan, error) {
	opts, err := ParseJobOptions(with)
	if err != nil {
		return nil, err
	}
	b := newBinder(r, BindOptions{})
	n, err := b.bindInsert(ins, true)
	if err != nil {
		return nil, err
	}
	jp := &jobPlanner{opts: opts, pos: ins.Source().Start}
	jplan, err := jp.plan(n)
	if err != nil {
		return nil, err
	}
	jplan.Job, jplan.Options, jplan.SQL = name, opts, ins.Source().Text
	posOf := func(key string) sql.Pos { return optionPos(with, NameOptionPrefix+key, ins.Source().Start) }
	if err := assignNames(jplan, opts, posOf); err != nil {
		return nil, err
	}
	return jplan, nil
}

// PlanCreateJob plans a CREATE JOB ... AS INSERT statement.
func PlanCreateJob(r Resolver, stmt *sql.CreateJob) (*plan.JobPlan, error) {
	if stmt.Insert == nil {
		return nil, errAt(stmt.Start, pgerr.InternalError, "planner: CREATE JOB %s has no INSERT to plan", stmt.Name)
	}
	return PlanJob(r, stmt.Name, stmt.Insert, stmt.With)
}

// Window columns not materialized in the physical row (a windowed
// aggregation assigns windows itself) are marked in a layout by these.
const (
	virtStart = -2
	virtEnd   = -3
)

// layout maps the columns of the logical node being compiled to the
// physical row flowing between ops.
type layout struct {
	m      []int       // logical column -> physical column (or virtStart/virtEnd/pruned)
	schema plan.Schema // the physical row
	// origin is, per physical column, the source column it passes through
	// unchanged, or -1.
	origin []int
	// attr is, per physical column, what the column says about event time
	// (stages_join.go).
	attr []tattr
	// changelog: the rows are an updating stream whose last physical column
	// is the op column (physical_join.go); no logical column maps to it.
	changelog bool
}

func identityLayout(s plan.Schema, fromSource bool) *layout {
	l := &layout{m: make([]int, len(s)), schema: s, origin: make([]int, len(s)), attr: make([]tattr, len(s))}
	for i := range s {
		l.m[i] = i
		l.origin[i] = -1
		if fromSource {
			l.origin[i] = i
		}
	}
	return l
}

// remap rewrites a logical expression over the physical row.
func (l *layout) remap(e expr.Expr) (expr.Expr, error) {
	return mapCols(e, func(c *expr.Col) (expr.Expr, error) {
		p := l.m[c.Idx]
		if p == pruned {
			return nil, pgerr.New(pgerr.InternalError, "planner: column %s was pruned before its use", c.Name)
		}
		if p < 0 {
			return nil, pgerr.New(pgerr.FeatureNotSupported,
				"a job cannot use %s before its windowed aggregation", c.Name).
				WithHint("window_start and window_end can be grouped by and used after the aggregation.")
		}
		return &expr.Col{Idx: p, Typ: l.schema[p].Type, Name: l.schema[p].Name}, nil
	})
}

// jobPlanner compiles one branch of a job: the chain of operators that
// produces one logical node's rows, appended to the stage it has reached.
// A job reading one source is one branch; a join or UNION ALL compiles each
// input as its own branch (sharing out and info) and continues in a new
// stage that the branches feed (stages_join.go).
type jobPlanner struct {
	opts   plan.JobOptions
	pos    sql.Pos
	out    *plan.JobPlan
	info   *jobInfo
	stage  *plan.Stage
	src    *catalog.Source // the source the branch reads, while in its source stage
	layout *layout
	// window is the assignment the pending windowed aggregation consumes,
	// and timeCol its time column in the physical row.
	window  *WindowAssign
	timeCol int
	// unlifted: aggregations stay in the current stage, one operator
	// instead of a partial and a merge (the side chain of a fork,
	// stages_join.go, whose groups never span key ranges).
	unlifted bool
	// partitionCols: the physical columns the stage is keyed by, for an
	// unlifted aggregation's state.
	partitionCols []int
}

func (p *jobPlanner) errorf(code, format string, args ...any) *pgerr.Error {
	return errAt(p.pos, code, format, args...)
}

func (p *jobPlanner) plan(ins *Insert) (*plan.JobPlan, error) {
	if err := p.checkReads(ins.Input); err != nil {
		return nil, err
	}
	p.out = &plan.JobPlan{}
	p.info = analyzeJob(ins.Input)
	br, err := p.compile(ins.Input)
	if err != nil {
		return nil, err
	}
	if err := br.sink(ins.Target); err != nil {
		return nil, err
	}
	for _, st := range p.out.Stages {
		in := stageInputSchema(p.out, st)
		st.Ops = fuseProjects(st.Ops, in)
		for _, op := range st.Ops {
			if t, ok := op.(*plan.TeeOp); ok {
				t.Side = fuseProjects(t.Side, in)
			}
		}
	}
	return p.out, nil
}

// checkReads checks what the job's query reads: at least one source, and
// no system table.
func (p *jobPlanner) checkReads(top Node) error {
	var scans []*Scan
	var visit func(Node)
	visit = func(n Node) {
		if s, ok := n.(*Scan); ok {
			scans = append(scans, s)
		}
		for _, c := range n.Inputs() {
			visit(c)
		}
	}
	visit(top)
	sources := 0
	for _, s := range scans {
		switch s.Rel.Kind {
		case catalog.RelSource:
			sources++
		case catalog.RelSystem:
			return p.errorf(pgerr.FeatureNotSupported, "a job cannot read system table %s", qualifiedName(s.Rel))
		}
	}
	if sources == 0 {
		return p.errorf(pgerr.FeatureNotSupported, "a job must read a source").
			WithHint("To copy from tables once, run INSERT ... SELECT as a statement instead of a job.")
	}
	return nil
}

// compile compiles the logical node top into a branch: it peels the chain
// of single-input operators down to a source scan, a join or a UNION ALL,
// compiles that, then applies the chain bottom-up.
func (p *jobPlanner) compile(top Node) (*jobPlanner, error) {
	var chain []Node // top-down
	var br *jobPlanner
	n := top
	for br == nil {
		switch x := n.(type) {
		case *Filter, *Project, *WindowAssign, *Aggregate, *Distinct, *Window:
			chain = append(chain, x)
			n = x.Inputs()[0]
		case *Scan:
			if x.Rel.Kind != catalog.RelSource {
				return nil, p.errorf(pgerr.FeatureNotSupported,
					"a job reads table %s only as the lookup side of a join", qualifiedName(x.Rel)).
					WithHint("Join a source with the table: SELECT ... FROM src JOIN %s ON ...", x.Rel.Name)
			}
			var err error
			if br, err = p.sourceBranch(x); err != nil {
				return nil, err
			}
		case *Join:
			var err error
			if br, chain, err = p.join(x, chain); err != nil {
				return nil, positioned(err, p.pos)
			}
		case *SetOp:
			if x.Op != "UNION" || !x.All {
				return nil, p.errorf(pgerr.FeatureNotSupported, "%s is not supported in jobs yet", setOpName(x)).
					WithHint("UNION ALL is: it needs no state.")
			}
			var err error
			if br, err = p.unionAll(x); err != nil {
				return nil, positioned(err, p.pos)
			}
		case *Sort:
			return nil, p.errorf(pgerr.FeatureNotSupported, "ORDER BY is not supported in a job: its output is a stream")
		case *Limit:
			return nil, p.errorf(pgerr.FeatureNotSupported, "LIMIT and OFFSET are not supported in a job: its output is a stream")
		case *Values:
			return nil, p.errorf(pgerr.FeatureNotSupported, "VALUES is not supported in a job")
		default:
			return nil, p.errorf(pgerr.InternalError, "planner: unexpected %T in a job", n)
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		if err := p.checkExprs(chain[i]); err != nil {
			return nil, err
		}
		var err error
		switch x := chain[i].(type) {
		case *Filter:
			err = br.filter(x)
		case *Project:
			err = br.project(x.Exprs, x.Cols)
		case *WindowAssign:
			err = br.windowAssign(x, reversed(chain[:i]))
		case *Aggregate:
			err = br.aggregate(x, p.info.feedsAgg[x])
		case *Distinct:
			err = br.distinct(x, p.info.feedsAgg[x])
		case *Window:
			err = br.topN(x, reversed(chain[:i]))
		}
		if err != nil {
			return nil, positioned(err, p.pos)
		}
	}
	return br, nil
}

func reversed(ns []Node) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[len(ns)-1-i] = n
	}
	return out
}

func setOpName(x *SetOp) string {
	if x.All {
		return x.Op + " ALL"
	}
	return x.Op
}

// sourceBranch starts a branch at a new source stage reading scan's source.
func (p *jobPlanner) sourceBranch(scan *Scan) (*jobPlanner, error) {
	spec, err := sourceSpec(scan.Rel.Source)
	if err != nil {
		return nil, err
	}
	st := &plan.Stage{ID: len(p.out.Stages), Source: spec, Parallelism: p.opts.Parallelism}
	st.Name = "s" + itoa(st.ID)
	p.out.Stages = append(p.out.Stages, st)
	br := p.branch(st)
	br.src = scan.Rel.Source
	br.layout = identityLayout(spec.Schema, true)
	if spec.TimeCol >= 0 {
		br.layout.attr[spec.TimeCol] = tattr{ok: true}
	}
	return br, nil
}

// branch returns a new branch positioned at stage st.
func (p *jobPlanner) branch(st *plan.Stage) *jobPlanner {
	return &jobPlanner{opts: p.opts, pos: p.pos, out: p.out, info: p.info, stage: st}
}

// checkExprs rejects subqueries in a job's expressions.
func (p *jobPlanner) checkExprs(n Node) error {
	var es []expr.Expr
	switch x := n.(type) {
	case *Filter:
		es = append(es, x.Pred)
	case *Project:
		es = x.Exprs
	case *Aggregate:
		es = append(es, x.GroupBy...)
		for _, a := range x.Aggs {
			if a.Arg != nil {
				es = append(es, a.Arg)
			}
			if a.Order != nil {
				return p.errorf(pgerr.FeatureNotSupported, "ORDER BY in aggregate calls is not supported in jobs yet")
			}
		}
	}
	for _, e := range es {
		if containsSubquery(e) {
			return p.errorf(pgerr.FeatureNotSupported, "subqueries are not supported in jobs yet")
		}
	}
	return nil
}

// sourceSpec describes what a source stage reads.
func sourceSpec(s *catalog.Source) (*plan.SourceSpec, error) {
	spec := &plan.SourceSpec{
		OpName:         "source_" + sanitizeName(s.Name),
		Name:           s.Name,
		ID:             s.ID,
		Connector:      s.Connector(),
		Options:        s.Options,
		Schema:         catalogSchema(s.Columns),
		TimeCol:        s.TimeCol(),
		WatermarkDelay: s.WatermarkDelay,
	}
	if spec.TimeCol >= 0 {
		c := spec.Schema[spec.TimeCol]
		var w expr.Expr = &expr.Col{Idx: spec.TimeCol, Typ: c.Type, Name: c.Name}
		if s.WatermarkDelay > 0 {
			d := &expr.Const{Val: datum.NewInterval(0, s.WatermarkDelay), Typ: datum.TypeInterval}
			var err error
			if w, err = expr.ResolveCall("-", []expr.Expr{w, d}); err != nil {
				return nil, err
			}
		}
		spec.Watermark = w
	}
	if v, ok := s.Options["idle_timeout"]; ok {
		d, err := parseDuration("idle_timeout", v)
		if err != nil {
			return nil, err
		}
		spec.IdleTimeout = d
	}
	switch spec.Connector {
	case "file":
		spec.Bounded = true
	case "datagen":
		_, spec.Bounded = s.Options["rows"]
	case "nexmark":
		_, spec.Bounded = s.Options["events"]
	}
	return spec, nil
}

func (p *jobPlanner) emit(op plan.Op) {
	p.stage.Ops = append(p.stage.Ops, op)
}

func (p *jobPlanner) filter(f *Filter) error {
	pred, err := p.layout.remap(f.Pred)
	if err != nil {
		return err
	}
	p.emit(&plan.FilterOp{OpBase: plan.OpBase{Schema: p.layout.schema}, Pred: pred})
	return nil
}

// project compiles a projection. Window columns that are passed through
// stay virtual; the pending window's time column is kept (as a trailing
// column) even if the projection drops it.
func (p *jobPlanner) project(exprs []expr.Expr, cols plan.Schema) error {
	l := p.layout
	out := &layout{}
	var phys []expr.Expr
	for i, e := range exprs {
		if c, ok := e.(*expr.Col); ok && l.m[c.Idx] < 0 {
			out.m = append(out.m, l.m[c.Idx])
			continue
		}
		pe, err := l.remap(e)
		if err != nil {
			return err
		}
		origin := -1
		var attr tattr
		if c, ok := pe.(*expr.Col); ok {
			origin = l.origin[c.Idx]
			attr = l.attr[c.Idx]
		}
		out.m = append(out.m, len(phys))
		out.origin = append(out.origin, origin)
		out.attr = append(out.attr, attr)
		out.schema = append(out.schema, plan.Column{Name: cols[i].Name, Type: pe.Type(), NotNull: cols[i].NotNull})
		phys = append(phys, pe)
	}
	newTime := -1
	if p.window != nil {
		for j, pe := range phys {
			if c, ok := pe.(*expr.Col); ok && c.Idx == p.timeCol {
				newTime = j
				break
			}
		}
		if newTime < 0 {
			tc := l.schema[p.timeCol]
			newTime = len(phys)
			phys = append(phys, &expr.Col{Idx: p.timeCol, Typ: tc.Type, Name: tc.Name})
			out.origin = append(out.origin, l.origin[p.timeCol])
			out.attr = append(out.attr, l.attr[p.timeCol])
			out.schema = append(out.schema, tc)
		}
	}
	if l.changelog {
		// The op column stays last.
		oc := len(l.schema) - 1
		phys = append(phys, &expr.Col{Idx: oc, Typ: l.schema[oc].Type, Name: l.schema[oc].Name})
		out.origin = append(out.origin, -1)
		out.attr = append(out.attr, tattr{})
		out.schema = append(out.schema, l.schema[oc])
		out.changelog = true
	}
	// A projection that only renames computes nothing: keep the physical
	// row (EXPLAIN and the sink use the new names).
	if !isIdentity(phys, len(l.schema)) {
		p.emit(&plan.ProjectOp{OpBase: plan.OpBase{Schema: out.schema}, Exprs: phys})
		if p.window != nil {
			p.timeCol = newTime
		}
	} else if n := len(p.stage.Ops); n > 0 {
		if prev, ok := p.stage.Ops[n-1].(*plan.ProjectOp); ok {
			// Let the projection that computed the row carry the names.
			prev.Schema = out.schema
		}
	}
	p.layout = out
	return nil
}

func isIdentity(es []expr.Expr, width int) bool {
	if len(es) != width {
		return false
	}
	for i, e := range es {
		if c, ok := e.(*expr.Col); !ok || c.Idx != i {
			return false
		}
	}
	return true
}

// windowAssign compiles a window assignment: absorbed into the windowed
// aggregation above it if there is one, else a stateless WindowAssignOp.
func (p *jobPlanner) windowAssign(w *WindowAssign, above []Node) error {
	if err := p.windowAssign1(w, above); err != nil {
		return positioned(err, w.Pos)
	}
	return nil
}

func (p *jobPlanner) windowAssign1(w *WindowAssign, above []Node) error {
	l := p.layout
	tc := l.m[w.TimeCol]
	if tc < 0 {
		return pgerr.New(pgerr.FeatureNotSupported, "a job cannot window by the window columns of another window")
	}
	if l.changelog {
		return pgerr.New(pgerr.FeatureNotSupported, "a job cannot window an updating stream (the results of a continuous aggregation or an outer join)")
	}
	if p.src == nil {
		// Not in a source stage: the column must be an event-time
		// attribute on time for this stage (stages_join.go).
		if a := l.attr[tc]; !a.ok || a.delta < 0 {
			return pgerr.New(pgerr.FeatureNotSupported,
				"window time column %q is not an event-time column here", l.schema[tc].Name).
				WithHint("After a join or an aggregation, window by window_end of an upstream window, or window the source before joining.")
		}
	}
	for _, n := range above {
		if a, ok := n.(*Aggregate); ok && a.Window == w {
			if p.src == nil {
				p.window, p.timeCol = w, tc
				l.m = append(append([]int(nil), l.m...), virtStart, virtEnd)
				return nil
			}
			if p.src.WatermarkColumn == "" {
				return pgerr.New(pgerr.FeatureNotSupported,
					"source %q has no WATERMARK FOR column: a windowed aggregation in a job needs event time", p.src.Name).
					WithHint("Declare one in CREATE SOURCE: WATERMARK FOR ts AS ts - INTERVAL '5' SECOND.")
			}
			if o := l.origin[tc]; o != p.src.TimeCol() {
				what := fmt.Sprintf("%q", l.schema[tc].Name)
				switch {
				case o < 0:
					what += " (computed)"
				case p.src.Columns[o].Name != l.schema[tc].Name:
					what += fmt.Sprintf(" (source column %q)", p.src.Columns[o].Name)
				}
				return pgerr.New(pgerr.InvalidColumnReference,
					"window time column %s is not the watermark column of source %q", what, p.src.Name).
					WithHint("Window by %s, the column of the source's WATERMARK FOR clause.", p.src.WatermarkColumn)
			}
			p.window, p.timeCol = w, tc
			l.m = append(append([]int(nil), l.m...), virtStart, virtEnd)
			return nil
		}
		if _, ok := n.(*Aggregate); ok {
			return pgerr.New(pgerr.GroupingError,
				"a windowed aggregation must group by window_start or window_end").
				WithDetail("Without them the aggregation would merge every window of a key into one running total, and no window would ever close.").
				WithHint("Add window_start (and window_end) to GROUP BY, or read the source without %s(...).", windowKindName(w.Kind))
		}
	}
	spec := w.Spec()
	spec.TimeCol = tc
	schema := concatSchema(l.schema, windowCols)
	p.emit(&plan.WindowAssignOp{OpBase: plan.OpBase{Schema: schema}, Window: spec})
	out := &layout{m: append(append([]int(nil), l.m...), len(l.schema), len(l.schema)+1), schema: schema,
		origin: append(append([]int(nil), l.origin...), -1, -1),
		attr:   append(append([]tattr(nil), l.attr...), assignedWindowAttrs(l.attr[tc], spec)...)}
	p.layout = out
	return nil
}

// aggregate compiles an aggregation into Partial (source stage), shuffle,
// Merge (new keyed stage).
//
// An aggregation grouping by the window column of an upstream windowed
// result (SELECT max(n) FROM (SELECT count(*) AS n, window_start ... GROUP
// BY window_start, k) GROUP BY window_start) is windowed too: Prewindowed.
// One over an updating stream is a RetractAggOp in a new stage; retract
// makes a continuous aggregation's results an updating stream.
func (p *jobPlanner) aggregate(a *Aggregate, retract bool) error {
	windowed := a.Window != nil
	if !windowed && p.window != nil {
		return pgerr.New(pgerr.InternalError, "planner: window assignment without its aggregation")
	}
	if windowed && a.Window != p.window {
		return pgerr.New(pgerr.FeatureNotSupported, "a job's windowed aggregation must window its input directly")
	}
	if p.layout.changelog {
		return p.retractAggregate(a)
	}
	var prewin *tattr // the upstream window a pre-windowed aggregation groups by
	prewinCol := -1
	if !windowed {
		for _, g := range a.GroupBy {
			if c, ok := g.(*expr.Col); ok {
				if pc := p.layout.m[c.Idx]; pc >= 0 && p.layout.attr[pc].win != nil {
					at := p.layout.attr[pc]
					if prewin == nil || (at.end && !prewin.end) {
						prewin, prewinCol = &at, pc
					}
				}
			}
		}
		windowed = prewin != nil
	}
	// Without early or late panes a window fires one pane: aggregate
	// sliding windows, and windows of an upstream window's results, by
	// slices (plan/physical.go). (Tumbling windows are their own slices; they
	// keep the classic operator, whose state an update can re-window.)
	sliced := windowed && p.opts.EmitEarly == 0 && p.opts.AllowedLateness == 0 &&
		(prewin != nil || (a.Window.Kind == plan.Hop && a.Window.Slide < a.Window.Size))
	if windowed && (p.opts.EmitEarly > 0 || p.opts.AllowedLateness > 0) && p.stage.Source == nil {
		return pgerr.New(pgerr.FeatureNotSupported,
			"emit_early and allowed_lateness are not supported in a job with windowed aggregations after a shuffle yet")
	}
	// Group keys other than the window's become key columns of the row.
	type keyRef struct {
		group int
		phys  expr.Expr
	}
	var keys []keyRef
	winCol := map[int]int{} // group index -> 0 (start) or 1 (end)
	for gi, g := range a.GroupBy {
		if c, ok := g.(*expr.Col); ok && a.Window != nil && p.layout.m[c.Idx] < 0 {
			winCol[gi] = 0
			if p.layout.m[c.Idx] == virtEnd {
				winCol[gi] = 1
			}
			continue
		}
		if c, ok := g.(*expr.Col); ok && prewin != nil {
			if pc := p.layout.m[c.Idx]; pc >= 0 {
				if at := p.layout.attr[pc]; at.win != nil && sameWindow(*at.win, *prewin.win) {
					winCol[gi] = 0
					if at.end {
						winCol[gi] = 1
					}
					continue
				}
			}
		}
		pe, err := p.layout.remap(g)
		if err != nil {
			return err
		}
		keys = append(keys, keyRef{gi, pe})
	}
	if windowed && len(winCol) == 0 {
		return pgerr.New(pgerr.InternalError, "planner: windowed aggregation without window keys")
	}
	aggs := make([]*expr.AggFunc, len(a.Aggs))
	for i, ag := range a.Aggs {
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
	// Keys must be columns: compute the others in a projection that keeps
	// the row and appends them.
	keyCols := make([]int, len(keys))
	var extra []expr.Expr
	in := p.layout.schema
	for i, k := range keys {
		if c, ok := k.phys.(*expr.Col); ok {
			keyCols[i] = c.Idx
			continue
		}
		keyCols[i] = len(in) + len(extra)
		extra = append(extra, k.phys)
	}
	if len(extra) > 0 {
		exprs := make([]expr.Expr, 0, len(in)+len(extra))
		schema := append(plan.Schema(nil), in...)
		for i, c := range in {
			exprs = append(exprs, &expr.Col{Idx: i, Typ: c.Type, Name: c.Name})
		}
		for _, e := range extra {
			exprs = append(exprs, e)
			schema = append(schema, plan.Column{Type: e.Type()})
		}
		// Name the computed keys after their group columns.
		for i, k := range keys {
			if keyCols[i] >= len(in) {
				schema[keyCols[i]].Name = keyName(a.GroupBy[k.group], a.Cols[k.group].Name)
			}
		}
		p.emit(&plan.ProjectOp{OpBase: plan.OpBase{Schema: schema}, Exprs: exprs})
		in = schema
	}

	// The Partial half ends the current stage; its row crosses the shuffle.
	nk := len(keys)
	var partialSchema, mergeSchema plan.Schema
	for _, kc := range keyCols {
		partialSchema = append(partialSchema, in[kc])
		mergeSchema = append(mergeSchema, in[kc])
	}
	if windowed {
		partialSchema = append(partialSchema, windowCols[0])
		mergeSchema = append(mergeSchema, windowCols...)
	}
	for i, ag := range aggs {
		name := a.Cols[len(a.GroupBy)+i].Name
		partialSchema = append(partialSchema, plan.Column{Name: name, Type: datum.TypeBytea, NotNull: true})
		mergeSchema = append(mergeSchema, plan.Column{Name: name, Type: ag.Typ, NotNull: ag.Fn == "count"})
	}
	timeOut := -1
	var spec plan.WindowSpec
	if windowed {
		tcol := p.timeCol
		if prewin != nil {
			tcol = prewinCol
		}
		tc := in[tcol]
		timeOut = len(partialSchema)
		partialSchema = append(partialSchema, plan.Column{Name: tc.Name, Type: tc.Type, NotNull: true},
			plan.Column{Name: "rows", Type: datum.TypeInt8, NotNull: true})
		if sliced {
			partialSchema = append(partialSchema, plan.Column{Name: "first_end", Type: datum.TypeTimestamp, NotNull: true})
		}
		mergeSchema = append(mergeSchema,
			plan.Column{Name: "pane_timing", Type: datum.TypeText, NotNull: true},
			plan.Column{Name: "pane_index", Type: datum.TypeInt8, NotNull: true})
		if prewin != nil {
			spec = *prewin.win
		} else {
			spec = p.window.Spec()
		}
		spec.TimeCol = tcol
	}
	if retract && !windowed {
		mergeSchema = append(mergeSchema, opCol)
	}
	var outKeys []int
	for i := 0; i < nk; i++ {
		outKeys = append(outKeys, i)
	}
	var partial, merge plan.Op
	if windowed {
		mspec := spec
		mspec.TimeCol = timeOut
		pw := &plan.WindowAggOp{OpBase: plan.OpBase{Schema: partialSchema}, Window: spec, KeyCols: keyCols, Aggs: aggs, Partial: true, Sliced: sliced}
		if prewin != nil {
			pw.Prewindowed = plan.PrewindowedStart
			if prewin.end {
				pw.Prewindowed = plan.PrewindowedEnd
			}
		}
		partial = pw
		merge = &plan.WindowAggOp{OpBase: plan.OpBase{Schema: mergeSchema}, Window: mspec, KeyCols: outKeys, Aggs: aggs, Merge: true, Sliced: sliced}
	} else {
		partial = &plan.AggOp{OpBase: plan.OpBase{Schema: partialSchema}, KeyCols: keyCols, Aggs: aggs, Partial: true}
		merge = &plan.AggOp{OpBase: plan.OpBase{Schema: mergeSchema}, KeyCols: outKeys, Aggs: aggs, Merge: true, Retract: retract}
	}
	if p.unlifted {
		// One operator, in this stage: over the raw rows, with the
		// state and the firing.
		pw, ok := partial.(*plan.WindowAggOp)
		if !ok || !pw.Sliced {
			return pgerr.New(pgerr.InternalError, "planner: only a sliced windowed aggregation runs unlifted")
		}
		u := *pw
		u.Partial = false
		u.Schema = mergeSchema
		u.PartitionCols = p.partitionCols
		p.emit(&u)
	} else {
		p.splitAggregate(partial, merge, partialSchema, outKeys, timeOut, nk)
	}

	// The Aggregate's logical columns over the Merge's output.
	out := &layout{schema: mergeSchema, origin: make([]int, len(mergeSchema)), attr: make([]tattr, len(mergeSchema))}
	for i := range out.origin {
		out.origin[i] = -1
	}
	if windowed {
		out.attr[nk], out.attr[nk+1] = windowResultAttrs(spec)
	}
	out.changelog = retract && !windowed
	keyPos := map[int]int{}
	for i, k := range keys {
		keyPos[k.group] = i
	}
	off := nk
	if windowed {
		off = nk + 2
	}
	for gi := range a.GroupBy {
		if w, ok := winCol[gi]; ok {
			out.m = append(out.m, nk+w)
		} else {
			out.m = append(out.m, keyPos[gi])
		}
	}
	for i := range a.Aggs {
		out.m = append(out.m, off+i)
	}
	if a.Window != nil {
		out.m = append(out.m, off+len(a.Aggs), off+len(a.Aggs)+1)
	}
	p.layout = out
	p.window = nil
	p.src = nil
	return nil
}

// splitAggregate ends the current stage with the partial half of an
// aggregation, shuffled by its keys (outKeys of its row) into a new keyed
// stage that starts with the merge half.
func (p *jobPlanner) splitAggregate(partial, merge plan.Op, partialSchema plan.Schema, outKeys []int, timeOut, nk int) {
	p.emit(partial)
	next := &plan.Stage{ID: len(p.out.Stages), Parallelism: p.opts.Parallelism}
	next.Name = "s" + itoa(next.ID)
	if nk == 0 {
		next.Parallelism = 1 // one global key
	}
	p.stage.Output = &plan.StageOutput{Stage: next.ID, KeyCols: outKeys, Schema: partialSchema, TimeCol: timeOut}
	next.Inputs = []plan.StageInput{{Stage: p.stage.ID, Schema: partialSchema}}
	p.out.Stages = append(p.out.Stages, next)
	p.stage = next
	p.emit(merge)
}

// distinct compiles SELECT DISTINCT as an aggregation by every column with
// no aggregates.
func (p *jobPlanner) distinct(d *Distinct, retract bool) error {
	s := d.Input.Schema()
	a := &Aggregate{Input: d.Input, Cols: s}
	for i, c := range s {
		a.GroupBy = append(a.GroupBy, &expr.Col{Idx: i, Typ: c.Type, Name: c.Name})
	}
	return p.aggregate(a, retract)
}

// sink ends the last stage with the write into the job's target. The row
// is already in the target's column order (bindInsert projected it).
func (p *jobPlanner) sink(t *catalog.Relation) error {
	for i, m := range p.layout.m {
		if m != i {
			return p.errorf(pgerr.InternalError, "planner: job output is not in target order")
		}
	}
	op := &plan.SinkOp{OpBase: plan.OpBase{Schema: catalogSchema(t.Columns)}, Target: t.Name, TargetID: t.ID, Changelog: p.layout.changelog}
	switch t.Kind {
	case catalog.RelTable:
		op.IsTable = true
		op.PrimaryKey = append([]int(nil), t.Table.PrimaryKey...)
		if op.Changelog && len(op.PrimaryKey) == 0 {
			return p.errorf(pgerr.FeatureNotSupported,
				"the job's results are updated as new rows arrive, so table %s needs a PRIMARY KEY", t.Name).
				WithDetail("An outer join of two streams without a time bound retracts the NULL-extended row it emitted when a match arrives.").
				WithHint("Declare a PRIMARY KEY on %s, or bound the join in time (BETWEEN on the event-time columns).", t.Name)
		}
	case catalog.RelSink:
		op.Connector, op.Options = t.Sink.Connector(), t.Sink.Options
		op.PrimaryKey = append([]int(nil), t.Sink.PrimaryKey...)
	}
	p.emit(op)
	return nil
}

// stageInputSchema is the row a stage's first op reads.
func stageInputSchema(p *plan.JobPlan, st *plan.Stage) plan.Schema {
	if st.Source != nil {
		return st.Source.Schema
	}
	if len(st.Inputs) > 0 {
		return st.Inputs[0].Schema
	}
	return nil
}

// fuseProjects merges each projection into the projection that follows it
// when that costs no repeated work (every column of the first is read at
// most once by the second, or is a plain column or constant), and drops
// projections that change nothing.
func fuseProjects(ops []plan.Op, in plan.Schema) []plan.Op {
	var out []plan.Op
	for _, op := range ops {
		pr, ok := op.(*plan.ProjectOp)
		if !ok {
			out = append(out, op)
			in = op.OutSchema()
			continue
		}
		if isIdentity(pr.Exprs, len(in)) && sameNames(in, pr.Schema) {
			continue
		}
		if len(out) > 0 {
			if prev, ok := out[len(out)-1].(*plan.ProjectOp); ok && canCompose(prev, pr) {
				exprs := make([]expr.Expr, len(pr.Exprs))
				for i, e := range pr.Exprs {
					exprs[i], _ = mapCols(e, func(c *expr.Col) (expr.Expr, error) { return prev.Exprs[c.Idx], nil })
				}
				out[len(out)-1] = &plan.ProjectOp{OpBase: plan.OpBase{Name: pr.Name, Schema: pr.Schema}, Exprs: exprs}
				in = pr.Schema
				continue
			}
		}
		out = append(out, op)
		in = op.OutSchema()
	}
	return out
}

func sameNames(a, b plan.Schema) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

func canCompose(lower, upper *plan.ProjectOp) bool {
	uses := map[int]int{}
	for _, e := range upper.Exprs {
		walkExpr(e, func(x expr.Expr) {
			if c, ok := x.(*expr.Col); ok {
				uses[c.Idx]++
			}
		})
	}
	for idx, n := range uses {
		if n <= 1 {
			continue
		}
		switch lower.Exprs[idx].(type) {
		case *expr.Col, *expr.Const:
		default:
			return false
		}
	}
	return true
}

func windowKindName(k plan.WindowKind) string {
	if k == plan.Hop {
		return "HOP"
	}
	return "TUMBLE"
}
