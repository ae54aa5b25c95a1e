package query

import (
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
)

type (
	evaluator = expr.Evaluator
	predicate = expr.Predicate
)

// prepare makes e ready to compile: parameters become constants and each
// uncorrelated subquery is run (once per Run) and replaced by its result.
// Shared sub-trees are copied, never modified in place: plans may be cached
// and run again.
func (r *runner) prepare(e expr.Expr) (expr.Expr, error) {
	if !needsPrepare(e) {
		return e, nil
	}
	return r.rewrite(e)
}

// walkSubqueries calls f for every subquery in e.
func walkSubqueries(e expr.Expr, f func(*planner.Subquery)) {
	switch x := e.(type) {
	case *planner.Subquery:
		f(x)
		walkSubqueries(x.X, f)
	case *expr.Call:
		for _, a := range x.Args {
			walkSubqueries(a, f)
		}
	case *expr.Cast:
		walkSubqueries(x.Arg, f)
	case *expr.Case:
		walkSubqueries(x.Operand, f)
		for _, w := range x.Whens {
			walkSubqueries(w.Cond, f)
			walkSubqueries(w.Then, f)
		}
		walkSubqueries(x.Else, f)
	case *expr.AggFunc:
		walkSubqueries(x.Arg, f)
	}
}

// needsPrepare reports whether e holds a parameter, a subquery or a
// reference to an enclosing query's row.
func needsPrepare(e expr.Expr) bool {
	switch x := e.(type) {
	case *expr.Param, *planner.Subquery, *planner.OuterRef:
		return true
	case *expr.Call:
		for _, a := range x.Args {
			if needsPrepare(a) {
				return true
			}
		}
	case *expr.Cast:
		return needsPrepare(x.Arg)
	case *expr.Case:
		if needsPrepare(x.Operand) || needsPrepare(x.Else) {
			return true
		}
		for _, w := range x.Whens {
			if needsPrepare(w.Cond) || needsPrepare(w.Then) {
				return true
			}
		}
	case *expr.AggFunc:
		return needsPrepare(x.Arg)
	}
	return false
}

func (r *runner) rewrite(e expr.Expr) (expr.Expr, error) {
	switch x := e.(type) {
	case nil:
		return nil, nil
	case *expr.Param:
		return r.param(x)
	case *planner.Subquery:
		if x.Correlated {
			return r.correlated(x)
		}
		return r.subquery(x)
	case *planner.OuterRef:
		if x.Depth < 1 || x.Depth > len(r.outer) {
			return nil, internalf("outer reference %s at depth %d of %d", x, x.Depth, len(r.outer))
		}
		row := r.outer[len(r.outer)-x.Depth]
		if x.Idx < 0 || x.Idx >= len(row) {
			return nil, internalf("outer reference %s out of range", x)
		}
		return &expr.Const{Val: row[x.Idx], Typ: x.Typ}, nil
	case *expr.Call:
		c := *x // keeps the call's resolved function
		c.Args = make([]expr.Expr, len(x.Args))
		for i, a := range x.Args {
			var err error
			if c.Args[i], err = r.rewrite(a); err != nil {
				return nil, err
			}
		}
		return &c, nil
	case *expr.Cast:
		a, err := r.rewrite(x.Arg)
		if err != nil {
			return nil, err
		}
		return &expr.Cast{Arg: a, To: x.To}, nil
	case *expr.Case:
		c := *x
		var err error
		if c.Operand, err = r.rewrite(x.Operand); err != nil {
			return nil, err
		}
		c.Whens = make([]expr.When, len(x.Whens))
		for i, w := range x.Whens {
			if c.Whens[i].Cond, err = r.rewrite(w.Cond); err != nil {
				return nil, err
			}
			if c.Whens[i].Then, err = r.rewrite(w.Then); err != nil {
				return nil, err
			}
		}
		if c.Else, err = r.rewrite(x.Else); err != nil {
			return nil, err
		}
		return &c, nil
	case *expr.AggFunc:
		c := *x
		var err error
		if c.Arg, err = r.rewrite(x.Arg); err != nil {
			return nil, err
		}
		return &c, nil
	}
	return e, nil
}

// param returns the value of parameter p (as expr.BindParams does: a
// constant of p's type, or a cast for the executor to report).
func (r *runner) param(p *expr.Param) (expr.Expr, error) {
	if p.Index < 1 || p.Index > len(r.env.Params) {
		return nil, pgerr.New(pgerr.UndefinedParameter, "there is no parameter $%d", p.Index)
	}
	return expr.BindParams(p, r.env.Params), nil
}

// subqueryKey identifies a subquery's result: its plan, read as much as its
// kind needs.
type subqueryKey struct {
	plan planner.Node
	kind planner.SubqueryKind
}

// subquery runs s's plan (once per Run) and returns its replacement.
func (r *runner) subquery(s *planner.Subquery) (expr.Expr, error) {
	key := subqueryKey{s.Plan, s.Kind}
	rows, ok := r.subqueries[key]
	if !ok {
		var err error
		if rows, err = r.runSubquery(s); err != nil {
			return nil, err
		}
		if r.subqueries == nil {
			r.subqueries = make(map[subqueryKey][]datum.Row)
		}
		r.subqueries[key] = rows
	}
	if s.Kind == planner.SubqueryExists {
		// NOT EXISTS may come as Not on the subquery itself.
		return &expr.Const{Val: datum.NewBool((len(rows) > 0) != s.Not), Typ: datum.TypeBool}, nil
	}
	c := *s
	if s.X != nil {
		x, err := r.rewrite(s.X)
		if err != nil {
			return nil, err
		}
		c.X = x
	}
	return c.Replace(rows)
}

