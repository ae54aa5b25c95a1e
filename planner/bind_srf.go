package planner

import (
	"strings"

	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// This file binds set-returning functions (expr.ResolveSetFunc):
// generate_series(1, 3) AS g(n) and friends in FROM, and calls in a select
// list (SELECT unnest(a), (information_schema._pg_expandarray(k)).n),
// which run in lockstep in one SetFunc node over the FROM clause's rows. A
// function returning records (_pg_expandarray) used whole in a select list
// gives a record-valued column (TEXT in record form); (t.col).field reads
// a field of one from an enclosing query (binder.composites).

// bindTableFunc binds a set-returning function in FROM. Its arguments are
// bound over left (the FROM items before it, whose node is in; nil for
// none): PostgreSQL's functions in FROM are implicitly LATERAL. The result
// is a SetFunc over in (or over one empty row) and its scope.
func (b *binder) bindTableFunc(t *sql.TableFunc, in Node, left *scope, outer *scope) (Node, *scope, error) {
	if t.Func.Over != nil || t.Func.Star || t.Func.Distinct {
		return nil, nil, errAt(t.Pos, pgerr.SyntaxError, "syntax error in FROM function %s", t.Func.Name)
	}
	scalar := !expr.IsSetFunc(t.Func.Name)
	if scalar && expr.IsAggregate(strings.TrimPrefix(t.Func.Name, "pg_catalog.")) {
		return nil, nil, errAt(t.Pos, pgerr.GroupingError, "aggregate functions are not allowed in functions in FROM")
	}
	if in == nil {
		in = &Values{Rows: [][]expr.Expr{{}}}
		left = &scope{}
	}
	argScope := &scope{cols: left.cols, outer: outer}
	ctx := &exprCtx{b: b, sc: argScope, clause: "functions in FROM"}
	var call *expr.SetCall
	if scalar {
		// A scalar function in FROM is a table of one row (FROM
		// string_to_array('a,b', ',') AS a).
		e, err := ctx.bind(t.Func)
		if err != nil {
			return nil, nil, err
		}
		name := t.Func.Name
		call = expr.ScalarSetCall(name[strings.LastIndexByte(name, '.')+1:], e)
	} else {
		args, err := ctx.bindList(t.Func.Args)
		if err != nil {
			return nil, nil, err
		}
		if call, err = expr.ResolveSetFunc(t.Func.Name, args); err != nil {
			return nil, nil, positioned(err, t.Pos)
		}
	}
	if t.Ordinality {
		call.WithOrdinality()
	}
	qual := t.Alias
	if qual == "" {
		qual = t.Func.Name[strings.LastIndexByte(t.Func.Name, '.')+1:]
	}
	names := make([]string, len(call.Cols))
	for i, c := range call.Cols {
		names[i] = c.Name
	}
	if !call.Composite() && t.Alias != "" {
		names[0] = t.Alias // FROM generate_series(1, 3) g: the column is g
	}
	if len(t.Columns) > len(names) {
		return nil, nil, errAt(t.Pos, pgerr.InvalidColumnReference,
			"table %q has %d columns available but %d columns specified", qual, len(names), len(t.Columns))
	}
	copy(names, t.Columns)
	cols := in.Schema()
	out := &scope{cols: append([]scopeCol(nil), left.cols...)}
	node := &SetFunc{Input: in, Calls: []*expr.SetCall{call}, Cols: append(plan.Schema(nil), cols...)}
	for i, c := range call.Cols {
		node.Cols = append(node.Cols, plan.Column{Name: names[i], Type: c.Typ})
		out.cols = append(out.cols, scopeCol{table: qual, name: names[i], typ: c.Typ})
	}
	return node, out, nil
}

// srfBinder binds the set-returning function calls of a select list: each
// distinct call is bound once over the FROM scope and becomes columns of a
// SetFunc node; the select list then reads those columns.
type srfBinder struct {
	calls []*expr.SetCall
	keys  map[string]int
	// at maps each call in the AST to its index in calls, and base to the
	// index of the call's first column in the SetFunc's output.
	at   map[*sql.FuncCall]int
	base []int
}

// hasSetFuncs reports whether a select list or ORDER BY calls a
// set-returning function (outside subqueries).
func hasSetFuncs(items []selItem, order []sql.OrderItem) bool {
	for _, it := range items {
		if findAST(it.e, isSetFuncCall) != nil {
			return true
		}
	}
	for _, o := range order {
		if findAST(o.Expr, isSetFuncCall) != nil {
			return true
		}
	}
	return false
}

// bindSetFuncs binds the select list's set-returning function calls over
// node (with scope sc) and returns the SetFunc node, its scope (sc plus
// hidden columns for the calls) and the binder that maps the calls.
func (b *binder) bindSetFuncs(node Node, sc *scope, items []selItem, order []sql.OrderItem) (Node, *scope, *srfBinder, error) {
	sb := &srfBinder{keys: map[string]int{}, at: map[*sql.FuncCall]int{}}
	ctx := &exprCtx{b: b, sc: sc, clause: "arguments of set-returning functions"}
	var visit func(e sql.Expr) error
	visit = func(e sql.Expr) error {
		if e == nil {
			return nil
		}
		if f, ok := e.(*sql.FuncCall); ok && isSetFuncCall(f) {
			for _, a := range f.Args {
				if n := findAST(a, isSetFuncCall); n != nil {
					return errAt(n.ExprPos(), pgerr.FeatureNotSupported, "set-returning function calls cannot be nested")
				}
			}
			if f.Star || f.Distinct || f.Filter != nil {
				return errAt(f.Pos, pgerr.SyntaxError, "%s is not an aggregate function", f.Name)
			}
			args, err := ctx.bindList(f.Args)
			if err != nil {
				return err
			}
			call, err := expr.ResolveSetFunc(f.Name, args)
			if err != nil {
				return positioned(err, f.Pos)
			}
			if call.IsMultiUnnest() {
				return errAt(f.Pos, pgerr.FeatureNotSupported, "unnest of several arrays is only allowed in FROM")
			}
			k := call.Fn + "(" + exprList(call.Args) + ")"
			for _, a := range call.Args {
				k += "|" + exprKey(a)
			}
			i, ok := sb.keys[k]
			if !ok {
				sb.calls = append(sb.calls, call)
				i = len(sb.calls) - 1
				sb.keys[k] = i
			}
			sb.at[f] = i
			return nil
		}
		for _, c := range astChildren(e) {
			if err := visit(c); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range items {
		if err := visit(it.e); err != nil {
			return nil, nil, nil, err
		}
	}
	for _, o := range order {
		if err := visit(o.Expr); err != nil {
			return nil, nil, nil, err
		}
	}
	in := node.Schema()
	sf := &SetFunc{Input: node, Calls: sb.calls, Cols: append(plan.Schema(nil), in...)}
	out := &scope{cols: append([]scopeCol(nil), sc.cols...), outer: sc.outer}
	for _, call := range sb.calls {
		sb.base = append(sb.base, len(sf.Cols))
		for _, c := range call.Cols {
			sf.Cols = append(sf.Cols, plan.Column{Name: c.Name, Type: c.Typ})
			out.cols = append(out.cols, scopeCol{table: "$srf", name: c.Name, typ: c.Typ, hidden: true})
		}
	}
	return sf, out, sb, nil
}

// hook maps the select list's set-returning function calls to the
// SetFunc's columns: a scalar function's value, a record function's
// field ((f(x)).n) or its whole record (a row(...) of its columns).
func (sb *srfBinder) hook(c *exprCtx, e sql.Expr) (expr.Expr, bool, error) {
	switch x := e.(type) {
	case *sql.FuncCall:
		i, ok := sb.at[x]
		if !ok {
			return nil, false, nil
		}
		call := sb.calls[i]
		if !call.Composite() {
			return sb.col(i, 0), true, nil
		}
		args := make([]expr.Expr, len(call.Cols))
		for j := range call.Cols {
			args[j] = sb.col(i, j)
		}
		r, err := c.call("row", args...)
		return r, true, err
	case *sql.FieldSelect:
		f, ok := x.X.(*sql.FuncCall)
		if !ok {
			return nil, false, nil
		}
		i, ok := sb.at[f]
		if !ok {
			return nil, false, nil
		}
		call := sb.calls[i]
		for j, col := range call.Cols {
			if col.Name == x.Field && (call.Composite() || x.Field == call.Fn) {
				return sb.col(i, j), true, nil
			}
		}
		if !call.Composite() {
			return nil, true, errAt(x.Pos, pgerr.WrongObjectType, "column notation .%s applied to a function that does not return a record", x.Field)
		}
		return nil, true, errAt(x.Pos, pgerr.UndefinedColumn, "column %q not found in data type record", x.Field)
	}
	return nil, false, nil
}

func (sb *srfBinder) col(call, j int) *expr.Col {
	c := sb.calls[call].Cols[j]
	return &expr.Col{Idx: sb.base[call] + j, Typ: c.Typ, Name: c.Name}
}

// fields returns the record fields of a select item that is a whole
// record-returning call, or nil.
func (sb *srfBinder) fields(e sql.Expr) []plan.Column {
	if sb == nil {
		return nil
	}
	f, ok := e.(*sql.FuncCall)
	if !ok {
		return nil
	}
	i, ok := sb.at[f]
	if !ok || !sb.calls[i].Composite() {
		return nil
	}
	out := make([]plan.Column, len(sb.calls[i].Cols))
	for j, c := range sb.calls[i].Cols {
		out[j] = plan.Column{Name: c.Name, Type: c.Typ}
	}
	return out
}

// setComposites records the record-valued columns of n's output.
func (b *binder) setComposites(n Node, cols map[int][]plan.Column) {
	if len(cols) == 0 {
		return
	}
	if b.composites == nil {
		b.composites = map[Node]map[int][]plan.Column{}
	}
	b.composites[n] = cols
}

// carryComposites records to's columns as from's (to has from's columns
// in order, renamed or trimmed).
func (b *binder) carryComposites(from, to Node) {
	if c, ok := b.composites[from]; ok && from != to {
		b.setComposites(to, c)
	}
}

// nodeScope is the scope of a derived table or CTE reference: n's columns
// under the qualifier table, with their record fields.
func (b *binder) nodeScope(table string, n Node) *scope {
	sc := schemaScope(table, n.Schema())
	for i, f := range b.composites[n] {
		if i < len(sc.cols) {
			sc.cols[i].fields = f
		}
	}
	return sc
}
