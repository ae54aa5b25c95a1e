package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// SubqueryKind says how a subquery is used in an expression.
type SubqueryKind uint8

const (
	// SubqueryScalar is (SELECT x ...): its one value, NULL when empty.
	SubqueryScalar SubqueryKind = iota + 1
	// SubqueryExists is EXISTS (SELECT ...).
	SubqueryExists
	// SubqueryIn is X [NOT] IN (SELECT y ...).
	SubqueryIn
	// SubqueryArray is ARRAY(SELECT x ...): its values as an array (TEXT,
	// see expr's arrays), '{}' when empty.
	SubqueryArray
)

// Subquery is a subquery inside an expression. It implements expr.Expr so
// it can sit in any expression tree the binder builds, but no compiled
// expression evaluates it: whoever runs the plan runs Plan, then calls
// Replace with its rows and substitutes the result (an ordinary constant
// expression) before compiling. An uncorrelated subquery runs once per
// statement; a correlated one (Correlated) once per row of the enclosing
// query, with that row's Outer values visible to Plan through OuterRef.
// Jobs reject subqueries.
type Subquery struct {
	Kind SubqueryKind
	Plan Node
	X    expr.Expr // SubqueryIn: the value looked up (cast to the column's type)
	Not  bool      // NOT IN
	Typ  datum.Type
	// Outer are the values of the enclosing query's row that Plan reads:
	// an OuterRef{Depth: 1, Idx: i} in Plan (outside its own nested
	// subqueries) reads Outer[i]. They are expressions over the row the
	// expression holding the subquery is evaluated on (columns, at first).
	Outer []expr.Expr
	// Correlated is set when Plan reads the row of an enclosing query (its
	// own Outer, or, from a nested subquery, one further out).
	Correlated bool
}

// OuterRef reads a value of an enclosing query's row inside a correlated
// subquery: entry Idx of the Outer list of the subquery Depth levels out
// (1: the innermost subquery whose plan holds the expression). The
// evaluator replaces it with the value before compiling.
type OuterRef struct {
	Depth, Idx int
	Typ        datum.Type
	Name       string // for printing
}

func (o *OuterRef) Type() datum.Type { return o.Typ }

func (o *OuterRef) String() string {
	if o.Name != "" {
		return "outer." + o.Name
	}
	return fmt.Sprintf("outer%d.$%d", o.Depth, o.Idx)
}

func (s *Subquery) Type() datum.Type { return s.Typ }

func (s *Subquery) String() string {
	switch s.Kind {
	case SubqueryArray:
		return "ARRAY(subquery)"
	case SubqueryExists:
		return "EXISTS(subquery)"
	case SubqueryIn:
		if s.Not {
			return s.X.String() + " NOT IN (subquery)"
		}
		return s.X.String() + " IN (subquery)"
	}
	return "(subquery)"
}

// Replace returns the expression equivalent to s given the rows its Plan
// produced: a constant for scalar and EXISTS subqueries, an IN list (or
// constant false/true for an empty result) for IN. A scalar subquery that
// produced more than one row is error 21000.
func (s *Subquery) Replace(rows []datum.Row) (expr.Expr, error) {
	switch s.Kind {
	case SubqueryArray:
		vals := make([]datum.Datum, len(rows))
		for i, r := range rows {
			vals[i] = r[0]
		}
		t := datum.TypeText
		if cols := s.Plan.Schema(); len(cols) > 0 {
			t = cols[0].Type
		}
		return &expr.Const{Val: datum.NewString(expr.FormatArray(vals, t)), Typ: datum.TypeText}, nil
	case SubqueryExists:
		return &expr.Const{Val: datum.NewBool(len(rows) > 0), Typ: datum.TypeBool}, nil
	case SubqueryScalar:
		if len(rows) > 1 {
			return nil, pgerr.New("21000", "more than one row returned by a subquery used as an expression")
		}
		if len(rows) == 0 {
			return &expr.Const{Val: datum.Null, Typ: s.Typ}, nil
		}
		return &expr.Const{Val: rows[0][0], Typ: s.Typ}, nil
	}
	if len(rows) == 0 {
		return &expr.Const{Val: datum.NewBool(s.Not), Typ: datum.TypeBool}, nil
	}
	t := s.X.Type()
	args := []expr.Expr{s.X}
	for _, r := range rows {
		args = append(args, &expr.Const{Val: r[0], Typ: t})
	}
	fn := "in"
	if s.Not {
		fn = "not in"
	}
	return expr.ResolveCall(fn, args)
}

