package sql

import (
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/opcode"
	"github.com/pingcap/tidb/pkg/parser/test_driver"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// converter turns TiDB's AST of a rewritten statement into Weir's AST,
// resolving the rewriter's placeholders and mapping offsets back.
type converter struct {
	r     *rewriter
	p     *parser
	sides []ast.StmtNode
}

// posOf returns the original position of the rendered offset off.
func (c *converter) posOf(off int) Pos {
	t, _ := c.r.at(off)
	return c.p.pos(t.orig)
}

// origWord returns the lower-cased identifier at the original position of
// the rendered offset off.
func (c *converter) origWord(off int) string {
	t, _ := c.r.at(off)
	src := c.p.src
	i := t.orig
	j := i
	for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
		j++
	}
	if i < 0 || i > len(src) {
		return ""
	}
	return strings.ToLower(src[i:j])
}

func (c *converter) epos(n ast.ExprNode) Pos { return c.posOf(n.OriginTextPosition()) }

// unsupported is a 0A000 error at the rendered offset off.
func (c *converter) unsupported(off int, format string, args ...any) error {
	t, _ := c.r.at(off)
	return c.p.errAt(t.orig, pgerr.FeatureNotSupported, format, args...)
}

func (c *converter) statement(n ast.StmtNode) (Statement, error) {
	switch n := n.(type) {
	case *ast.SelectStmt, *ast.SetOprStmt:
		q, err := c.query(n)
		if err != nil {
			return nil, err
		}
		return &QueryStmt{Query: q}, nil
	case *ast.InsertStmt:
		return c.insert(n)
	case *ast.UpdateStmt:
		return c.update(n)
	case *ast.DeleteStmt:
		return c.delete(n)
	}
	return nil, c.p.syntaxErrAt(0)
}

func (c *converter) sideFields(k int) ([]*ast.SelectField, error) {
	if k < 0 || k >= len(c.sides) {
		return nil, c.p.syntaxErrAt(0)
	}
	sel, ok := c.sides[k].(*ast.SelectStmt)
	if !ok || sel.Fields == nil || sel.From != nil {
		return nil, c.p.syntaxErrAt(0)
	}
	return sel.Fields.Fields, nil
}

