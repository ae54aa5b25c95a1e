package planner

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// exprCtx binds scalar expressions of one clause against a scope.
type exprCtx struct {
	b  *binder
	sc *scope
	// clause names the clause for "aggregate functions are not allowed in
	// WHERE" (42803).
	clause string
	// hook, if set, sees every AST node before the generic binding does; if
	// it reports handled, its result is used (aggregate context: aggregates,
	// group keys and window functions become columns of the Aggregate).
	hook func(e sql.Expr) (expr.Expr, bool, error)
}

// bind turns an AST expression into a typed expression over c.sc.
func (c *exprCtx) bind(e sql.Expr) (expr.Expr, error) {
	if c.hook != nil {
		r, ok, err := c.hook(e)
		if err != nil {
			return nil, err
		}
		if ok {
			return r, nil
		}
	}
	r, err := c.bindNode(e)
	if err != nil {
		return nil, positioned(err, e.ExprPos())
	}
	// Fold constants as we go (1 + 1 is 2, CAST('5' AS INT) is 5), so plans
	// print simply and GROUP BY keys match however they were written.
	return expr.Fold(r), nil
}

func (c *exprCtx) bindList(es []sql.Expr) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		var err error
		if out[i], err = c.bind(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (c *exprCtx) call(fn string, args ...expr.Expr) (expr.Expr, error) {
	return expr.ResolveCallIn(c.b.funcs, fn, args)
}

func (c *exprCtx) bindNode(e sql.Expr) (expr.Expr, error) {
	switch e := e.(type) {
	case *sql.ColumnRef:
		col, depth, err := c.sc.lookup(e)
		if err != nil {
			return nil, err
		}
		if depth > 0 {
			return c.b.outerRef(depth, col, e)
		}
		return col, nil
	case *colIdxRef:
		col := c.sc.cols[e.idx]
		return &expr.Col{Idx: e.idx, Typ: col.typ, Name: col.name}, nil
	case *sql.Literal:
		return &expr.Const{Val: e.Value, Typ: e.Type}, nil
	case *sql.Param:
		return &expr.Param{Index: e.N, Typ: c.b.paramType(e.N)}, nil
	case *sql.BinaryExpr:
		if op, q, ok := arrayOp(e.Op); ok {
			return c.bindArrayOp(op, q, e)
		}
		l, err := c.bind(e.L)
		if err != nil {
			return nil, err
		}
		r, err := c.bind(e.R)
		if err != nil {
			return nil, err
		}
		return c.call(strings.ToLower(e.Op), l, r)
	case *sql.UnaryExpr:
		x, err := c.bind(e.X)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case "+":
			if !x.Type().IsNumeric() && x.Type() != datum.TypeInterval {
				return nil, pgerr.New(pgerr.UndefinedFunction, "operator does not exist: + %s", pgTypeName(x.Type()))
			}
			return x, nil
		case "-":
			// A negative literal is a constant, not a call: -5 prints as -5.
			if k, ok := x.(*expr.Const); ok && !k.Val.IsNull() {
				switch k.Val.Kind() {
				case datum.KindInt:
					return &expr.Const{Val: datum.NewInt(-k.Val.Int()), Typ: k.Typ}, nil
				case datum.KindFloat:
					return &expr.Const{Val: datum.NewFloat(-k.Val.Float()), Typ: k.Typ}, nil
				case datum.KindInterval:
					return &expr.Const{Val: datum.NewInterval(-k.Val.Months(), -k.Val.Micros()), Typ: k.Typ}, nil
				}
			}
			return c.call("neg", x)
		}
		return c.call(strings.ToLower(e.Op), x)
	case *sql.FuncCall:
		return c.bindFunc(e)
	case *sql.CaseExpr:
		var operand, els expr.Expr
		var err error
		if e.Operand != nil {
			if operand, err = c.bind(e.Operand); err != nil {
				return nil, err
			}
		}
		whens := make([]expr.When, len(e.Whens))
		for i, w := range e.Whens {
			if whens[i].Cond, err = c.bind(w.Cond); err != nil {
				return nil, err
			}
			if whens[i].Then, err = c.bind(w.Then); err != nil {
				return nil, err
			}
		}
		if e.Else != nil {
			if els, err = c.bind(e.Else); err != nil {
				return nil, err
			}
		}
		return expr.ResolveCase(operand, whens, els)
	case *sql.CastExpr:
		return c.bindCast(e)
	case *sql.InList:
		args := make([]sql.Expr, 0, len(e.List)+1)
		args = append(append(args, e.X), e.List...)
		bound, err := c.bindList(args)
		if err != nil {
			return nil, err
		}
		if e.Not {
			return c.call("not in", bound...)
		}
		return c.call("in", bound...)
	case *sql.Between:
		x, err := c.bind(e.X)
		if err != nil {
			return nil, err
		}
		lo, err := c.bind(e.Lo)
		if err != nil {
			return nil, err
		}
		hi, err := c.bind(e.Hi)
		if err != nil {
			return nil, err
		}
		if e.Not {
			l, err := c.call("<", x, lo)
			if err != nil {
				return nil, err
			}
			h, err := c.call(">", x, hi)
			if err != nil {
				return nil, err
			}
			return c.call("or", l, h)
		}
		l, err := c.call(">=", x, lo)
		if err != nil {
			return nil, err
		}
		h, err := c.call("<=", x, hi)
		if err != nil {
			return nil, err
		}
		return c.call("and", l, h)
	case *sql.SubqueryExpr:
		return c.bindSubquery(e)
	case *sql.ArrayExpr:
		elems, err := c.bindList(e.Elems)
		if err != nil {
			return nil, err
		}
		return c.call("array", elems...)
	case *sql.Subscript:
		x, err := c.bind(e.X)
		if err != nil {
			return nil, err
		}
		idx, err := c.bind(e.Index)
		if err != nil {
			return nil, err
		}
		return c.call("array_element", x, idx)
	case *sql.FieldSelect:
		return c.bindFieldSelect(e)
	}
	return nil, pgerr.New(pgerr.InternalError, "planner: unexpected expression %T", e)
}