// runSubquery runs a subquery's plan, reading only as many rows as its use
// needs: one for EXISTS, two for a scalar subquery (to report a second),
// every distinct value for IN.
func (r *runner) runSubquery(s *planner.Subquery) ([]datum.Row, error) {
	limit := -1
	switch s.Kind {
	case planner.SubqueryExists:
		limit = 1
	case planner.SubqueryScalar:
		limit = 2
	}
	var rows []datum.Row
	var seen *rowTable
	if s.Kind == planner.SubqueryIn {
		seen = newRowTable()
	}
	stop := &errStop{}
	err := r.exec(s.Plan, func(row datum.Row) error {
		if seen != nil {
			// x IN (...) only depends on the set of values.
			if _, added := seen.insert(row[:1:1]); !added {
				return nil
			}
		}
		rows = append(rows, row)
		if limit >= 0 && len(rows) >= limit {
			return stop
		}
		return nil
	})
	if err != nil && err != error(stop) {
		return nil, err
	}
	return rows, nil
}

// correlated returns the expression that runs a correlated subquery for
// each row it is evaluated on: its arguments are the subquery's Outer
// values (and, for IN, the value looked up).
func (r *runner) correlated(s *planner.Subquery) (expr.Expr, error) {
	args := make([]expr.Expr, 0, len(s.Outer)+1)
	for _, o := range s.Outer {
		a, err := r.rewrite(o)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
	}
	nOuter := len(args)
	if s.Kind == planner.SubqueryIn {
		x, err := r.rewrite(s.X)
		if err != nil {
			return nil, err
		}
		args = append(args, x)
	}
	if r.scans == nil {
		r.scans = map[*catalog.Relation][]datum.Row{}
	}
	if r.subqueries == nil {
		r.subqueries = make(map[subqueryKey][]datum.Row)
	}
	fn := func(vals []datum.Datum) (datum.Datum, error) {
		outerRow := append(datum.Row(nil), vals[:nOuter]...)
		child := &runner{
			ctx: r.ctx, env: r.env, now: r.now,
			outer:      append(r.outer[:len(r.outer):len(r.outer)], outerRow),
			scans:      r.scans,
			subqueries: r.subqueries,
			shared:     sharedNodes(s.Plan),
		}
		if err := child.checkCtx(); err != nil {
			return datum.Null, err
		}
		rows, err := child.runSubquery(s)
		if err != nil {
			return datum.Null, err
		}
		switch s.Kind {
		case planner.SubqueryExists:
			return datum.NewBool((len(rows) > 0) != s.Not), nil
		case planner.SubqueryIn:
			return inRows(vals[nOuter], rows, s.Not), nil
		}
		rep, err := s.Replace(rows)
		if err != nil {
			return datum.Null, err
		}
		if k, ok := rep.(*expr.Const); ok {
			return k.Val, nil
		}
		return datum.Null, internalf("subquery replacement %s is not constant", rep)
	}
	return &expr.Apply{Name: s.String(), Args: args, Typ: s.Typ, Fn: fn}, nil
}

// inRows is x [NOT] IN (the first column of rows) with SQL's NULL rules.
func inRows(x datum.Datum, rows []datum.Row, not bool) datum.Datum {
	if len(rows) == 0 {
		return datum.NewBool(not)
	}
	if x.IsNull() {
		return datum.Null
	}
	sawNull := false
	for _, row := range rows {
		v := row[0]
		if v.IsNull() {
			sawNull = true
			continue
		}
		if datum.Compare(x, v) == 0 {
			return datum.NewBool(!not)
		}
	}
	if sawNull {
		return datum.Null
	}
	return datum.NewBool(not)
}

func (r *runner) compileEnv() *expr.Env {
	return &expr.Env{Now: r.now, Funcs: r.env.Funcs, Settings: r.env.Settings, SetSetting: r.env.SetSetting}
}

// compile prepares and compiles a scalar expression.
func (r *runner) compile(e expr.Expr) (evaluator, error) {
	e, err := r.prepare(e)
	if err != nil {
		return nil, err
	}
	return expr.CompileWith(e, r.compileEnv())
}

func (r *runner) compileAll(es []expr.Expr) ([]evaluator, error) {
	out := make([]evaluator, len(es))
	for i, e := range es {
		var err error
		if out[i], err = r.compile(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// compilePredicate prepares and compiles a condition (NULL is false).
func (r *runner) compilePredicate(e expr.Expr) (predicate, error) {
	e, err := r.prepare(e)
	if err != nil {
		return nil, err
	}
	return expr.CompilePredicateWith(e, r.compileEnv())
}

// compileConj compiles the conjunction of es (nil for none).
func (r *runner) compileConj(es []expr.Expr) (predicate, error) {
	if len(es) == 0 {
		return nil, nil
	}
	return r.compilePredicate(andAll(es))
}

// isVolatile reports whether a call's value may change from one evaluation
// to the next (random()): such a call is never used as a hash join key.
func isVolatile(c *expr.Call) bool {
	def, ok := expr.Builtins().Lookup(c.Fn)
	return ok && def.Volatile && c.Fn != "now"
}