// sideExprs returns the expressions of side statement k.
func (c *converter) sideExprs(k int) ([]Expr, error) {
	fields, err := c.sideFields(k)
	if err != nil {
		return nil, err
	}
	var out []Expr
	for _, f := range fields {
		if f.Expr == nil || f.AsName.O != "" {
			return nil, c.syntaxAt(f.Offset)
		}
		e, err := c.expr(f.Expr)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (c *converter) syntaxAt(off int) error {
	t, _ := c.r.at(off)
	return c.p.syntaxErrAt(c.p.tokenAt(t.orig))
}

// singleTable returns the one table of an INSERT/UPDATE/DELETE target.
func (c *converter) singleTable(refs *ast.TableRefsClause) (*TableName, error) {
	if refs == nil || refs.TableRefs == nil || refs.TableRefs.Right != nil {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "only one target table is supported")
	}
	te, err := c.tableExpr(refs.TableRefs.Left)
	if err != nil {
		return nil, err
	}
	tn, ok := te.(*TableName)
	if !ok {
		return nil, c.p.syntaxErrAt(1)
	}
	return tn, nil
}

func qualify(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

func (c *converter) insert(n *ast.InsertStmt) (*Insert, error) {
	if n.IsReplace || n.IgnoreErr || n.Setlist {
		return nil, c.p.syntaxErrAt(0)
	}
	tn, err := c.singleTable(n.Table)
	if err != nil {
		return nil, err
	}
	ins := &Insert{Table: qualify(tn.Schema, tn.Name), TablePos: tn.Pos, OnConflict: c.r.onConflict}
	for _, col := range n.Columns {
		ins.Columns = append(ins.Columns, col.Name.O)
	}
	switch {
	case n.Select != nil:
		if ins.Query, err = c.query(n.Select); err != nil {
			return nil, err
		}
	default:
		v := &Values{Pos: c.p.pos(c.r.valuesPos)}
		for _, row := range n.Lists {
			exprs, err := c.exprs(row)
			if err != nil {
				return nil, err
			}
			v.Rows = append(v.Rows, exprs)
		}
		ins.Query = v
	}
	if len(n.OnDuplicate) > 0 {
		if ins.OnConflict == nil {
			ins.OnConflict = &OnConflict{}
		}
		if ins.OnConflict.Set, err = c.assignments(n.OnDuplicate); err != nil {
			return nil, err
		}
	}
	if c.r.returning > 0 {
		fields, err := c.sideFields(c.r.returning - 1)
		if err != nil {
			return nil, err
		}
		if ins.Returning, err = c.selectItems(fields); err != nil {
			return nil, err
		}
	}
	return ins, nil
}

func (c *converter) assignments(as []*ast.Assignment) ([]Assignment, error) {
	var out []Assignment
	for _, a := range as {
		e, err := c.expr(a.Expr)
		if err != nil {
			return nil, err
		}
		out = append(out, Assignment{Column: a.Column.Name.O, Value: e})
	}
	return out, nil
}

func (c *converter) update(n *ast.UpdateStmt) (*Update, error) {
	if n.Order != nil || n.Limit != nil || n.With != nil || c.r.returning > 0 {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "this form of UPDATE is not supported")
	}
	tn, err := c.singleTable(n.TableRefs)
	if err != nil {
		return nil, err
	}
	u := &Update{Table: qualify(tn.Schema, tn.Name)}
	if u.Set, err = c.assignments(n.List); err != nil {
		return nil, err
	}
	if n.Where != nil {
		if u.Where, err = c.expr(n.Where); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func (c *converter) delete(n *ast.DeleteStmt) (*Delete, error) {
	if n.Order != nil || n.Limit != nil || n.With != nil || n.IsMultiTable || c.r.returning > 0 {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "this form of DELETE is not supported")
	}
	tn, err := c.singleTable(n.TableRefs)
	if err != nil {
		return nil, err
	}
	d := &Delete{Table: qualify(tn.Schema, tn.Name)}
	if n.Where != nil {
		if d.Where, err = c.expr(n.Where); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// query converts a SELECT, a set operation or a VALUES query.
func (c *converter) query(n ast.Node) (Query, error) {
	switch n := n.(type) {
	case *ast.SelectStmt:
		return c.selectStmt(n)
	case *ast.SetOprStmt:
		return c.setOp(n.SelectList, n.With, n.OrderBy, n.Limit)
	case *ast.SetOprSelectList:
		return c.setOp(n, n.With, n.OrderBy, n.Limit)
	}
	return nil, c.p.syntaxErrAt(0)
}

func setOpOf(n ast.Node) *ast.SetOprType {
	switch n := n.(type) {
	case *ast.SelectStmt:
		return n.AfterSetOperator
	case *ast.SetOprSelectList:
		return n.AfterSetOperator
	}
	return nil
}

// setOp builds a tree from TiDB's flat list, INTERSECT binding tighter than
// UNION and EXCEPT (as in PostgreSQL), all left-associative.
func (c *converter) setOp(list *ast.SetOprSelectList, with *ast.WithClause, order *ast.OrderByClause, limit *ast.Limit) (Query, error) {
	var terms []Query
	var ops []ast.SetOprType
	for k, item := range list.Selects {
		q, err := c.query(item)
		if err != nil {
			return nil, err
		}
		if k == 0 {
			terms = append(terms, q)
			continue
		}
		op := ast.Union
		if t := setOpOf(item); t != nil {
			op = *t
		}
		if op == ast.Intersect || op == ast.IntersectAll {
			last := len(terms) - 1
			terms[last] = &SetOp{Op: "INTERSECT", All: op == ast.IntersectAll, Left: terms[last], Right: q}
			continue
		}
		ops = append(ops, op)
		terms = append(terms, q)
	}
	result := terms[0]
	for k, op := range ops {
		s := &SetOp{Left: result, Right: terms[k+1]}
		switch op {
		case ast.Union, ast.UnionAll:
			s.Op, s.All = "UNION", op == ast.UnionAll
		case ast.Except, ast.ExceptAll:
			s.Op, s.All = "EXCEPT", op == ast.ExceptAll
		}
		result = s
	}
	orderBy, err := c.orderBy(order)
	if err != nil {
		return nil, err
	}
	lim, off, err := c.limit(limit)
	if err != nil {
		return nil, err
	}
	ctes, err := c.with(with)
	if err != nil {
		return nil, err
	}
	switch q := result.(type) {
	case *SetOp:
		q.OrderBy, q.Limit, q.Offset = orderBy, lim, off
		if ctes != nil {
			q.With = ctes
		}
	case *Select:
		if orderBy != nil || lim != nil || off != nil || ctes != nil {
			if q.OrderBy != nil || q.Limit != nil || q.Offset != nil || (q.With != nil && ctes != nil) {
				return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "nested ORDER BY/LIMIT is not supported here")
			}
			q.OrderBy, q.Limit, q.Offset = orderBy, lim, off
			if ctes != nil {
				q.With = ctes
			}
		}
	default:
		if orderBy != nil || lim != nil || off != nil || ctes != nil {
			return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "ORDER BY/LIMIT on VALUES is not supported")
		}
	}
	return result, nil
}

func (c *converter) with(w *ast.WithClause) ([]CTE, error) {
	if w == nil {
		return nil, nil
	}
	var out []CTE
	for _, cte := range w.CTEs {
		q, err := c.query(cte.Query.Query)
		if err != nil {
			return nil, err
		}
		x := CTE{Name: cte.Name.O, Query: q}
		for _, col := range cte.ColNameList {
			x.Columns = append(x.Columns, col.O)
		}
		out = append(out, x)
	}
	return out, nil
}

// selectPos finds the SELECT keyword before the first field.
func (c *converter) selectPos(n *ast.SelectStmt) Pos {
	if n.Fields == nil || len(n.Fields.Fields) == 0 {
		return c.p.pos(c.p.tok(0).pos)
	}
	_, k := c.r.at(n.Fields.Fields[0].Offset)
	for ; k >= 0; k-- {
		if c.r.all[k].sel {
			return c.p.pos(c.r.all[k].orig)
		}
	}
	return c.p.pos(c.p.tok(0).pos)
}

func (c *converter) selectStmt(n *ast.SelectStmt) (Query, error) {
	if n.Kind != ast.SelectStmtKindSelect {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "this form of query is not supported")
	}
	// VALUES rewritten as SELECT __weir_values(__weir_row(...), ...).
	if n.Fields != nil && len(n.Fields.Fields) == 1 && n.From == nil {
		if fc, ok := n.Fields.Fields[0].Expr.(*ast.FuncCallExpr); ok && fc.FnName.O == "__weir_values" {
			v := &Values{Pos: c.epos(fc)}
			for _, a := range fc.Args {
				row, ok := a.(*ast.FuncCallExpr)
				if !ok || row.FnName.O != "__weir_row" {
					return nil, c.syntaxAt(a.OriginTextPosition())
				}
				exprs, err := c.exprs(row.Args)
				if err != nil {
					return nil, err
				}
				v.Rows = append(v.Rows, exprs)
			}
			if n.OrderBy != nil || n.Limit != nil || n.With != nil || n.Where != nil {
				return nil, c.unsupported(fc.OriginTextPosition(), "ORDER BY/LIMIT on VALUES is not supported")
			}
			return v, nil
		}
	}
	if len(n.WindowSpecs) > 0 {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "WINDOW clauses are not supported")
	}
	if n.LockInfo != nil || n.SelectIntoOpt != nil {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "SELECT ... FOR/INTO is not supported")
	}
	s := &Select{Distinct: n.Distinct, Pos: c.selectPos(n)}
	var err error
	if s.With, err = c.with(n.With); err != nil {
		return nil, err
	}
	if n.Fields != nil {
		if s.Items, err = c.selectItems(n.Fields.Fields); err != nil {
			return nil, err
		}
	}
	if n.From != nil && n.From.TableRefs != nil {
		if s.From, err = c.fromList(n.From.TableRefs); err != nil {
			return nil, err
		}
	}
	if n.Where != nil {
		if s.Where, err = c.expr(n.Where); err != nil {
			return nil, err
		}
	}
	if n.GroupBy != nil {
		for _, it := range n.GroupBy.Items {
			e, err := c.expr(it.Expr)
			if err != nil {
				return nil, err
			}
			s.GroupBy = append(s.GroupBy, e)
		}
	}
	if n.Having != nil {
		if s.Having, err = c.expr(n.Having.Expr); err != nil {
			return nil, err
		}
	}
	if s.OrderBy, err = c.orderBy(n.OrderBy); err != nil {
		return nil, err
	}
	if s.Limit, s.Offset, err = c.limit(n.Limit); err != nil {
		return nil, err
	}
	return s, nil
}

