package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
)

// Env is what a Run needs from the engine.
type Env struct {
	// Scan returns every row of a relation: a table's rows, a source's log
	// contents, a system or pg_catalog virtual table. Each row must have at
	// least as many columns as the relation's schema. Run never modifies
	// the slice or the rows it returns, but the rows (not the slice) may be
	// part of Run's result.
	Scan func(ctx context.Context, rel *catalog.Relation) ([]datum.Row, error)
	// Lookup, if set, returns the row of keyed table rel whose primary key
	// columns (rel.Table.PrimaryKey, in key order) hold key: a filter
	// fixing every primary key column to a constant reads that one row
	// instead of scanning the table.
	Lookup func(ctx context.Context, rel *catalog.Relation, key datum.Row) (datum.Row, bool, error)
	// Params are the values of $1..$n.
	Params []datum.Datum
	// Now returns the statement's time in microseconds since the epoch, for
	// now() and current_timestamp. It is called at most once per Run. Nil:
	// a query that uses the current time fails.
	Now func() int64
	// Funcs resolves function calls built without a registry entry (nil:
	// expr.Builtins()). Calls the binder resolved carry their own.
	Funcs *expr.Registry
	// Settings reads the session's settings, for functions that depend on
	// the session (current_user reads session_authorization; see
	// expr.Overload.EvalSettings). Nil: none are set.
	Settings func(name string) (string, bool)
	// SetSetting changes a session setting (set_config). Nil: such calls
	// fail.
	SetSetting func(name, value string) error
}

// checkEvery is how many rows pass between two looks at ctx.
const checkEvery = 4096

