package planner

import (
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// This file binds queries: it resolves names against the Resolver and the
// query's own FROM items, types every expression, and builds the logical
// plan (logical.go) with PostgreSQL's name resolution rules and errors.
// Aggregation is in bind_agg.go, DML in bind_dml.go.

// BindOptions tune binding.
type BindOptions struct {
	// ParamTypes gives the types of $1, $2, ... where the client declared
	// them (index 0 is $1); the others are typed by context.
	ParamTypes []datum.Type
}

// BindQuery binds a SELECT, VALUES or set operation into a logical plan
// (for batch queries over tables and system tables, and EXPLAIN).
func BindQuery(r Resolver, q sql.Query) (Node, error) {
	return BindQueryWith(r, q, BindOptions{})
}

// BindQueryWith is BindQuery with options.
func BindQueryWith(r Resolver, q sql.Query, opts BindOptions) (Node, error) {
	n, err := newBinder(r, opts).bindQuery(q, nil)
	if err != nil {
		return nil, err
	}
	return textOutputs(optimizeBatch(n)), nil
}

// textOutputs gives a query's untyped output columns (SELECT 'x', SELECT
// NULL) the type TEXT, as PostgreSQL reports them to clients.
func textOutputs(n Node) Node {
	s := n.Schema()
	types := make([]datum.Type, len(s))
	for i, c := range s {
		if c.Type == datum.TypeUnknown {
			types[i] = datum.TypeText
		}
	}
	return castProject(n, types)
}

// BindStatement binds a query statement, INSERT, UPDATE or DELETE run as a
// batch statement. INSERT targets tables and 'log' sources; UPDATE and
// DELETE target tables.
func BindStatement(r Resolver, stmt sql.Statement) (Node, error) {
	return BindStatementWith(r, stmt, BindOptions{})
}

// BindStatementWith is BindStatement with options (declared parameter types).
func BindStatementWith(r Resolver, stmt sql.Statement, opts BindOptions) (Node, error) {
	b := newBinder(r, opts)
	switch s := stmt.(type) {
	case *sql.QueryStmt:
		n, err := b.bindQuery(s.Query, nil)
		if err != nil {
			return nil, err
		}
		return textOutputs(optimizeBatch(n)), nil
	case *sql.Insert:
		ins, err := b.bindInsert(s, false)
		if err != nil {
			return nil, err
		}
		ins.Input = optimizeBatch(ins.Input)
		return ins, nil
	case *sql.Update:
		return b.bindUpdate(s)
	case *sql.Delete:
		return b.bindDelete(s)
	}
	return nil, pgerr.New(pgerr.InternalError, "planner: cannot bind %T", stmt)
}

// binder holds what binding one statement needs.
type binder struct {
	res    Resolver
	funcs  *expr.Registry
	params []datum.Type
	// ctes is the stack of WITH clauses in scope, innermost last.
	ctes []map[string]Node
	// frames are the subqueries being bound, innermost last (correlation).
	frames []*corrFrame
	// composites records the record-valued output columns of bound
	// queries (a set-returning function's record in a select list), for
	// (x).field on a derived table's column.
	composites map[Node]map[int][]plan.Column
}

func newBinder(r Resolver, opts BindOptions) *binder {
	b := &binder{res: r, params: opts.ParamTypes}
	if fr, ok := r.(FuncResolver); ok {
		b.funcs = fr.Funcs()
	}
	return b
}

func (b *binder) paramType(n int) datum.Type {
	if n >= 1 && n <= len(b.params) {
		return b.params[n-1]
	}
	return datum.TypeUnknown
}

// bindQuery binds q; outer is the enclosing query's scope when q is a
// subquery (only to report correlated references).
func (b *binder) bindQuery(q sql.Query, outer *scope) (Node, error) {
	switch q := q.(type) {
	case *sql.Select:
		pop, err := b.pushCTEs(q.With, outer)
		if err != nil {
			return nil, err
		}
		defer pop()
		return b.bindSelect(q, outer)
	case *sql.SetOp:
		pop, err := b.pushCTEs(q.With, outer)
		if err != nil {
			return nil, err
		}
		defer pop()
		return b.bindSetOp(q, outer)
	case *sql.Values:
		return b.bindValues(q, outer, nil)
	}
	return nil, pgerr.New(pgerr.InternalError, "planner: unexpected query %T", q)
}

// pushCTEs binds a WITH clause; each CTE sees the ones before it.
func (b *binder) pushCTEs(ctes []sql.CTE, outer *scope) (func(), error) {
	if len(ctes) == 0 {
		return func() {}, nil
	}
	frame := map[string]Node{}
	b.ctes = append(b.ctes, frame)
	pop := func() { b.ctes = b.ctes[:len(b.ctes)-1] }
	for _, c := range ctes {
		if _, dup := frame[c.Name]; dup {
			pop()
			return nil, pgerr.New(pgerr.DuplicateTable, "WITH query name %q specified more than once", c.Name)
		}
		n, err := b.bindQuery(c.Query, outer)
		if err != nil {
			pop()
			return nil, err
		}
		renamed, err := renameColumns(n, c.Name, c.Columns)
		if err != nil {
			pop()
			return nil, err
		}
		b.carryComposites(n, renamed)
		frame[c.Name] = renamed
	}
	return pop, nil
}

func (b *binder) lookupCTE(name string) (Node, bool) {
	for i := len(b.ctes) - 1; i >= 0; i-- {
		if n, ok := b.ctes[i][name]; ok {
			return n, true
		}
	}
	return nil, false
}

// renameColumns gives n's columns the names cols (a prefix of them may be
// given, as PostgreSQL allows).
func renameColumns(n Node, table string, cols []string) (Node, error) {
	if len(cols) == 0 {
		return n, nil
	}
	in := n.Schema()
	if len(cols) > len(in) {
		return nil, pgerr.New(pgerr.InvalidColumnReference,
			"table %q has %d columns available but %d columns specified", table, len(in), len(cols))
	}
	exprs := make([]expr.Expr, len(in))
	out := make(plan.Schema, len(in))
	for i, c := range in {
		exprs[i] = &expr.Col{Idx: i, Typ: c.Type, Name: c.Name}
		out[i] = c
		if i < len(cols) {
			out[i].Name = cols[i]
		}
	}
	return &Project{Input: n, Exprs: exprs, Cols: out}, nil
}

// ---- SELECT ----

// selItem is one select-list entry after * expansion.
type selItem struct {
	e    sql.Expr
	name string
	pos  sql.Pos
}

// colIdxRef is a column of the FROM scope named by position: what a * in
// the select list expands to (a name could be ambiguous).
type colIdxRef struct {
	idx int
	pos sql.Pos
}

func (r *colIdxRef) ExprPos() sql.Pos { return r.pos }

func (b *binder) bindSelect(sel *sql.Select, outer *scope) (Node, error) {
	node, sc, err := b.bindFrom(sel.From, outer)
	if err != nil {
		return nil, err
	}
	sc.outer = outer
	if sel.Where != nil {
		ctx := &exprCtx{b: b, sc: sc, clause: "WHERE"}
		pred, err := ctx.bindBool(sel.Where, "WHERE")
		if err != nil {
			return nil, err
		}
		node = addFilter(node, pred)
	}
	items, err := expandStars(sel.Items, sc)
	if err != nil {
		return nil, err
	}
	aggregates := needsAggregate(sel, items)

	// Set-returning functions in the select list run over the FROM
	// clause's rows, in a SetFunc node whose columns the select list reads.
	var srf *srfBinder
	if hasSetFuncs(items, sel.OrderBy) {
		if aggregates {
			return nil, errAt(sel.Pos, pgerr.FeatureNotSupported,
				"set-returning functions are not supported in the select list of an aggregated query")
		}
		if node, sc, srf, err = b.bindSetFuncs(node, sc, items, sel.OrderBy); err != nil {
			return nil, err
		}
	}

	// The select list, HAVING and ORDER BY are bound over either the FROM
	// scope or, when the query aggregates, the Aggregate's output.
	proj := &exprCtx{b: b, sc: sc, clause: "SELECT"}
	if srf != nil {
		base := proj
		proj.hook = func(e sql.Expr) (expr.Expr, bool, error) { return srf.hook(base, e) }
	}
	orderCtx := proj
	var agg *aggBinder
	if aggregates {
		if agg, err = newAggBinder(b, node, sc, sel, items); err != nil {
			return nil, err
		}
		proj = agg.ctx("SELECT", true)
		orderCtx = agg.ctx("ORDER BY", false)
	}
	// Window functions are computed over the rows the select list sees.
	var win *winBinder
	if hasWindowFuncs(items, sel.OrderBy) {
		win = &winBinder{b: b}
		proj, orderCtx = win.wrap(proj), win.wrap(orderCtx)
	}
	exprs := make([]expr.Expr, len(items))
	cols := make(plan.Schema, len(items))
	composites := map[int][]plan.Column{}
	for i, it := range items {
		if exprs[i], err = proj.bind(it.e); err != nil {
			return nil, err
		}
		cols[i] = plan.Column{Name: it.name, Type: exprs[i].Type()}
		if f := srf.fields(it.e); f != nil {
			composites[i] = f
		}
	}
	// ORDER BY: output columns by name or ordinal, else expressions over
	// the input, added as hidden columns when not in the select list. All
	// clauses are bound before the Aggregate is built: ORDER BY and HAVING
	// may add aggregates of their own.
	visible := len(exprs)
	var keys []plan.SortKey
	for _, o := range sel.OrderBy {
		col, err := orderByOutput(o.Expr, items, exprs)
		if err != nil {
			return nil, err
		}
		if col < 0 {
			e, err := orderCtx.bind(o.Expr)
			if err != nil {
				return nil, err
			}
			k := exprKey(e)
			for i := range exprs {
				if exprKey(exprs[i]) == k {
					col = i
					break
				}
			}
			if col < 0 {
				if sel.Distinct {
					return nil, errAt(o.Expr.ExprPos(), pgerr.InvalidColumnReference,
						"for SELECT DISTINCT, ORDER BY expressions must appear in select list")
				}
				col = len(exprs)
				exprs = append(exprs, e)
				cols = append(cols, plan.Column{Name: outputName(o.Expr, sc), Type: e.Type()})
			}
		}
		keys = append(keys, sortKey(col, o))
	}
	if agg != nil {
		var having expr.Expr
		if sel.Having != nil {
			if having, err = agg.ctx("HAVING", false).bindBool(sel.Having, "HAVING"); err != nil {
				return nil, err
			}
		}
		node = agg.finish()
		if having != nil {
			node = &Filter{Input: node, Pred: having}
		}
	}
	if win != nil {
		node = win.finish(node)
	}
	in := node.Schema()
	for i := range cols {
		cols[i].NotNull = isNotNull(exprs[i], in)
	}
	if !isIdentity(exprs, len(in)) || !sameNames(in, cols) {
		node = &Project{Input: node, Exprs: exprs, Cols: cols}
	}
	if sel.Distinct {
		node = &Distinct{Input: node}
	}
	if len(keys) > 0 {
		node = &Sort{Input: node, Keys: keys}
	}
	if node, err = b.bindLimit(node, sel.Limit, sel.Offset); err != nil {
		return nil, err
	}
	if len(exprs) > visible {
		node = trimColumns(node, visible)
	}
	b.setComposites(node, composites)
	return node, nil
}

func sortKey(col int, o sql.OrderItem) plan.SortKey {
	k := plan.SortKey{Col: col, Desc: o.Desc, NullsFirst: o.Desc} // PostgreSQL: NULLs sort as largest
	if o.NullsFirst != nil {
		k.NullsFirst = *o.NullsFirst
	}
	return k
}

// trimColumns keeps the first n columns of node's output.
func trimColumns(node Node, n int) Node {
	in := node.Schema()
	exprs := make([]expr.Expr, n)
	for i := 0; i < n; i++ {
		exprs[i] = &expr.Col{Idx: i, Typ: in[i].Type, Name: in[i].Name}
	}
	return &Project{Input: node, Exprs: exprs, Cols: append(plan.Schema(nil), in[:n]...)}
}

// orderByOutput resolves an ORDER BY item naming an output column: an
// integer ordinal, or a bare name equal to an output column's name. It
// returns -1 for anything else.
func orderByOutput(e sql.Expr, items []selItem, exprs []expr.Expr) (int, error) {
	if n, ok := ordinal(e); ok {
		if n < 1 || n > len(items) {
			return 0, errAt(e.ExprPos(), pgerr.InvalidColumnReference, "ORDER BY position %d is not in select list", n)
		}
		return n - 1, nil
	}
	ref, ok := e.(*sql.ColumnRef)
	if !ok || ref.Table != "" {
		return -1, nil
	}
	found := -1
	for i, it := range items {
		if it.name != ref.Name {
			continue
		}
		if found >= 0 && exprKey(exprs[found]) != exprKey(exprs[i]) {
			return 0, errAt(ref.Pos, pgerr.AmbiguousColumn, "ORDER BY %q is ambiguous", ref.Name)
		}
		if found < 0 {
			found = i
		}
	}
	return found, nil
}

// ordinal reports whether e is an integer literal (a position).
func ordinal(e sql.Expr) (int, bool) {
	l, ok := e.(*sql.Literal)
	if !ok || l.Value.Kind() != datum.KindInt {
		return 0, false
	}
	return int(l.Value.Int()), true
}

// addFilter puts a WHERE filter over node. A filter over a window
// assignment that does not read window_start/window_end goes below it, so
// the TVF form and the group-window form plan alike and rows are dropped
// before they are copied into windows.
func addFilter(node Node, pred expr.Expr) Node {
	wa, ok := node.(*WindowAssign)
	if !ok {
		return &Filter{Input: node, Pred: pred}
	}
	var below, above []expr.Expr
	for _, c := range conjuncts(pred) {
		used := colsUsed(c)
		if used[wa.StartCol()] || used[wa.EndCol()] {
			above = append(above, c)
		} else {
			below = append(below, c)
		}
	}
	if len(below) > 0 {
		c := *wa
		c.Input = &Filter{Input: wa.Input, Pred: conjoin(below)}
		node = &c
	}
	if len(above) > 0 {
		node = &Filter{Input: node, Pred: conjoin(above)}
	}
	return node
}

// conjuncts splits a AND b AND c into its parts.
func conjuncts(e expr.Expr) []expr.Expr {
	if c, ok := e.(*expr.Call); ok && c.Fn == "and" && len(c.Args) == 2 {
		return append(conjuncts(c.Args[0]), conjuncts(c.Args[1])...)
	}
	return []expr.Expr{e}
}

// conjoin is the inverse of conjuncts.
func conjoin(es []expr.Expr) expr.Expr {
	if len(es) == 1 {
		return es[0]
	}
	e, err := expr.ResolveCall("and", es)
	if err != nil {
		panic("planner: conjoin of non-boolean conditions: " + err.Error())
	}
	return e
}

// expandStars turns the select list into items, expanding * and t.*.
func expandStars(items []sql.SelectItem, sc *scope) ([]selItem, error) {
	var out []selItem
	for _, it := range items {
		if !it.Star {
			name := it.Alias
			if name == "" {
				name = outputName(it.Expr, sc)
			}
			out = append(out, selItem{e: it.Expr, name: name, pos: it.Pos})
			continue
		}
		n := 0
		for i, c := range sc.cols {
			if c.hidden || (it.StarTable != "" && c.table != it.StarTable) {
				continue
			}
			out = append(out, selItem{e: &colIdxRef{idx: i, pos: it.Pos}, name: c.name, pos: it.Pos})
			n++
		}
		if it.StarTable != "" && !sc.hasTable(it.StarTable) {
			return nil, errAt(it.Pos, pgerr.UndefinedTable, "missing FROM-clause entry for table %q", it.StarTable)
		}
		if n == 0 && it.StarTable == "" && len(sc.cols) == 0 {
			return nil, errAt(it.Pos, pgerr.SyntaxError, "SELECT * with no tables specified is not valid")
		}
	}
	return out, nil
}

// outputName is the column name PostgreSQL gives an unaliased select item.
func outputName(e sql.Expr, sc *scope) string {
	switch e := e.(type) {
	case *sql.ColumnRef:
		return e.Name
	case *colIdxRef:
		return sc.cols[e.idx].name
	case *sql.FuncCall:
		name := e.Name
		for i := len(name) - 1; i >= 0; i-- {
			if name[i] == '.' {
				return name[i+1:]
			}
		}
		return name
	case *sql.CastExpr:
		if n := outputName(e.X, sc); n != "?column?" {
			return n
		}
		if e.TypeName != "" {
			return lowerWord(e.TypeName)
		}
	case *sql.CaseExpr:
		return "case"
	case *sql.FieldSelect:
		return e.Field
	case *sql.Subscript:
		return outputName(e.X, sc)
	case *sql.ArrayExpr:
		return "array"
	case *sql.SubqueryExpr:
		if e.Exists {
			return "exists"
		}
		// (SELECT x ...) is named after x, as in PostgreSQL.
		if sel, ok := e.Query.(*sql.Select); ok && e.X == nil && len(sel.Items) == 1 && !sel.Items[0].Star {
			if sel.Items[0].Alias != "" {
				return sel.Items[0].Alias
			}
			return outputName(sel.Items[0].Expr, &scope{})
		}
	}
	return "?column?"
}

func lowerWord(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '(' || c == ' ' {
			break
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}

// isNotNull reports whether e can never be NULL (for output schemas): a
// non-NULL constant, or a column the input declares NOT NULL.
func isNotNull(e expr.Expr, in plan.Schema) bool {
	switch x := e.(type) {
	case *expr.Const:
		return !x.Val.IsNull()
	case *expr.Col:
		return x.Idx >= 0 && x.Idx < len(in) && in[x.Idx].NotNull
	}
	return false
}

// bindLimit adds LIMIT/OFFSET.
func (b *binder) bindLimit(node Node, limit, offset sql.Expr) (Node, error) {
	if limit == nil && offset == nil {
		return node, nil
	}
	l := &Limit{Input: node}
	var err error
	if l.Count, err = b.bindCount(limit, "LIMIT"); err != nil {
		return nil, err
	}
	if l.Offset, err = b.bindCount(offset, "OFFSET"); err != nil {
		return nil, err
	}
	return l, nil
}

func (b *binder) bindCount(e sql.Expr, what string) (expr.Expr, error) {
	if e == nil {
		return nil, nil
	}
	if l, ok := e.(*sql.Literal); ok && l.Value.IsNull() {
		return nil, nil // LIMIT NULL / LIMIT ALL
	}
	ctx := &exprCtx{b: b, sc: &scope{}, clause: what}
	x, err := ctx.bind(e)
	if err != nil {
		return nil, err
	}
	x, err = assignCast(x, datum.TypeInt8)
	if err != nil || x.Type() != datum.TypeInt8 {
		return nil, errAt(e.ExprPos(), pgerr.DatatypeMismatch, "argument of %s must be type bigint, not type %s", what, pgTypeName(x.Type()))
	}
	if k, ok := x.(*expr.Const); ok && !k.Val.IsNull() && k.Val.Int() < 0 {
		code := "2201W"
		if what == "OFFSET" {
			code = "2201X"
		}
		return nil, errAt(e.ExprPos(), code, "%s must not be negative", what)
	}
	return x, nil
}

// ---- FROM ----

// bindFrom binds the FROM list; several items are cross-joined.
func (b *binder) bindFrom(items []sql.TableExpr, outer *scope) (Node, *scope, error) {
	if len(items) == 0 {
		return &Values{Rows: [][]expr.Expr{{}}}, &scope{}, nil
	}
	var node Node
	var sc *scope
	for _, it := range items {
		if tf, ok := it.(*sql.TableFunc); ok && node != nil {
			// A function after other FROM items may read them (LATERAL).
			n, s, err := b.bindTableFunc(tf, node, &scope{cols: sc.cols, outer: outer}, outer)
			if err != nil {
				return nil, nil, err
			}
			if err := checkDuplicateAliases(sc, &scope{cols: s.cols[len(sc.cols):]}, it); err != nil {
				return nil, nil, err
			}
			node, sc = n, s
			continue
		}
		n, s, err := b.bindTableExpr(it, outer)
		if err != nil {
			return nil, nil, err
		}
		if node == nil {
			node, sc = n, s
			continue
		}
		if err := checkDuplicateAliases(sc, s, it); err != nil {
			return nil, nil, err
		}
		node = &Join{Kind: plan.CrossJoin, Left: node, Right: n, Cols: concatSchema(node.Schema(), n.Schema())}
		sc = &scope{cols: append(append([]scopeCol(nil), sc.cols...), s.cols...)}
	}
	return node, sc, nil
}

func concatSchema(a, b plan.Schema) plan.Schema {
	return append(append(plan.Schema(nil), a...), b...)
}

// checkDuplicateAliases rejects two FROM items with one name (42712).
func checkDuplicateAliases(l, r *scope, at sql.TableExpr) error {
	seen := map[string]bool{}
	for _, c := range l.cols {
		if c.table != "" {
			seen[c.table] = true
		}
	}
	for _, c := range r.cols {
		if c.table != "" && seen[c.table] {
			return errAt(tablePos(at), "42712", "table name %q specified more than once", c.table)
		}
	}
	return nil
}

func tablePos(t sql.TableExpr) sql.Pos {
	switch t := t.(type) {
	case *sql.TableName:
		return t.Pos
	case *sql.WindowTVF:
		return t.Pos
	case *sql.Join:
		return t.Pos
	case *sql.Subquery:
		return t.Pos
	case *sql.TableFunc:
		return t.Pos
	}
	return sql.Pos{}
}

func (b *binder) bindTableExpr(te sql.TableExpr, outer *scope) (Node, *scope, error) {
	switch t := te.(type) {
	case *sql.TableName:
		return b.bindTableName(t)
	case *sql.WindowTVF:
		return b.bindWindowTVF(t)
	case *sql.Join:
		return b.bindJoin(t, outer)
	case *sql.Subquery:
		n, err := b.bindQuery(t.Query, outer)
		if err != nil {
			return nil, nil, err
		}
		renamed, err := renameColumns(n, t.Alias, t.Columns)
		if err != nil {
			return nil, nil, positioned(err, t.Pos)
		}
		b.carryComposites(n, renamed)
		return renamed, b.nodeScope(t.Alias, renamed), nil
	case *sql.TableFunc:
		return b.bindTableFunc(t, nil, nil, outer)
	}
	return nil, nil, pgerr.New(pgerr.InternalError, "planner: unexpected FROM item %T", te)
}

func (b *binder) bindTableName(t *sql.TableName) (Node, *scope, error) {
	qual := t.Alias
	if qual == "" {
		qual = t.Name
	}
	if t.Schema == "" {
		if n, ok := b.lookupCTE(t.Name); ok {
			return n, b.nodeScope(qual, n), nil
		}
	}
	rel, err := b.lookupRelation(t.Schema, t.Name, t.Pos)
	if err != nil {
		return nil, nil, err
	}
	if rel.Kind == catalog.RelSink {
		return nil, nil, errAt(t.Pos, pgerr.WrongObjectType, "cannot read from sink %q", t.Name)
	}
	scan := &Scan{Rel: rel, Alias: t.Alias, Cols: catalogSchema(rel.Columns)}
	return scan, schemaScope(qual, scan.Cols), nil
}

func (b *binder) lookupRelation(schema, name string, pos sql.Pos) (*catalog.Relation, error) {
	rel, err := b.res.LookupRelation(schema, name)
	if err != nil {
		return nil, positioned(err, pos)
	}
	return rel, nil
}

func catalogSchema(cols []catalog.Column) plan.Schema {
	s := make(plan.Schema, len(cols))
	for i, c := range cols {
		s[i] = plan.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
	}
	return s
}

// windowCols are the two columns a window assignment appends.
var windowCols = plan.Schema{
	{Name: "window_start", Type: datum.TypeTimestamp, NotNull: true},
	{Name: "window_end", Type: datum.TypeTimestamp, NotNull: true},
}

// bindWindowTVF binds TUMBLE(src, ts, size[, offset]) or
// HOP(src, ts, slide, size[, offset]) in FROM.
func (b *binder) bindWindowTVF(t *sql.WindowTVF) (Node, *scope, error) {
	in, sc, err := b.bindTableName(t.Source)
	if err != nil {
		return nil, nil, err
	}
	timeCol, err := sc.resolve(&sql.ColumnRef{Name: t.TimeCol, Pos: t.Pos})
	if err != nil {
		return nil, nil, err
	}
	wa, err := b.windowAssign(in, t.Kind, timeCol, t.Size, t.Slide, t.Offset, t.Pos)
	if err != nil {
		return nil, nil, err
	}
	qual := t.Alias
	if qual == "" && len(sc.cols) > 0 {
		qual = sc.cols[0].table
	}
	out := &scope{}
	for _, c := range sc.cols {
		c.table = qual
		out.cols = append(out.cols, c)
	}
	for _, c := range windowCols {
		out.cols = append(out.cols, scopeCol{table: qual, name: c.Name, typ: c.Type})
	}
	return wa, out, nil
}

// windowAssign builds a WindowAssign over in, for the TVF form and the
// group-window form alike.
func (b *binder) windowAssign(in Node, kind string, timeCol *expr.Col, size, slide, offset sql.Expr, pos sql.Pos) (*WindowAssign, error) {
	switch timeCol.Typ {
	case datum.TypeTimestamp, datum.TypeTimestampTZ:
	default:
		return nil, errAt(pos, pgerr.DatatypeMismatch,
			"window time column %q must be of type timestamp, not %s", timeCol.Name, pgTypeName(timeCol.Typ))
	}
	wa := &WindowAssign{Input: in, TimeCol: timeCol.Idx, Cols: concatSchema(in.Schema(), windowCols), Pos: pos}
	var err error
	if wa.Size, err = b.windowInterval(size, "size", pos); err != nil {
		return nil, err
	}
	switch kind {
	case "TUMBLE":
		wa.Kind, wa.Slide = plan.Tumble, wa.Size
	case "HOP":
		wa.Kind = plan.Hop
		if wa.Slide, err = b.windowInterval(slide, "slide", pos); err != nil {
			return nil, err
		}
		if wa.Size%wa.Slide != 0 {
			return nil, errAt(pos, pgerr.InvalidParameterValue,
				"HOP window size (%s) must be a multiple of its slide (%s)", formatMicros(wa.Size), formatMicros(wa.Slide))
		}
	default:
		return nil, errAt(pos, pgerr.FeatureNotSupported, "unknown window function %s", kind)
	}
	if offset != nil {
		if wa.Offset, err = b.windowIntervalAllowZero(offset, "offset", pos); err != nil {
			return nil, err
		}
	}
	return wa, nil
}

func (b *binder) windowInterval(e sql.Expr, what string, pos sql.Pos) (int64, error) {
	v, err := b.windowIntervalAllowZero(e, what, pos)
	if err != nil {
		return 0, err
	}
	if v <= 0 {
		return 0, errAt(e.ExprPos(), pgerr.InvalidParameterValue, "window %s must be positive, not %s", what, formatMicros(v))
	}
	return v, nil
}

// windowIntervalAllowZero evaluates a window size, slide or offset: a
// constant interval of fixed length (no months), in microseconds.
func (b *binder) windowIntervalAllowZero(e sql.Expr, what string, pos sql.Pos) (int64, error) {
	if e == nil {
		return 0, errAt(pos, pgerr.SyntaxError, "window %s is missing", what)
	}
	ctx := &exprCtx{b: b, sc: &scope{}, clause: "window arguments"}
	x, err := ctx.bind(e)
	if err != nil {
		return 0, err
	}
	if x.Type() == datum.TypeUnknown {
		if x, err = expr.ResolveCast(x, datum.TypeInterval); err != nil {
			return 0, positioned(err, e.ExprPos())
		}
	}
	k, ok := x.(*expr.Const)
	if !ok || x.Type() != datum.TypeInterval || k.Val.IsNull() {
		return 0, errAt(e.ExprPos(), pgerr.DatatypeMismatch,
			"window %s must be a constant interval, such as INTERVAL '1' MINUTE", what)
	}
	if k.Val.Months() != 0 {
		return 0, errAt(e.ExprPos(), pgerr.FeatureNotSupported,
			"window %s must have a fixed length: months and years are not supported", what)
	}
	return k.Val.Micros(), nil
}

// bindJoin binds a JOIN; its scope is the left's columns then the right's.
func (b *binder) bindJoin(j *sql.Join, outer *scope) (Node, *scope, error) {
	l, ls, err := b.bindTableExpr(j.Left, outer)
	if err != nil {
		return nil, nil, err
	}
	if tf, ok := j.Right.(*sql.TableFunc); ok && (j.Kind == "INNER" || j.Kind == "" || j.Kind == "CROSS") && len(j.Using) == 0 {
		// [CROSS] JOIN [LATERAL] f(left columns) [ON c]: the function runs
		// over each left row (like a function after a comma), then ON
		// filters.
		n, s, err := b.bindTableFunc(tf, l, &scope{cols: ls.cols, outer: outer}, outer)
		if err != nil {
			return nil, nil, err
		}
		if err := checkDuplicateAliases(ls, &scope{cols: s.cols[len(ls.cols):]}, j.Right); err != nil {
			return nil, nil, err
		}
		sc := &scope{cols: s.cols, outer: outer}
		if j.On == nil {
			if j.Kind != "CROSS" {
				return nil, nil, errAt(j.Pos, pgerr.SyntaxError, "JOIN requires an ON or USING clause")
			}
			return n, sc, nil
		}
		ctx := &exprCtx{b: b, sc: sc, clause: "JOIN conditions"}
		on, err := ctx.bindBool(j.On, "JOIN/ON")
		if err != nil {
			return nil, nil, err
		}
		return &Filter{Input: n, Pred: on}, sc, nil
	}
	r, rs, err := b.bindTableExpr(j.Right, outer)
	if err != nil {
		return nil, nil, err
	}
	if err := checkDuplicateAliases(ls, rs, j.Right); err != nil {
		return nil, nil, err
	}
	node := &Join{Left: l, Right: r, Cols: concatSchema(l.Schema(), r.Schema())}
	switch j.Kind {
	case "INNER", "":
		node.Kind = plan.InnerJoin
	case "LEFT":
		node.Kind = plan.LeftJoin
	case "RIGHT":
		node.Kind = plan.RightJoin
	case "FULL":
		node.Kind = plan.FullJoin
	case "CROSS":
		node.Kind = plan.CrossJoin
	default:
		return nil, nil, errAt(j.Pos, pgerr.FeatureNotSupported, "%s JOIN is not supported", j.Kind)
	}
	// Outer joins make the other side's columns nullable.
	nl := len(ls.cols)
	if node.Kind == plan.LeftJoin || node.Kind == plan.FullJoin {
		for i := nl; i < len(node.Cols); i++ {
			node.Cols[i].NotNull = false
		}
	}
	if node.Kind == plan.RightJoin || node.Kind == plan.FullJoin {
		for i := 0; i < nl; i++ {
			node.Cols[i].NotNull = false
		}
	}
	sc := &scope{cols: append(append([]scopeCol(nil), ls.cols...), rs.cols...), outer: outer}
	ctx := &exprCtx{b: b, sc: sc, clause: "JOIN conditions"}
	switch {
	case len(j.Using) > 0:
		var conds []expr.Expr
		for _, name := range j.Using {
			li, err := usingCol(ls, name, "left", j.Pos)
			if err != nil {
				return nil, nil, err
			}
			ri, err := usingCol(rs, name, "right", j.Pos)
			if err != nil {
				return nil, nil, err
			}
			lc := &expr.Col{Idx: li, Typ: ls.cols[li].typ, Name: qualified(ls.cols[li])}
			rc := &expr.Col{Idx: nl + ri, Typ: rs.cols[ri].typ, Name: qualified(rs.cols[ri])}
			eq, err := ctx.call("=", lc, rc)
			if err != nil {
				return nil, nil, positioned(err, j.Pos)
			}
			conds = append(conds, eq)
			sc.cols[nl+ri].hidden = true
		}
		node.On = conds[0]
		if len(conds) > 1 {
			if node.On, err = ctx.call("and", conds...); err != nil {
				return nil, nil, err
			}
		}
	case j.On != nil:
		if node.On, err = ctx.bindBool(j.On, "JOIN/ON"); err != nil {
			return nil, nil, err
		}
	case node.Kind != plan.CrossJoin:
		return nil, nil, errAt(j.Pos, pgerr.SyntaxError, "%s JOIN requires an ON or USING clause", j.Kind)
	}
	return node, sc, nil
}

func qualified(c scopeCol) string {
	if c.table == "" {
		return c.name
	}
	return c.table + "." + c.name
}

func usingCol(sc *scope, name, side string, pos sql.Pos) (int, error) {
	idx := -1
	for i, c := range sc.cols {
		if c.name == name && !c.hidden {
			if idx >= 0 {
				return 0, errAt(pos, pgerr.AmbiguousColumn, "common column name %q appears more than once in %s table", name, side)
			}
			idx = i
		}
	}
	if idx < 0 {
		return 0, errAt(pos, pgerr.UndefinedColumn, "column %q specified in USING clause does not exist in %s table", name, side)
	}
	return idx, nil
}

// ---- VALUES and set operations ----

// bindValues binds VALUES rows. With target types (INSERT), every column is
// converted to its target type as an assignment; otherwise to the common
// type of the column's values.
func (b *binder) bindValues(v *sql.Values, outer *scope, target []datum.Type) (*Values, error) {
	if len(v.Rows) == 0 {
		return nil, errAt(v.Pos, pgerr.SyntaxError, "VALUES must have at least one row")
	}
	ctx := &exprCtx{b: b, sc: &scope{outer: outer}, clause: "VALUES"}
	width := len(v.Rows[0])
	rows := make([][]expr.Expr, len(v.Rows))
	for i, r := range v.Rows {
		if len(r) != width {
			pos := v.Pos
			if len(r) > 0 {
				pos = r[0].ExprPos()
			}
			return nil, errAt(pos, pgerr.SyntaxError, "VALUES lists must all be the same length")
		}
		var err error
		if rows[i], err = ctx.bindList(r); err != nil {
			return nil, err
		}
	}
	cols := make(plan.Schema, width)
	for j := 0; j < width; j++ {
		cols[j] = plan.Column{Name: "column" + itoa(j+1), NotNull: true}
		if target != nil && j < len(target) {
			// INSERT: the caller converts each value to its column.
			cols[j].Type = target[j]
			continue
		}
		ts := make([]datum.Type, len(rows))
		for i := range rows {
			ts[i] = rows[i][j].Type()
		}
		ct, ok := expr.CommonType(ts...)
		if !ok {
			return nil, errAt(v.Rows[0][j].ExprPos(), pgerr.DatatypeMismatch, "VALUES types %s cannot be matched", typeNames(ts))
		}
		cols[j].Type = ct
		for i := range rows {
			if rows[i][j].Type() == ct {
				continue
			}
			c, err := expr.ResolveCast(rows[i][j], ct)
			if err != nil {
				return nil, positioned(err, v.Rows[i][j].ExprPos())
			}
			rows[i][j] = c
		}
	}
	for j := range cols {
		for i := range rows {
			if k, ok := rows[i][j].(*expr.Const); !ok || k.Val.IsNull() {
				cols[j].NotNull = false
			}
		}
	}
	return &Values{Rows: rows, Cols: cols}, nil
}

func typeNames(ts []datum.Type) string {
	seen := map[datum.Type]bool{}
	s := ""
	for _, t := range ts {
		if seen[t] || t == datum.TypeUnknown {
			continue
		}
		seen[t] = true
		if s != "" {
			s += " and "
		}
		s += pgTypeName(t)
	}
	return s
}

func (b *binder) bindSetOp(q *sql.SetOp, outer *scope) (Node, error) {
	l, err := b.bindQuery(q.Left, outer)
	if err != nil {
		return nil, err
	}
	r, err := b.bindQuery(q.Right, outer)
	if err != nil {
		return nil, err
	}
	ls, rs := l.Schema(), r.Schema()
	if len(ls) != len(rs) {
		return nil, pgerr.New(pgerr.SyntaxError, "each %s query must have the same number of columns", q.Op)
	}
	cols := make(plan.Schema, len(ls))
	types := make([]datum.Type, len(ls))
	for i := range ls {
		ct, ok := expr.CommonType(ls[i].Type, rs[i].Type)
		if !ok {
			return nil, pgerr.New(pgerr.DatatypeMismatch, "%s types %s and %s cannot be matched",
				q.Op, pgTypeName(ls[i].Type), pgTypeName(rs[i].Type))
		}
		types[i] = ct
		cols[i] = plan.Column{Name: ls[i].Name, Type: ct, NotNull: ls[i].NotNull && rs[i].NotNull}
	}
	var node Node = &SetOp{Op: q.Op, All: q.All, Left: castProject(l, types), Right: castProject(r, types), Cols: cols}
	if len(q.OrderBy) > 0 {
		sc := schemaScope("", cols)
		sc.outer = outer
		var keys []plan.SortKey
		for _, o := range q.OrderBy {
			col := -1
			if n, ok := ordinal(o.Expr); ok {
				if n < 1 || n > len(cols) {
					return nil, errAt(o.Expr.ExprPos(), pgerr.InvalidColumnReference, "ORDER BY position %d is not in select list", n)
				}
				col = n - 1
			} else if ref, ok := o.Expr.(*sql.ColumnRef); ok && ref.Table == "" {
				c, err := sc.resolve(ref)
				if err != nil {
					return nil, err
				}
				col = c.Idx
			} else {
				return nil, errAt(o.Expr.ExprPos(), pgerr.FeatureNotSupported,
					"invalid %s ORDER BY clause: only result column names can be used", q.Op)
			}
			keys = append(keys, sortKey(col, o))
		}
		node = &Sort{Input: node, Keys: keys}
	}
	return b.bindLimit(node, q.Limit, q.Offset)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