func (c *converter) selectItems(fields []*ast.SelectField) ([]SelectItem, error) {
	var out []SelectItem
	for _, f := range fields {
		if f.WildCard != nil {
			out = append(out, SelectItem{Star: true, StarTable: qualify(f.WildCard.Schema.O, f.WildCard.Table.O), Pos: c.posOf(f.Offset)})
			continue
		}
		e, err := c.expr(f.Expr)
		if err != nil {
			return nil, err
		}
		out = append(out, SelectItem{Expr: e, Alias: f.AsName.O, Pos: e.ExprPos()})
	}
	return out, nil
}

func (c *converter) orderBy(o *ast.OrderByClause) ([]OrderItem, error) {
	if o == nil {
		return nil, nil
	}
	var out []OrderItem
	for _, it := range o.Items {
		e, err := c.expr(it.Expr)
		if err != nil {
			return nil, err
		}
		oi := OrderItem{Expr: e, Desc: it.Desc}
		if t, _ := c.r.at(it.Expr.OriginTextPosition()); t.nulls != 0 {
			first := t.nulls == 1
			oi.NullsFirst = &first
		}
		out = append(out, oi)
	}
	return out, nil
}

func (c *converter) limit(l *ast.Limit) (Expr, Expr, error) {
	if l == nil {
		return nil, nil, nil
	}
	var lim, off Expr
	var err error
	if l.Count != nil {
		if pm, ok := l.Count.(*test_driver.ParamMarkerExpr); !ok || c.slot(pm) != noLimit {
			if lim, err = c.expr(l.Count); err != nil {
				return nil, nil, err
			}
		}
	}
	if l.Offset != nil {
		if off, err = c.expr(l.Offset); err != nil {
			return nil, nil, err
		}
	}
	return lim, off, nil
}