// bindSubquery binds a subquery expression. Its names resolve first in
// its own FROM, then in the enclosing queries' (a correlated subquery).
func (c *exprCtx) bindSubquery(e *sql.SubqueryExpr) (expr.Expr, error) {
	return c.bindSubqueryKind(e, false)
}

// bindSubqueryPlan binds q as a subquery nested in c's scope and returns
// its plan and correlation.
func (c *exprCtx) bindSubqueryPlan(q sql.Query) (Node, *corrFrame, error) {
	f := &corrFrame{outer: c.sc, keys: map[string]int{}}
	c.b.frames = append(c.b.frames, f)
	jplan, err := c.b.bindQuery(q, c.sc)
	c.b.frames = c.b.frames[:len(c.b.frames)-1]
	if err != nil {
		return nil, nil, err
	}
	return jplan, f, nil
}

// bindSubqueryKind binds a subquery expression; array is ARRAY(SELECT ...).
func (c *exprCtx) bindSubqueryKind(e *sql.SubqueryExpr, array bool) (expr.Expr, error) {
	jplan, frame, err := c.bindSubqueryPlan(e.Query)
	if err != nil {
		return nil, err
	}
	corr := func(s *Subquery) *Subquery {
		s.Outer, s.Correlated = frame.cols, frame.correlated
		return s
	}
	cols := jplan.Schema()
	if e.Exists {
		sub := corr(&Subquery{Kind: SubqueryExists, Plan: jplan, Typ: datum.TypeBool})
		if e.Not {
			return c.call("not", sub)
		}
		return sub, nil
	}
	if len(cols) != 1 {
		if e.X != nil {
			return nil, pgerr.New(pgerr.SyntaxError, "subquery has too many columns")
		}
		return nil, pgerr.New(pgerr.SyntaxError, "subquery must return only one column")
	}
	if array {
		return corr(&Subquery{Kind: SubqueryArray, Plan: jplan, Typ: datum.TypeText}), nil
	}
	if e.X == nil {
		return corr(&Subquery{Kind: SubqueryScalar, Plan: jplan, Typ: cols[0].Type}), nil
	}
	x, err := c.bind(e.X)
	if err != nil {
		return nil, err
	}
	// Type the comparison as x = column would be.
	probe, err := c.call("=", x, &expr.Col{Idx: 0, Typ: cols[0].Type, Name: cols[0].Name})
	if err != nil {
		return nil, err
	}
	call := probe.(*expr.Call)
	x = call.Args[0]
	if ct := call.Args[1].Type(); ct != cols[0].Type {
		jplan = castProject(jplan, []datum.Type{ct})
	}
	return corr(&Subquery{Kind: SubqueryIn, Plan: jplan, X: x, Not: e.Not, Typ: datum.TypeBool}), nil
}

// castProject returns n with its columns cast to types (unchanged columns
// pass through); n itself if nothing changes.
func castProject(n Node, types []datum.Type) Node {
	in := n.Schema()
	changed := false
	exprs := make([]expr.Expr, len(in))
	cols := make(plan.Schema, len(in))
	for i, c := range in {
		exprs[i] = &expr.Col{Idx: i, Typ: c.Type, Name: c.Name}
		cols[i] = c
		if types[i] != c.Type && types[i] != datum.TypeUnknown {
			if cast, err := expr.ResolveCast(exprs[i], types[i]); err == nil {
				exprs[i] = cast
			} else {
				exprs[i] = &expr.Cast{Arg: exprs[i], To: types[i]}
			}
			cols[i].Type = types[i]
			changed = true
		}
	}
	if !changed {
		return n
	}
	return &Project{Input: n, Exprs: exprs, Cols: cols}
}

// containsSubquery reports whether e has a Subquery anywhere.
func containsSubquery(e expr.Expr) bool {
	found := false
	walkExpr(e, func(x expr.Expr) {
		if _, ok := x.(*Subquery); ok {
			found = true
		}
	})
	return found
}