// Functions that only mean something in a particular place.
var (
	groupWindowFuncs = map[string]bool{"tumble": true, "hop": true}
	windowBoundFuncs = map[string]bool{"tumble_start": true, "tumble_end": true, "hop_start": true, "hop_end": true}
	paneFuncs        = map[string]bool{"pane_timing": true, "pane_index": true}
)

func (c *exprCtx) bindFunc(e *sql.FuncCall) (expr.Expr, error) {
	// pg_catalog.lower is lower: builtins live in pg_catalog.
	name := strings.TrimPrefix(e.Name, "pg_catalog.")
	switch {
	case e.Over != nil:
		return nil, pgerr.New("42P20", "window functions are not allowed in %s", c.clause)
	case name == "array" && len(e.Args) == 1:
		if sq, ok := e.Args[0].(*sql.SubqueryExpr); ok && sq.X == nil && !sq.Exists {
			return c.bindSubqueryKind(sq, true)
		}
	case expr.IsSetFunc(name):
		return nil, pgerr.New(pgerr.FeatureNotSupported, "set-returning functions are not allowed in %s", c.clause)
	}
	switch {
	case expr.IsAggregate(name):
		return nil, pgerr.New(pgerr.GroupingError, "aggregate functions are not allowed in %s", c.clause)
	case groupWindowFuncs[name]:
		return nil, pgerr.New(pgerr.FeatureNotSupported,
			"%s(...) is a group window: it is only allowed in GROUP BY (use it in FROM as %s(source, ...) to get window_start and window_end)",
			strings.ToUpper(name), strings.ToUpper(name))
	case windowBoundFuncs[name]:
		return nil, pgerr.New(pgerr.GroupingError,
			"%s(...) is only allowed in a query grouped by the matching %s(...) group window",
			strings.ToUpper(name), strings.ToUpper(strings.SplitN(name, "_", 2)[0]))
	case paneFuncs[name]:
		return nil, pgerr.New(pgerr.GroupingError,
			"%s() is only allowed in the select list of a windowed aggregation", strings.ToUpper(name))
	}
	if e.Star || e.Distinct || e.Filter != nil {
		return nil, pgerr.New(pgerr.WrongObjectType, "%s is not an aggregate function", name)
	}
	args, err := c.bindList(e.Args)
	if err != nil {
		return nil, err
	}
	return expr.ResolveCallIn(c.b.funcs, name, args)
}