// fromList flattens TiDB's join tree of a comma-separated FROM list.
func (c *converter) fromList(j *ast.Join) ([]TableExpr, error) {
	if j.Right == nil {
		te, err := c.tableExpr(j.Left)
		if err != nil {
			return nil, err
		}
		return []TableExpr{te}, nil
	}
	if j.Tp == ast.CrossJoin && j.On == nil && j.Using == nil && !j.NaturalJoin && !j.ExplicitParens {
		var out []TableExpr
		for _, side := range []ast.ResultSetNode{j.Left, j.Right} {
			if sj, ok := side.(*ast.Join); ok {
				l, err := c.fromList(sj)
				if err != nil {
					return nil, err
				}
				out = append(out, l...)
				continue
			}
			te, err := c.tableExpr(side)
			if err != nil {
				return nil, err
			}
			out = append(out, te)
		}
		return out, nil
	}
	te, err := c.join(j)
	if err != nil {
		return nil, err
	}
	return []TableExpr{te}, nil
}

func tablePos(te TableExpr) Pos {
	switch te := te.(type) {
	case *TableName:
		return te.Pos
	case *WindowTVF:
		return te.Pos
	case *TableFunc:
		return te.Pos
	case *Join:
		return te.Pos
	case *Subquery:
		return te.Pos
	}
	return Pos{}
}

// isFull reports whether the rewriter marked n as the right side of a FULL JOIN.
func (c *converter) isFull(n ast.ResultSetNode) bool {
	ts, ok := n.(*ast.TableSource)
	if !ok {
		return false
	}
	switch src := ts.Source.(type) {
	case *ast.TableName:
		if k, kind := placeholder(src.Name.O); kind == "t" {
			return c.r.tables[k].full
		} else if kind == "f" {
			return c.r.tfuncs[k].full
		}
	default:
		if k, kind := placeholder(ts.AsName.O); kind == "a" {
			return c.r.derived[k].full
		}
	}
	return false
}

func (c *converter) join(j *ast.Join) (TableExpr, error) {
	if j.NaturalJoin || j.StraightJoin {
		return nil, c.p.errAt(c.p.tok(0).pos, pgerr.FeatureNotSupported, "NATURAL JOIN is not supported")
	}
	left, err := c.tableExpr(j.Left)
	if err != nil {
		return nil, err
	}
	if j.Right == nil {
		return left, nil
	}
	right, err := c.tableExpr(j.Right)
	if err != nil {
		return nil, err
	}
	out := &Join{Left: left, Right: right, Pos: tablePos(left)}
	switch j.Tp {
	case ast.LeftJoin:
		out.Kind = "LEFT"
		if c.isFull(j.Right) {
			out.Kind = "FULL"
		}
	case ast.RightJoin:
		out.Kind = "RIGHT"
	default:
		out.Kind = "CROSS"
		if j.On != nil || j.Using != nil {
			out.Kind = "INNER"
		}
	}
	if j.On != nil {
		if out.On, err = c.expr(j.On.Expr); err != nil {
			return nil, err
		}
	}
	for _, u := range j.Using {
		out.Using = append(out.Using, u.Name.O)
	}
	return out, nil
}

// placeholder decodes __weir_<kind>_<n> names.
func placeholder(s string) (int, string) {
	if !strings.HasPrefix(s, "__weir_") || len(s) < 10 || s[8] != '_' {
		return -1, ""
	}
	n, err := strconv.Atoi(s[9:])
	if err != nil {
		return -1, ""
	}
	return n, s[7:8]
}

func (c *converter) tableExpr(n ast.ResultSetNode) (TableExpr, error) {
	switch n := n.(type) {
	case *ast.Join:
		return c.join(n)
	case *ast.TableSource:
		switch src := n.Source.(type) {
		case *ast.TableName:
			k, kind := placeholder(src.Name.O)
			switch kind {
			case "t":
				ref := c.r.tables[k]
				return &TableName{Schema: ref.schema, Name: ref.name, Alias: n.AsName.O, Pos: c.p.pos(ref.pos)}, nil
			case "f":
				return c.tableFunc(c.r.tfuncs[k])
			}
			return &TableName{Schema: src.Schema.O, Name: src.Name.O, Alias: n.AsName.O}, nil
		case *ast.SelectStmt, *ast.SetOprStmt:
			q, err := c.query(src)
			if err != nil {
				return nil, err
			}
			sq := &Subquery{Query: q, Alias: n.AsName.O}
			if k, kind := placeholder(n.AsName.O); kind == "a" {
				ref := c.r.derived[k]
				sq.Alias, sq.Columns, sq.Pos = ref.alias, ref.cols, c.p.pos(ref.pos)
			}
			return sq, nil
		case *ast.Join:
			return c.join(src)
		}
	}
	return nil, c.p.syntaxErrAt(0)
}