// Run evaluates plan to completion and returns its rows. Insert, Update and
// Delete plans return the rows of their Input (the rows to insert, the
// matched rows of Target); UpdateRows computes an UPDATE's new rows.
//
// The result may share rows (never the slice) with what env.Scan returned.
// Run honors ctx: a canceled context fails it with 57014.
func Run(ctx context.Context, plan planner.Node, env *Env) ([]datum.Row, error) {
	r, err := newRunner(ctx, env)
	if err != nil {
		return nil, err
	}
	switch n := plan.(type) {
	case *planner.Insert:
		plan = n.Input
	case *planner.Update:
		plan = n.Input
	case *planner.Delete:
		plan = n.Input
	}
	r.shared = sharedNodes(plan)
	var out []datum.Row
	err = r.exec(plan, func(row datum.Row) error {
		out = append(out, row)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRows runs an UPDATE's Input and returns, for every matched row of
// n.Target, the row as it is and as the UPDATE leaves it: updated[i] is
// matched[i] with columns n.Cols set to n.Exprs evaluated over matched[i].
func UpdateRows(ctx context.Context, n *planner.Update, env *Env) (matched, updated []datum.Row, err error) {
	r, err := newRunner(ctx, env)
	if err != nil {
		return nil, nil, err
	}
	if len(n.Cols) != len(n.Exprs) {
		return nil, nil, internalf("UPDATE with %d columns and %d expressions", len(n.Cols), len(n.Exprs))
	}
	r.shared = sharedNodes(n)
	width := len(n.Target.Columns)
	evals := make([]evaluator, len(n.Exprs))
	for i, e := range n.Exprs {
		if n.Cols[i] < 0 || n.Cols[i] >= width {
			return nil, nil, internalf("UPDATE of column %d of %d", n.Cols[i], width)
		}
		if evals[i], err = r.compile(e); err != nil {
			return nil, nil, err
		}
	}
	err = r.exec(n.Input, func(row datum.Row) error {
		nr := make(datum.Row, width)
		copy(nr, row)
		for i, ev := range evals {
			d, err := ev(row)
			if err != nil {
				return err
			}
			nr[n.Cols[i]] = d
		}
		matched = append(matched, row)
		updated = append(updated, nr)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return matched, updated, nil
}

// Compile compiles e, an expression over rows the caller supplies (an
// UPDATE's SET list or WHERE clause evaluated over stored rows), as Run
// would: parameters come from env.Params, now() from env.Now, and each
// subquery in e runs once, now.
func Compile(ctx context.Context, e expr.Expr, env *Env) (expr.Evaluator, error) {
	r, err := newRunner(ctx, env)
	if err != nil {
		return nil, err
	}
	r.shared = sharedExprNodes(e)
	return r.compile(e)
}

// CompilePredicate is Compile for a condition (NULL is false).
func CompilePredicate(ctx context.Context, e expr.Expr, env *Env) (expr.Predicate, error) {
	r, err := newRunner(ctx, env)
	if err != nil {
		return nil, err
	}
	r.shared = sharedExprNodes(e)
	return r.compilePredicate(e)
}

// emitFunc receives the rows a node produces, one at a time. Rows are never
// modified after they are emitted, so a receiver may keep them. Returning
// an error stops the producer, which returns that error.
type emitFunc func(datum.Row) error

// runner evaluates one plan. It is used by one goroutine.
type runner struct {
	ctx  context.Context
	env  *Env
	rows int // rows seen since the last look at ctx
	now  func() int64
	// nowVal caches env.Now() so that every use within the statement sees
	// the same time.
	nowVal *int64
	// subqueries holds the results of uncorrelated subqueries, evaluated
	// once each.
	subqueries map[subqueryKey][]datum.Row
	// shared are the nodes the plan reaches more than once (a WITH query
	// used twice); each runs once and its rows are kept in cache.
	shared map[planner.Node]bool
	cache  map[planner.Node][]datum.Row
	// outer is the stack of enclosing rows of the correlated subqueries
	// being run, innermost last: each entry holds a subquery's Outer
	// values (planner.OuterRef reads them).
	outer []datum.Row
	// scans caches the rows of the relations read inside correlated
	// subqueries (shared by the statement's runners), so that running a
	// subquery per row reads each relation once.
	scans map[*catalog.Relation][]datum.Row
}

func newRunner(ctx context.Context, env *Env) (*runner, error) {
	if env == nil {
		env = &Env{}
	}
	r := &runner{ctx: ctx, env: env}
	if env.Now != nil {
		r.now = func() int64 {
			if r.nowVal == nil {
				v := env.Now()
				r.nowVal = &v
			}
			return *r.nowVal
		}
	}
	if err := r.checkCtx(); err != nil {
		return nil, err
	}
	return r, nil
}

// tick counts one unit of work and looks at ctx every checkEvery of them.
func (r *runner) tick() error {
	r.rows++
	if r.rows < checkEvery {
		return nil
	}
	r.rows = 0
	return r.checkCtx()
}

func (r *runner) checkCtx() error {
	err := r.ctx.Err()
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to statement timeout")
	}
	return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
}

// exec runs n, passing each of its rows to emit.
func (r *runner) exec(n planner.Node, emit emitFunc) error {
	if r.shared[n] {
		rows, ok := r.cache[n]
		if !ok {
			var err error
			if rows, err = r.collect1(n); err != nil {
				return err
			}
			if r.cache == nil {
				r.cache = make(map[planner.Node][]datum.Row)
			}
			r.cache[n] = rows
		}
		for _, row := range rows {
			if err := r.tick(); err != nil {
				return err
			}
			if err := emit(row); err != nil {
				return err
			}
		}
		return nil
	}
	return r.exec1(n, emit)
}

// collect1 runs n (bypassing the cache) and returns all its rows.
func (r *runner) collect1(n planner.Node) ([]datum.Row, error) {
	var rows []datum.Row
	err := r.exec1(n, func(row datum.Row) error {
		rows = append(rows, row)
		return nil
	})
	return rows, err
}

// exec1 runs n, passing each of its rows to emit.
func (r *runner) exec1(n planner.Node, emit emitFunc) error {
	switch n := n.(type) {
	case *planner.Scan:
		return r.execScan(n, emit)
	case *planner.Values:
		return r.execValues(n, emit)
	case *planner.Filter:
		return r.execFilter(n, emit)
	case *planner.Project:
		return r.execProject(n, emit)
	case *planner.WindowAssign:
		return r.execWindowAssign(n, emit)
	case *planner.Aggregate:
		return r.execAggregate(n, emit)
	case *planner.Join:
		return r.execJoin(n, emit)
	case *planner.Sort:
		return r.execSort(n, emit)
	case *planner.Limit:
		return r.execLimit(n, emit)
	case *planner.Distinct:
		return r.execDistinct(n, emit)
	case *planner.SetOp:
		return r.execSetOp(n, emit)
	case *planner.SetFunc:
		return r.execSetFunc(n, emit)
	case *planner.Window:
		return r.execWindow(n, emit)
	case *planner.Insert, *planner.Update, *planner.Delete:
		return internalf("%T nested in a query", n)
	case nil:
		return internalf("nil plan node")
	}
	return pgerr.New(pgerr.FeatureNotSupported, "query: plan node %T is not supported in batch queries", n)
}

func (r *runner) execScan(n *planner.Scan, emit emitFunc) error {
	if r.env.Scan == nil {
		return pgerr.New(pgerr.InternalError, "query: no Scan in Env (reading %s)", relName(n.Rel))
	}
	if n.Rel == nil {
		return pgerr.New(pgerr.InternalError, "query: scan without a relation")
	}
	rows, err := r.scan(n.Rel)
	if err != nil {
		return err
	}
	width := len(n.Cols)
	for _, row := range rows {
		if err := r.tick(); err != nil {
			return err
		}
		if len(row) < width {
			return pgerr.New(pgerr.InternalError, "query: %s returned a row of %d columns, want %d", relName(n.Rel), len(row), width)
		}
		if len(row) > width {
			row = row[:width:width]
		}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

// scan returns rel's rows: from Env.Scan, or inside a correlated subquery
// from the statement's cache.
func (r *runner) scan(rel *catalog.Relation) ([]datum.Row, error) {
	if len(r.outer) == 0 {
		return r.env.Scan(r.ctx, rel)
	}
	if rows, ok := r.scans[rel]; ok {
		return rows, nil
	}
	rows, err := r.env.Scan(r.ctx, rel)
	if err != nil {
		return nil, err
	}
	r.scans[rel] = rows
	return rows, nil
}

func relName(rel *catalog.Relation) string {
	if rel == nil {
		return "?"
	}
	if rel.Schema != "" {
		return rel.Schema + "." + rel.Name
	}
	return rel.Name
}

func (r *runner) execValues(n *planner.Values, emit emitFunc) error {
	for _, exprs := range n.Rows {
		if err := r.tick(); err != nil {
			return err
		}
		row := make(datum.Row, len(exprs))
		for i, e := range exprs {
			ev, err := r.compile(e)
			if err != nil {
				return err
			}
			if row[i], err = ev(nil); err != nil {
				return err
			}
		}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) execFilter(n *planner.Filter, emit emitFunc) error {
	pred, err := r.compilePredicate(n.Pred)
	if err != nil {
		return err
	}
	if scan, ok := n.Input.(*planner.Scan); ok && r.env.Lookup != nil && !r.shared[scan] {
		if key, ok, err := r.pointKey(scan, n.Pred); err != nil {
			return err
		} else if ok {
			return r.lookup(scan, key, pred, emit)
		}
	}
	return r.exec(n.Input, func(row datum.Row) error {
		ok, err := pred(row)
		if err != nil {
			return err
		}
		if ok {
			return emit(row)
		}
		return nil
	})
}

func (r *runner) execProject(n *planner.Project, emit emitFunc) error {
	evals, err := r.compileAll(n.Exprs)
	if err != nil {
		return err
	}
	return r.exec(n.Input, func(row datum.Row) error {
		out := make(datum.Row, len(evals))
		for i, ev := range evals {
			d, err := ev(row)
			if err != nil {
				return err
			}
			out[i] = d
		}
		return emit(out)
	})
}

// execWindowAssign emits each input row once per event-time window that
// contains it, oldest window first, with window_start and window_end
// appended. Rows whose time is NULL belong to no window.
func (r *runner) execWindowAssign(n *planner.WindowAssign, emit emitFunc) error {
	if n.Size <= 0 || n.Slide <= 0 {
		return pgerr.New(pgerr.InvalidParameterValue, "window size and slide must be positive")
	}
	in := n.Input.Schema()
	if n.TimeCol < 0 || n.TimeCol >= len(in) {
		return pgerr.New(pgerr.InternalError, "query: window time column %d out of range", n.TimeCol)
	}
	width := len(in)
	return r.exec(n.Input, func(row datum.Row) error {
		ts, ok, err := eventTime(row[n.TimeCol])
		if err != nil || !ok {
			return err
		}
		// The last window starting at or before ts, then earlier ones
		// while they still contain ts.
		last := floorDiv(ts-n.Offset, n.Slide)*n.Slide + n.Offset
		first := last
		for first-n.Slide > ts-n.Size {
			first -= n.Slide
		}
		for st := first; st <= last; st += n.Slide {
			if st <= ts-n.Size {
				continue // a gap between hopping windows
			}
			out := make(datum.Row, width+2)
			copy(out, row[:width])
			out[width] = datum.NewTimestamp(st)
			out[width+1] = datum.NewTimestamp(st + n.Size)
			if err := emit(out); err != nil {
				return err
			}
		}
		return nil
	})
}

// eventTime reads a row's event time in microseconds (false for NULL).
func eventTime(d datum.Datum) (int64, bool, error) {
	switch d.Kind() {
	case datum.KindNull:
		return 0, false, nil
	case datum.KindTimestamp:
		return d.Micros(), true, nil
	case datum.KindDate:
		return d.Micros() * 86400e6, true, nil
	case datum.KindInt:
		return d.Int(), true, nil
	}
	return 0, false, pgerr.New(pgerr.DatatypeMismatch, "window time column must be a timestamp, not %s", d.Kind())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// sharedNodes returns the nodes reachable more than once from root,
// through inputs and through the plans of subqueries in expressions.
func sharedNodes(root planner.Node) map[planner.Node]bool {
	return sharedFrom(root, nil)
}

// sharedExprNodes is sharedNodes for the subqueries of an expression.
func sharedExprNodes(e expr.Expr) map[planner.Node]bool {
	return sharedFrom(nil, e)
}

func sharedFrom(root planner.Node, rootExpr expr.Expr) map[planner.Node]bool {
	seen := map[planner.Node]bool{}
	var shared map[planner.Node]bool
	var visit func(n planner.Node)
	visitExpr := func(e expr.Expr) {
		walkSubqueries(e, func(s *planner.Subquery) { visit(s.Plan) })
	}
	visit = func(n planner.Node) {
		if n == nil {
			return
		}
		if seen[n] {
			if shared == nil {
				shared = map[planner.Node]bool{}
			}
			shared[n] = true
			return
		}
		seen[n] = true
		for _, e := range nodeExprs(n) {
			visitExpr(e)
		}
		for _, in := range n.Inputs() {
			visit(in)
		}
	}
	visit(root)
	visitExpr(rootExpr)
	return shared
}

// nodeExprs lists the expressions a node evaluates.
func nodeExprs(n planner.Node) []expr.Expr {
	switch n := n.(type) {
	case *planner.Values:
		var es []expr.Expr
		for _, row := range n.Rows {
			es = append(es, row...)
		}
		return es
	case *planner.Filter:
		return []expr.Expr{n.Pred}
	case *planner.Project:
		return n.Exprs
	case *planner.Aggregate:
		es := append([]expr.Expr(nil), n.GroupBy...)
		for _, a := range n.Aggs {
			if a != nil && a.Arg != nil {
				es = append(es, a.Arg)
			}
		}
		return es
	case *planner.Join:
		return []expr.Expr{n.On}
	case *planner.Limit:
		return []expr.Expr{n.Count, n.Offset}
	case *planner.Update:
		return n.Exprs
	case *planner.SetFunc:
		var es []expr.Expr
		for _, c := range n.Calls {
			es = append(es, c.Args...)
		}
		return es
	case *planner.Window:
		var es []expr.Expr
		for _, f := range n.Funcs {
			es = append(es, f.Args...)
			es = append(es, f.PartitionBy...)
			for _, o := range f.OrderBy {
				es = append(es, o.Expr)
			}
			if f.Agg != nil && f.Agg.Arg != nil {
				es = append(es, f.Agg.Arg)
			}
		}
		return es
	}
	return nil
}

// internalf is an XX000 error for a malformed plan.
func internalf(format string, args ...any) error {
	return pgerr.New(pgerr.InternalError, "query: %s", fmt.Sprintf(format, args...))
}