// walkExpr calls f on e and every sub-expression (pre-order).
func walkExpr(e expr.Expr, f func(expr.Expr)) {
	if e == nil {
		return
	}
	f(e)
	switch x := e.(type) {
	case *expr.Call:
		for _, a := range x.Args {
			walkExpr(a, f)
		}
	case *expr.Case:
		walkExpr(x.Operand, f)
		for _, w := range x.Whens {
			walkExpr(w.Cond, f)
			walkExpr(w.Then, f)
		}
		walkExpr(x.Else, f)
	case *expr.Cast:
		walkExpr(x.Arg, f)
	case *Subquery:
		walkExpr(x.X, f)
		for _, o := range x.Outer {
			walkExpr(o, f)
		}
	}
}

// mapCols returns e with every column reference replaced by f's result
// (shared sub-trees are rebuilt, never modified in place).
func mapCols(e expr.Expr, f func(c *expr.Col) (expr.Expr, error)) (expr.Expr, error) {
	switch x := e.(type) {
	case nil:
		return nil, nil
	case *expr.Col:
		return f(x)
	case *expr.Call:
		args := make([]expr.Expr, len(x.Args))
		for i, a := range x.Args {
			var err error
			if args[i], err = mapCols(a, f); err != nil {
				return nil, err
			}
		}
		c := *x
		c.Args = args
		return &c, nil
	case *expr.Case:
		c := *x
		var err error
		if c.Operand, err = mapCols(x.Operand, f); err != nil {
			return nil, err
		}
		c.Whens = make([]expr.When, len(x.Whens))
		for i, w := range x.Whens {
			if c.Whens[i].Cond, err = mapCols(w.Cond, f); err != nil {
				return nil, err
			}
			if c.Whens[i].Then, err = mapCols(w.Then, f); err != nil {
				return nil, err
			}
		}
		if c.Else, err = mapCols(x.Else, f); err != nil {
			return nil, err
		}
		return &c, nil
	case *expr.Cast:
		a, err := mapCols(x.Arg, f)
		if err != nil {
			return nil, err
		}
		return &expr.Cast{Arg: a, To: x.To}, nil
	case *Subquery:
		c := *x
		var err error
		if c.X, err = mapCols(x.X, f); err != nil {
			return nil, err
		}
		if len(x.Outer) > 0 {
			c.Outer = make([]expr.Expr, len(x.Outer))
			for i, o := range x.Outer {
				if c.Outer[i], err = mapCols(o, f); err != nil {
					return nil, err
				}
			}
		}
		return &c, nil
	}
	return e, nil
}

// colsUsed returns the set of input columns e reads.
func colsUsed(e expr.Expr) map[int]bool {
	m := map[int]bool{}
	walkExpr(e, func(x expr.Expr) {
		if c, ok := x.(*expr.Col); ok {
			m[c.Idx] = true
		}
	})
	return m
}

// exprKey is the identity of a bound expression for matching GROUP BY keys
// and deduplicating aggregates.
func exprKey(e expr.Expr) string {
	var b strings.Builder
	writeExprKey(&b, e)
	return b.String()
}

func writeExprKey(b *strings.Builder, e expr.Expr) {
	switch x := e.(type) {
	case *expr.Col:
		b.WriteString("$")
		b.WriteString(strconv.Itoa(x.Idx))
	case *expr.Const:
		b.WriteString(x.Typ.String())
		b.WriteString(":")
		b.WriteString(x.Val.Format())
		if x.Val.IsNull() {
			b.WriteString("NULL")
		}
	case *expr.Param:
		b.WriteString("?")
		b.WriteString(strconv.Itoa(x.Index))
	case *OuterRef:
		fmt.Fprintf(b, "^%d.%d", x.Depth, x.Idx)
	case *expr.Call:
		b.WriteString(x.Fn)
		b.WriteString("(")
		for i, a := range x.Args {
			if i > 0 {
				b.WriteString(",")
			}
			writeExprKey(b, a)
		}
		b.WriteString(")")
	case *expr.Cast:
		b.WriteString("cast(")
		writeExprKey(b, x.Arg)
		b.WriteString(" as " + x.To.String() + ")")
	case *expr.Case:
		b.WriteString("case(")
		if x.Operand != nil {
			writeExprKey(b, x.Operand)
		}
		for _, w := range x.Whens {
			b.WriteString(";")
			writeExprKey(b, w.Cond)
			b.WriteString(":")
			writeExprKey(b, w.Then)
		}
		if x.Else != nil {
			b.WriteString(";else:")
			writeExprKey(b, x.Else)
		}
		b.WriteString(")")
	default:
		// Subqueries match only themselves.
		fmt.Fprintf(b, "%p", e)
	}
}