// tableFunc converts a table function in FROM; TUMBLE and HOP become
// *WindowTVF.
func (c *converter) tableFunc(ref tfuncRef) (TableExpr, error) {
	args, err := c.sideExprs(ref.side)
	if err != nil {
		return nil, err
	}
	pos := c.p.pos(ref.pos)
	kind := strings.ToUpper(ref.name)
	if kind != "TUMBLE" && kind != "HOP" {
		return &TableFunc{Func: &FuncCall{Name: ref.name, Args: args, Pos: pos}, Alias: ref.alias, Columns: ref.cols, Ordinality: ref.ord, Pos: pos}, nil
	}
	if ref.cols != nil {
		return nil, c.p.errAt(ref.pos, pgerr.FeatureNotSupported, "column aliases on %s are not supported", kind)
	}
	min, max := 3, 4
	if kind == "HOP" {
		min, max = 4, 5
	}
	if len(args) < min || len(args) > max {
		return nil, c.p.errAt(ref.pos, pgerr.SyntaxError, "%s expects %d or %d arguments, got %d", kind, min, max, len(args))
	}
	w := &WindowTVF{Kind: kind, Alias: ref.alias, Pos: pos}
	src, ok := args[0].(*ColumnRef)
	if !ok {
		return nil, c.p.errAt(args[0].ExprPos().Offset-1, pgerr.SyntaxError, "the first argument of %s must be a table name", kind)
	}
	w.Source = &TableName{Schema: src.Table, Name: src.Name, Pos: src.Pos}
	col := args[1]
	if fc, ok := col.(*FuncCall); ok && fc.Name == "descriptor" && len(fc.Args) == 1 {
		col = fc.Args[0]
	}
	cr, ok := col.(*ColumnRef)
	if !ok || cr.Table != "" {
		return nil, c.p.errAt(col.ExprPos().Offset-1, pgerr.SyntaxError, "the second argument of %s must be a time column", kind)
	}
	w.TimeCol = cr.Name
	if kind == "TUMBLE" {
		w.Size = args[2]
		if len(args) == 4 {
			w.Offset = args[3]
		}
	} else {
		w.Slide, w.Size = args[2], args[3]
		if len(args) == 5 {
			w.Offset = args[4]
		}
	}
	return w, nil
}