// bindBool binds a condition (WHERE, HAVING, ON) that must be boolean.
func (c *exprCtx) bindBool(e sql.Expr, what string) (expr.Expr, error) {
	r, err := c.bind(e)
	if err != nil {
		return nil, err
	}
	switch r.Type() {
	case datum.TypeBool:
		return r, nil
	case datum.TypeUnknown:
		// An untyped literal ('t') or NULL: read it as a boolean.
		if k, ok := r.(*expr.Const); ok {
			if k.Val.IsNull() {
				return &expr.Const{Val: datum.Null, Typ: datum.TypeBool}, nil
			}
			d, err := datum.Parse(datum.TypeBool, k.Val.Str())
			if err != nil {
				return nil, positioned(err, e.ExprPos())
			}
			return &expr.Const{Val: d, Typ: datum.TypeBool}, nil
		}
	}
	return nil, errAt(e.ExprPos(), pgerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", what, pgTypeName(r.Type()))
}

// astChildren returns the direct sub-expressions of e (not descending into
// subqueries).
func astChildren(e sql.Expr) []sql.Expr {
	var out []sql.Expr
	add := func(es ...sql.Expr) {
		for _, x := range es {
			if x != nil {
				out = append(out, x)
			}
		}
	}
	switch e := e.(type) {
	case *sql.BinaryExpr:
		add(e.L, e.R)
	case *sql.UnaryExpr:
		add(e.X)
	case *sql.FuncCall:
		add(e.Args...)
		add(e.Filter)
	case *sql.CaseExpr:
		add(e.Operand)
		for _, w := range e.Whens {
			add(w.Cond, w.Then)
		}
		add(e.Else)
	case *sql.CastExpr:
		add(e.X)
	case *sql.InList:
		add(e.X)
		add(e.List...)
	case *sql.Between:
		add(e.X, e.Lo, e.Hi)
	case *sql.SubqueryExpr:
		add(e.X)
	case *sql.ArrayExpr:
		add(e.Elems...)
	case *sql.Subscript:
		add(e.X, e.Index)
	case *sql.FieldSelect:
		add(e.X)
	}
	return out
}

// findAST returns the first node of e (pre-order) for which pred holds.
func findAST(e sql.Expr, pred func(sql.Expr) bool) sql.Expr {
	if e == nil {
		return nil
	}
	if pred(e) {
		return e
	}
	for _, c := range astChildren(e) {
		if f := findAST(c, pred); f != nil {
			return f
		}
	}
	return nil
}

func isAggCall(e sql.Expr) bool {
	f, ok := e.(*sql.FuncCall)
	return ok && f.Over == nil && expr.IsAggregate(f.Name)
}

// isWindowCall reports a window function call, f(...) OVER (...).
func isWindowCall(e sql.Expr) bool {
	f, ok := e.(*sql.FuncCall)
	return ok && f.Over != nil
}

// isSetFuncCall reports a call of a set-returning function.
func isSetFuncCall(e sql.Expr) bool {
	f, ok := e.(*sql.FuncCall)
	return ok && f.Over == nil && expr.IsSetFunc(f.Name)
}

// arrayOp splits "= ANY" into the operator ("=") and the quantifier
// ("any" or "all").
func arrayOp(op string) (string, string, bool) {
	o := strings.ToLower(strings.Join(strings.Fields(op), " "))
	var q string
	switch {
	case strings.HasSuffix(o, " any"), strings.HasSuffix(o, " some"):
		q = "any"
	case strings.HasSuffix(o, " all"):
		q = "all"
	default:
		return "", "", false
	}
	o = strings.TrimSpace(o[:strings.LastIndexByte(o, ' ')])
	switch o {
	case "!=":
		o = "<>"
	case "~~":
		o = "like"
	case "!~~":
		o = "not like"
	case "~~*":
		o = "ilike"
	case "!~~*":
		o = "not ilike"
	}
	return o, q, true
}

// bindArrayOp binds x op ANY/ALL (array) and x op ANY/ALL (SELECT ...)
// (the subquery's values become an array).
func (c *exprCtx) bindArrayOp(op, q string, e *sql.BinaryExpr) (expr.Expr, error) {
	l, err := c.bind(e.L)
	if err != nil {
		return nil, err
	}
	var r expr.Expr
	if sq, ok := e.R.(*sql.SubqueryExpr); ok && sq.X == nil && !sq.Exists {
		if r, err = c.bindSubqueryKind(sq, true); err != nil {
			return nil, err
		}
	} else if r, err = c.bind(e.R); err != nil {
		return nil, err
	}
	if !expr.IsArrayOp(op + " " + q) {
		return nil, pgerr.New(pgerr.FeatureNotSupported, "operator %s is not supported with %s (array)", op, strings.ToUpper(q))
	}
	return c.call(op+" "+q, l, r)
}

// regTypes are PostgreSQL's OID alias types, by the function that reads a
// name as one (pgcatalog registers them).
var regTypes = map[string]string{
	"regclass": "regclass", "regtype": "regtype", "regproc": "regproc", "regprocedure": "regproc",
	"regnamespace": "regnamespace", "regrole": "regrole",
}

// regTypeName returns the OID alias type (regclass, ...) a cast's type
// name names, or "".
func regTypeName(typeName string) string {
	t := strings.ToLower(strings.TrimSpace(typeName))
	t = strings.TrimPrefix(t, "pg_catalog.")
	t = strings.Trim(t, `"`)
	return regTypes[t]
}

// funcDef looks a function up in the binder's registry.
func (c *exprCtx) funcDef(name string) bool {
	if c.b.funcs == nil {
		_, ok := expr.Builtins().Lookup(name)
		return ok
	}
	_, ok := c.b.funcs.Lookup(name)
	return ok
}

// bindCast binds CAST(x AS t) and x::t. The OID alias types read names:
// 'pg_class'::regclass is the relation's OID, through regclassin (and
// regtypein, regprocin, regnamespacein, regrolein) when the function
// registry has it; x::regclass::text prints the name (regclassout).
func (c *exprCtx) bindCast(e *sql.CastExpr) (expr.Expr, error) {
	if reg := regTypeName(e.TypeName); reg != "" {
		x, err := c.bind(e.X)
		if err != nil {
			return nil, err
		}
		if t := x.Type(); (t == datum.TypeUnknown || t.Kind() == datum.KindString) && c.funcDef(reg+"in") {
			return c.call(reg+"in", x)
		}
		return expr.ResolveCast(x, e.Type)
	}
	if inner, ok := e.X.(*sql.CastExpr); ok && e.Type.Kind() == datum.KindString {
		if reg := regTypeName(inner.TypeName); reg != "" && c.funcDef(reg+"out") {
			x, err := c.bind(inner)
			if err != nil {
				return nil, err
			}
			name, err := c.call(reg+"out", x)
			if err != nil {
				return nil, err
			}
			return expr.ResolveCast(name, e.Type)
		}
	}
	x, err := c.bind(e.X)
	if err != nil {
		return nil, err
	}
	return expr.ResolveCast(x, e.Type)
}

// bindFieldSelect binds (x).field where x is a record-valued column (a
// set-returning function's record in a derived table's select list).
// (f(...)).field of a set-returning function call in a select list is
// handled with the select list (bind_srf.go).
func (c *exprCtx) bindFieldSelect(e *sql.FieldSelect) (expr.Expr, error) {
	ref, ok := e.X.(*sql.ColumnRef)
	if !ok {
		if isSetFuncCall(e.X) {
			return nil, pgerr.New(pgerr.FeatureNotSupported, "set-returning functions are not allowed in %s", c.clause)
		}
		return nil, pgerr.New(pgerr.FeatureNotSupported, "field selection (x).%s is supported only on a record-valued column", e.Field)
	}
	sc, ok := c.sc.lookupCol(ref)
	if !ok || len(sc.fields) == 0 {
		x, err := c.bind(ref)
		if err != nil {
			return nil, err
		}
		return nil, pgerr.New(pgerr.WrongObjectType, "column notation .%s applied to type %s, which is not a composite type", e.Field, pgTypeName(x.Type()))
	}
	idx := -1
	for i, f := range sc.fields {
		if f.Name == e.Field {
			idx = i
		}
	}
	if idx < 0 {
		return nil, pgerr.New(pgerr.UndefinedColumn, "column %q not found in data type record", e.Field)
	}
	x, err := c.bind(ref)
	if err != nil {
		return nil, err
	}
	f, err := c.call("record_field", x, &expr.Const{Val: datum.NewInt(int64(idx + 1)), Typ: datum.TypeInt8})
	if err != nil {
		return nil, err
	}
	if t := sc.fields[idx].Type; t != datum.TypeUnknown {
		return expr.ResolveCast(f, t)
	}
	return f, nil
}

// pgTypeName is a type's name as PostgreSQL spells it in messages.
func pgTypeName(t datum.Type) string { return t.PGName() }