func (c *converter) exprs(ns []ast.ExprNode) ([]Expr, error) {
	out := make([]Expr, 0, len(ns))
	for _, n := range ns {
		e, err := c.expr(n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (c *converter) slot(pm *test_driver.ParamMarkerExpr) Expr {
	t, _ := c.r.at(pm.Offset)
	if t.slot == 0 {
		return nil
	}
	return c.r.slots[t.slot-1]
}

var binOps = map[opcode.Op]string{
	opcode.Plus: "+", opcode.Minus: "-", opcode.Mul: "*", opcode.Div: "/", opcode.Mod: "%",
	opcode.EQ: "=", opcode.NE: "<>", opcode.LT: "<", opcode.LE: "<=", opcode.GT: ">", opcode.GE: ">=",
	opcode.LogicAnd: "AND", opcode.LogicOr: "OR", opcode.Or: "|", opcode.Xor: "^",
	opcode.NullEQ: "IS NOT DISTINCT FROM", opcode.And: "&", opcode.LeftShift: "<<", opcode.RightShift: ">>",
}

// opBefore returns the operator annotation of the token just before the
// rendered offset off (the operator between a binary expression's operands).
func (c *converter) opBefore(off int) string {
	_, k := c.r.at(off)
	if k > 0 {
		return c.r.all[k-1].op
	}
	return ""
}

func (c *converter) expr(n ast.ExprNode) (Expr, error) {
	pos := c.epos(n)
	switch n := n.(type) {
	case *test_driver.ParamMarkerExpr:
		e := c.slot(n)
		if e == nil || e == noLimit {
			return nil, c.syntaxAt(n.Offset)
		}
		t, _ := c.r.at(n.Offset)
		switch e := e.(type) {
		case *Literal:
			e.Pos = c.p.pos(t.orig)
		case *Param:
			e.Pos = c.p.pos(t.orig)
		}
		return e, nil
	case *test_driver.ValueExpr:
		return nil, c.syntaxAt(n.OriginTextPosition())
	case *ast.ParenthesesExpr:
		return c.expr(n.Expr)
	case *ast.ColumnNameExpr:
		return &ColumnRef{Table: qualify(n.Name.Schema.O, n.Name.Table.O), Name: n.Name.Name.O, Pos: pos}, nil
	case *ast.BinaryOperationExpr:
		op, ok := binOps[n.Op]
		if !ok {
			return nil, c.unsupported(n.OriginTextPosition(), "operator %s is not supported", n.Op)
		}
		if a := c.opBefore(n.R.OriginTextPosition()); a != "" {
			op = a
		}
		l, err := c.expr(n.L)
		if err != nil {
			return nil, err
		}
		if fc, ok := n.R.(*ast.FuncCallExpr); ok && (fc.FnName.O == "__weir_any" || fc.FnName.O == "__weir_all") {
			if len(fc.Args) != 1 {
				return nil, c.syntaxAt(fc.OriginTextPosition())
			}
			arr, err := c.expr(fc.Args[0])
			if err != nil {
				return nil, err
			}
			q := " ANY"
			if fc.FnName.O == "__weir_all" {
				q = " ALL"
			}
			return &BinaryExpr{Op: op + q, L: l, R: arr, Pos: pos}, nil
		}
		r, err := c.expr(n.R)
		if err != nil {
			return nil, err
		}
		return &BinaryExpr{Op: op, L: l, R: r, Pos: pos}, nil
	case *ast.UnaryOperationExpr:
		x, err := c.expr(n.V)
		if err != nil {
			return nil, err
		}
		switch n.Op {
		case opcode.Minus:
			if lit, ok := x.(*Literal); ok && lit.Value.Kind() == datum.KindInt && lit.Value.Int() != -1<<63 {
				v := -lit.Value.Int()
				typ := datum.TypeInt8
				if v >= -1<<31 && v < 1<<31 {
					typ = datum.TypeInt4
				}
				return &Literal{Value: datum.NewInt(v), Type: typ, Pos: pos}, nil
			}
			if lit, ok := x.(*Literal); ok && lit.Value.Kind() == datum.KindFloat && lit.Type == datum.TypeNumeric {
				return &Literal{Value: datum.NewFloat(-lit.Value.Float()), Type: lit.Type, Pos: pos}, nil
			}
			return &UnaryExpr{Op: "-", X: x, Pos: pos}, nil
		case opcode.Plus:
			return &UnaryExpr{Op: "+", X: x, Pos: pos}, nil
		case opcode.Not, opcode.Not2:
			return &UnaryExpr{Op: "NOT", X: x, Pos: pos}, nil
		case opcode.BitNeg:
			op := "~"
			if t, _ := c.r.at(n.OriginTextPosition()); t.op != "" {
				op = t.op
			}
			return &UnaryExpr{Op: op, X: x, Pos: pos}, nil
		}
		return nil, c.unsupported(n.OriginTextPosition(), "operator %s is not supported", n.Op)
	case *ast.FuncCallExpr:
		return c.funcCall(n, pos)
	case *ast.AggregateFuncExpr:
		if n.Order != nil {
			return nil, c.unsupported(n.OriginTextPosition(), "ORDER BY in aggregates is not supported")
		}
		fc := &FuncCall{Name: strings.ToLower(n.F), Distinct: n.Distinct, Pos: pos}
		if err := c.aggOrder(fc, n.OriginTextPosition()); err != nil {
			return nil, err
		}
		// TiDB reads stddev/std/variance with MySQL's meaning (population);
		// PostgreSQL's are the sample versions.
		switch c.origWord(n.OriginTextPosition()) {
		case "stddev":
			fc.Name = "stddev_samp"
		case "variance":
			fc.Name = "var_samp"
		}
		if err := c.callArgs(fc, n.Args); err != nil {
			return nil, err
		}
		return fc, c.filter(fc, n.OriginTextPosition())
	case *ast.WindowFuncExpr:
		fc := &FuncCall{Name: strings.ToLower(n.Name), Distinct: n.Distinct, Pos: pos}
		if n.IgnoreNull || n.FromLast || n.Spec.Name.O != "" || n.Spec.Ref.O != "" {
			return nil, c.unsupported(n.OriginTextPosition(), "this window function form is not supported")
		}
		if err := c.callArgs(fc, n.Args); err != nil {
			return nil, err
		}
		ws := &WindowSpec{}
		if n.Spec.PartitionBy != nil {
			for _, it := range n.Spec.PartitionBy.Items {
				e, err := c.expr(it.Expr)
				if err != nil {
					return nil, err
				}
				ws.PartitionBy = append(ws.PartitionBy, e)
			}
		}
		var err error
		if ws.OrderBy, err = c.orderBy(n.Spec.OrderBy); err != nil {
			return nil, err
		}
		if n.Spec.Frame != nil {
			if ws.Frame, err = c.frame(n.Spec.Frame); err != nil {
				return nil, err
			}
		}
		fc.Over = ws
		return fc, c.filter(fc, n.OriginTextPosition())
	case *ast.CaseExpr:
		ce := &CaseExpr{Pos: pos}
		var err error
		if n.Value != nil {
			if ce.Operand, err = c.expr(n.Value); err != nil {
				return nil, err
			}
		}
		for _, w := range n.WhenClauses {
			cond, err := c.expr(w.Expr)
			if err != nil {
				return nil, err
			}
			then, err := c.expr(w.Result)
			if err != nil {
				return nil, err
			}
			ce.Whens = append(ce.Whens, CaseWhen{Cond: cond, Then: then})
		}
		if n.ElseClause != nil {
			if ce.Else, err = c.expr(n.ElseClause); err != nil {
				return nil, err
			}
		}
		return ce, nil
	case *ast.PatternInExpr:
		x, err := c.expr(n.Expr)
		if err != nil {
			return nil, err
		}
		if n.Sel != nil {
			sq, err := c.subquery(n.Sel)
			if err != nil {
				return nil, err
			}
			return &SubqueryExpr{Query: sq, X: x, Not: n.Not, Pos: pos}, nil
		}
		list, err := c.exprs(n.List)
		if err != nil {
			return nil, err
		}
		return &InList{X: x, List: list, Not: n.Not, Pos: pos}, nil
	case *ast.BetweenExpr:
		es, err := c.exprs([]ast.ExprNode{n.Expr, n.Left, n.Right})
		if err != nil {
			return nil, err
		}
		return &Between{X: es[0], Lo: es[1], Hi: es[2], Not: n.Not, Pos: pos}, nil
	case *ast.PatternLikeOrIlikeExpr:
		es, err := c.exprs([]ast.ExprNode{n.Expr, n.Pattern})
		if err != nil {
			return nil, err
		}
		op := "LIKE"
		if !n.IsLike {
			op = "ILIKE"
		}
		if n.Not {
			op = "NOT " + op
		}
		return &BinaryExpr{Op: op, L: es[0], R: es[1], Pos: pos}, nil
	case *ast.IsNullExpr:
		x, err := c.expr(n.Expr)
		if err != nil {
			return nil, err
		}
		op := "IS NULL"
		if n.Not {
			op = "IS NOT NULL"
		}
		return &UnaryExpr{Op: op, X: x, Pos: pos}, nil
	case *ast.IsTruthExpr:
		x, err := c.expr(n.Expr)
		if err != nil {
			return nil, err
		}
		op := "IS FALSE"
		if n.True != 0 {
			op = "IS TRUE"
		}
		if n.Not {
			op = strings.Replace(op, "IS ", "IS NOT ", 1)
		}
		return &UnaryExpr{Op: op, X: x, Pos: pos}, nil
	case *ast.ExistsSubqueryExpr:
		q, err := c.subquery(n.Sel)
		if err != nil {
			return nil, err
		}
		return &SubqueryExpr{Query: q, Exists: true, Not: n.Not, Pos: pos}, nil
	case *ast.SubqueryExpr:
		q, err := c.query(n.Query)
		if err != nil {
			return nil, err
		}
		return &SubqueryExpr{Query: q, Pos: pos}, nil
	case *ast.CompareSubqueryExpr:
		l, err := c.expr(n.L)
		if err != nil {
			return nil, err
		}
		q, err := c.subquery(n.R)
		if err != nil {
			return nil, err
		}
		switch {
		case n.Op == opcode.EQ && !n.All:
			return &SubqueryExpr{Query: q, X: l, Pos: pos}, nil
		case n.Op == opcode.NE && n.All:
			return &SubqueryExpr{Query: q, X: l, Not: true, Pos: pos}, nil
		}
		op, ok := binOps[n.Op]
		if !ok {
			return nil, c.unsupported(n.OriginTextPosition(), "operator %s is not supported", n.Op)
		}
		q2 := " ANY"
		if n.All {
			q2 = " ALL"
		}
		return &BinaryExpr{Op: op + q2, L: l, R: &SubqueryExpr{Query: q, Pos: c.epos(n.R)}, Pos: pos}, nil
	case *ast.RowExpr:
		return nil, c.unsupported(n.OriginTextPosition(), "row expressions are not supported")
	case *ast.PositionExpr:
		if n.P != nil {
			return c.expr(n.P)
		}
		return &Literal{Value: datum.NewInt(int64(n.N)), Type: datum.TypeInt4, Pos: pos}, nil
	case *ast.DefaultExpr:
		return nil, c.unsupported(n.OriginTextPosition(), "DEFAULT is not supported")
	}
	return nil, c.unsupported(n.OriginTextPosition(), "this expression is not supported")
}

func (c *converter) subquery(n ast.ExprNode) (Query, error) {
	sq, ok := n.(*ast.SubqueryExpr)
	if !ok {
		return nil, c.syntaxAt(n.OriginTextPosition())
	}
	return c.query(sq.Query)
}

// callArgs converts aggregate arguments; TiDB represents count(*) as a
// single literal 1 (the rewriter turns every written literal into '?').
func (c *converter) callArgs(fc *FuncCall, args []ast.ExprNode) error {
	if len(args) == 1 {
		if _, ok := args[0].(*test_driver.ValueExpr); ok {
			fc.Star = true
			return nil
		}
	}
	var err error
	fc.Args, err = c.exprs(args)
	return err
}

// filter attaches a FILTER (WHERE ...) noted on the call's name token.
func (c *converter) filter(fc *FuncCall, off int) error {
	t, _ := c.r.at(off)
	if t.filter == 0 {
		return nil
	}
	es, err := c.sideExprs(t.filter - 1)
	if err != nil {
		return err
	}
	if len(es) != 1 {
		return c.p.errAt(t.orig, pgerr.SyntaxError, "syntax error in FILTER clause")
	}
	fc.Filter = es[0]
	return nil
}

func (c *converter) frame(f *ast.FrameClause) (string, error) {
	var b strings.Builder
	switch f.Type {
	case ast.Rows:
		b.WriteString("ROWS ")
	case ast.Ranges:
		b.WriteString("RANGE ")
	case ast.Groups:
		b.WriteString("GROUPS ")
	}
	bound := func(fb ast.FrameBound) error {
		switch {
		case fb.Type == ast.CurrentRow:
			b.WriteString("CURRENT ROW")
			return nil
		case fb.UnBounded:
			b.WriteString("UNBOUNDED")
		default:
			e, err := c.expr(fb.Expr)
			if err != nil {
				return err
			}
			b.WriteString(FormatExpr(e))
		}
		if fb.Type == ast.Preceding {
			b.WriteString(" PRECEDING")
		} else {
			b.WriteString(" FOLLOWING")
		}
		return nil
	}
	b.WriteString("BETWEEN ")
	if err := bound(f.Extent.Start); err != nil {
		return "", err
	}
	b.WriteString(" AND ")
	if err := bound(f.Extent.End); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (c *converter) funcCall(n *ast.FuncCallExpr, pos Pos) (Expr, error) {
	name := n.FnName.O
	if strings.HasPrefix(name, "__weir_cast_") {
		k, err := strconv.Atoi(name[len("__weir_cast_"):])
		if err != nil || k < 0 || k >= len(c.r.casts) {
			return nil, c.syntaxAt(n.OriginTextPosition())
		}
		if len(n.Args) != 1 {
			return nil, c.syntaxAt(n.OriginTextPosition())
		}
		x, err := c.expr(n.Args[0])
		if err != nil {
			return nil, err
		}
		ci := c.r.casts[k]
		return &CastExpr{X: x, Type: ci.typ, TypeName: ci.name, Pos: pos}, nil
	}
	switch name {
	case "__weir_sub":
		es, err := c.exprs(n.Args)
		if err != nil {
			return nil, err
		}
		if len(es) != 2 {
			return nil, c.syntaxAt(n.OriginTextPosition())
		}
		return &Subscript{X: es[0], Index: es[1], Pos: pos}, nil
	case "__weir_field":
		es, err := c.exprs(n.Args)
		if err != nil {
			return nil, err
		}
		lit, ok := es[1].(*Literal)
		if len(es) != 2 || !ok {
			return nil, c.syntaxAt(n.OriginTextPosition())
		}
		return &FieldSelect{X: es[0], Field: lit.Value.Str(), Pos: pos}, nil
	case "__weir_array":
		es, err := c.exprs(n.Args)
		if err != nil {
			return nil, err
		}
		return &ArrayExpr{Elems: es, Pos: pos}, nil
	case "__weir_arraysub":
		es, err := c.exprs(n.Args)
		if err != nil {
			return nil, err
		}
		return &FuncCall{Name: "array", Args: es, Pos: pos}, nil
	case "__weir_any", "__weir_all", "__weir_values", "__weir_row":
		return nil, c.syntaxAt(n.OriginTextPosition())
	}
	if strings.HasPrefix(name, "__weir_") {
		return nil, c.syntaxAt(n.OriginTextPosition())
	}
	fc := &FuncCall{Name: qualify(n.Schema.O, name), Pos: pos}
	var err error
	if fc.Args, err = c.exprs(n.Args); err != nil {
		return nil, err
	}
	if err := c.aggOrder(fc, n.OriginTextPosition()); err != nil {
		return nil, err
	}
	return fc, c.filter(fc, n.OriginTextPosition())
}

// aggOrder reads an aggregate's ORDER BY (its side statement SELECT 1
// ORDER BY ...) into fc.OrderBy.
func (c *converter) aggOrder(fc *FuncCall, off int) error {
	t, _ := c.r.at(off)
	if t.order == 0 {
		return nil
	}
	k := t.order - 1
	if k < 0 || k >= len(c.sides) {
		return c.p.syntaxErrAt(0)
	}
	sel, ok := c.sides[k].(*ast.SelectStmt)
	if !ok || sel.OrderBy == nil || sel.From != nil {
		return c.p.errAt(t.orig, pgerr.SyntaxError, "syntax error in the ORDER BY of %s", fc.Name)
	}
	var err error
	fc.OrderBy, err = c.orderBy(sel.OrderBy)
	return err
}
