package planner

import (
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// This file binds INSERT, UPDATE and DELETE: targets, column lists, and the
// assignment conversions PostgreSQL applies when a value is stored.

// InsertValues is a bound INSERT ... VALUES: one expression per target
// column per row, in the target's column order and of its types; columns
// the statement left out are NULL constants.
type InsertValues struct {
	Target *catalog.Relation
	Rows   [][]expr.Expr
}

// Datums returns the rows as values when every expression is a constant
// (the common case: literals already converted to the column types), and
// false when some need evaluating (now(), $1, ...).
func (v *InsertValues) Datums() ([]datum.Row, bool) {
	out := make([]datum.Row, len(v.Rows))
	for i, r := range v.Rows {
		row := make(datum.Row, len(r))
		for j, e := range r {
			k, ok := e.(*expr.Const)
			if !ok {
				return nil, false
			}
			row[j] = k.Val
		}
		out[i] = row
	}
	return out, true
}

// BindInsertValues binds INSERT INTO target [(cols)] VALUES (...), ...:
// into a table, or a 'log' source. Values are converted to the column types
// (literals parsed now: a bad one is 22P02 and friends), omitted columns are
// NULL, a NULL constant for a NOT NULL column is 23502, a value of a type
// that cannot be stored in its column is 42804.
func BindInsertValues(r Resolver, ins *sql.Insert) (*InsertValues, error) {
	vals, ok := ins.Query.(*sql.Values)
	if !ok {
		return nil, pgerr.New(pgerr.InternalError, "planner: BindInsertValues needs INSERT ... VALUES")
	}
	b := newBinder(r, BindOptions{})
	n, err := b.bindInsert(ins, false)
	if err != nil {
		return nil, err
	}
	// bindInsert put a Project in target order over the Values; compose.
	p := n.Input.(*Project)
	v := p.Input.(*Values)
	out := &InsertValues{Target: n.Target, Rows: make([][]expr.Expr, len(v.Rows))}
	for i, row := range v.Rows {
		out.Rows[i] = make([]expr.Expr, len(p.Exprs))
		for j, e := range p.Exprs {
			c, err := mapCols(e, func(c *expr.Col) (expr.Expr, error) { return row[c.Idx], nil })
			if err != nil {
				return nil, err
			}
			if err := checkNotNull(n.Target, j, c, vals.Rows[i], ins); err != nil {
				return nil, err
			}
			out.Rows[i][j] = c
		}
	}
	return out, nil
}

// checkNotNull rejects a NULL constant for a NOT NULL column (23502).
func checkNotNull(t *catalog.Relation, col int, e expr.Expr, row []sql.Expr, ins *sql.Insert) error {
	k, ok := e.(*expr.Const)
	if !ok || !k.Val.IsNull() || !t.Columns[col].NotNull {
		return nil
	}
	pos := ins.TablePos
	for i, name := range insertColumns(t, ins) {
		if name == t.Columns[col].Name && i < len(row) {
			pos = row[i].ExprPos()
		}
	}
	return errAt(pos, pgerr.NotNullViolation,
		"null value in column %q of %s %q violates not-null constraint", t.Columns[col].Name, t.Kind, t.Name)
}

// insertColumns returns the names of the INSERT's target columns, in the
// order the statement gives values for them.
func insertColumns(t *catalog.Relation, ins *sql.Insert) []string {
	if len(ins.Columns) > 0 {
		return ins.Columns
	}
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// bindInsert binds INSERT INTO target [(cols)] query. forJob: the target is a
// job's (a table or a sink); otherwise a table or a 'log' source.
func (b *binder) bindInsert(ins *sql.Insert, forJob bool) (*Insert, error) {
	if len(ins.Returning) > 0 {
		return nil, errAt(ins.Returning[0].Pos, pgerr.FeatureNotSupported, "INSERT ... RETURNING is not supported")
	}
	t, err := b.lookupRelation("", ins.Table, ins.TablePos)
	if err != nil {
		return nil, err
	}
	if err := checkInsertTarget(t, forJob, ins.TablePos); err != nil {
		return nil, err
	}
	// Target columns: the list given (each once), else all of them.
	var targets []int
	if len(ins.Columns) == 0 {
		for i := range t.Columns {
			targets = append(targets, i)
		}
	} else {
		seen := map[int]bool{}
		for _, name := range ins.Columns {
			idx := -1
			for i, c := range t.Columns {
				if c.Name == name {
					idx = i
				}
			}
			if idx < 0 {
				return nil, errAt(ins.TablePos, pgerr.UndefinedColumn, "column %q of relation %q does not exist", name, t.Name)
			}
			if seen[idx] {
				return nil, errAt(ins.TablePos, pgerr.DuplicateColumn, "column %q specified more than once", name)
			}
			seen[idx] = true
			targets = append(targets, idx)
		}
	}
	var input Node
	var itemPos []sql.Pos // where each value comes from, for errors
	switch q := ins.Query.(type) {
	case *sql.Values:
		types := make([]datum.Type, len(targets))
		for i, ti := range targets {
			types[i] = t.Columns[ti].Type
		}
		if len(q.Rows) > 0 {
			for _, e := range q.Rows[0] {
				itemPos = append(itemPos, e.ExprPos())
			}
		}
		v, err := b.bindValues(q, nil, types)
		if err != nil {
			return nil, err
		}
		// Values kept each expression's own type; convert per row below.
		for i, row := range v.Rows {
			for j := range row {
				if j >= len(targets) {
					break
				}
				c, err := assignTo(row[j], t.Columns[targets[j]], q.Rows[i][j].ExprPos())
				if err != nil {
					return nil, err
				}
				row[j] = c
			}
		}
		input = v
	case *sql.Select:
		for _, it := range q.Items {
			itemPos = append(itemPos, it.Pos)
		}
		if input, err = b.bindQuery(q, nil); err != nil {
			return nil, err
		}
	default:
		if input, err = b.bindQuery(q, nil); err != nil {
			return nil, err
		}
	}
	if forJob {
		if err := checkJobNodes(input); err != nil {
			return nil, positioned(err, ins.TablePos)
		}
	}
	in := input.Schema()
	posOf := func(i int) sql.Pos {
		if i < len(itemPos) {
			return itemPos[i]
		}
		return ins.TablePos
	}
	if len(in) > len(targets) {
		return nil, errAt(posOf(len(targets)), pgerr.SyntaxError, "INSERT has more expressions than target columns")
	}
	if len(in) < len(targets) && len(ins.Columns) > 0 {
		return nil, errAt(ins.TablePos, pgerr.SyntaxError, "INSERT has more target columns than expressions")
	}
	// Project the input into the target's column order and types.
	exprs := make([]expr.Expr, len(t.Columns))
	for i, ti := range targets[:len(in)] {
		col := &expr.Col{Idx: i, Typ: in[i].Type, Name: in[i].Name}
		e, err := assignTo(col, t.Columns[ti], posOf(i))
		if err != nil {
			return nil, err
		}
		exprs[ti] = e
	}
	for i, c := range t.Columns {
		if exprs[i] != nil {
			continue
		}
		if c.NotNull {
			return nil, errAt(ins.TablePos, pgerr.NotNullViolation,
				"null value in column %q of %s %q violates not-null constraint", c.Name, t.Kind, t.Name).
				WithDetail("The INSERT gives no value for it.")
		}
		exprs[i] = &expr.Const{Val: datum.Null, Typ: c.Type}
	}
	return &Insert{Target: t, Input: &Project{Input: input, Exprs: exprs, Cols: catalogSchema(t.Columns)}}, nil
}

// checkJobNodes rejects what only batch queries support: set-returning
// functions. (Window functions reach the job compiler, which runs
// ROW_NUMBER() per event-time window and rejects the rest: stages_join.go.)
func checkJobNodes(n Node) error {
	switch n.(type) {
	case *SetFunc:
		return pgerr.New(pgerr.FeatureNotSupported, "set-returning functions are not supported in jobs")
	}
	for _, in := range n.Inputs() {
		if err := checkJobNodes(in); err != nil {
			return err
		}
	}
	return nil
}

func checkInsertTarget(t *catalog.Relation, forJob bool, pos sql.Pos) error {
	switch t.Kind {
	case catalog.RelTable:
		return nil
	case catalog.RelSink:
		if forJob {
			return nil
		}
		return errAt(pos, pgerr.WrongObjectType, "cannot insert into sink %q directly", t.Name).
			WithHint("A sink receives the output of a job: CREATE JOB ... AS INSERT INTO %s SELECT ...", t.Name)
	case catalog.RelSource:
		if forJob {
			return errAt(pos, pgerr.WrongObjectType, "a job cannot write into source %q", t.Name).
				WithHint("A job writes into a table or a sink.")
		}
		if c := t.Source.Connector(); c != "log" {
			return errAt(pos, pgerr.WrongObjectType, "cannot insert into source %q: its connector %q is read-only", t.Name, c)
		}
		return nil
	}
	return errAt(pos, pgerr.WrongObjectType, "cannot insert into %s %q", t.Kind, qualifiedName(t))
}

// assignTo converts e for storing in column col (PostgreSQL's assignment
// conversion), or fails with 42804 naming the column.
func assignTo(e expr.Expr, col catalog.Column, pos sql.Pos) (expr.Expr, error) {
	out, err := assignCast(e, col.Type)
	if err != nil {
		if pgerr.Code(err) == pgerr.DatatypeMismatch {
			return nil, errAt(pos, pgerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s",
				col.Name, pgTypeName(col.Type), pgTypeName(e.Type())).
				WithHint("You will need to rewrite or cast the expression.")
		}
		return nil, positioned(err, pos)
	}
	return out, nil
}

// assignCast converts e to type to as an assignment: untyped literals are
// parsed as to, numbers convert among themselves, anything converts to a
// string type, dates and timestamps among themselves. Other pairs are 42804.
func assignCast(e expr.Expr, to datum.Type) (expr.Expr, error) {
	from := e.Type()
	if from == to {
		return e, nil
	}
	if !assignable(from, to) {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "cannot assign a value of type %s to type %s", pgTypeName(from), pgTypeName(to))
	}
	if from != datum.TypeUnknown && from.Kind() == to.Kind() && from.Kind() == datum.KindString {
		return e, nil // TEXT and VARCHAR share a representation
	}
	return expr.ResolveCast(e, to)
}

// assignable reports whether PostgreSQL stores a value of type from in a
// column of type to without an explicit cast.
func assignable(from, to datum.Type) bool {
	if from == to || from == datum.TypeUnknown {
		return true
	}
	switch {
	case from.IsNumeric() && to.IsNumeric():
		return true
	case to == datum.TypeText || to == datum.TypeVarchar:
		return true
	}
	isTime := func(t datum.Type) bool {
		return t == datum.TypeTimestamp || t == datum.TypeTimestampTZ || t == datum.TypeDate
	}
	return isTime(from) && isTime(to)
}

// bindUpdate binds UPDATE table SET col = expr, ... [WHERE ...].
func (b *binder) bindUpdate(u *sql.Update) (*Update, error) {
	t, err := b.lookupRelation("", u.Table, sql.Pos{})
	if err != nil {
		return nil, err
	}
	if t.Kind != catalog.RelTable {
		return nil, pgerr.New(pgerr.WrongObjectType, "cannot update %s %q: only tables can be updated", t.Kind, t.Name)
	}
	scan := &Scan{Rel: t, Cols: catalogSchema(t.Columns)}
	sc := schemaScope(t.Name, scan.Cols)
	var input Node = scan
	if u.Where != nil {
		pred, err := (&exprCtx{b: b, sc: sc, clause: "WHERE"}).bindBool(u.Where, "WHERE")
		if err != nil {
			return nil, err
		}
		input = &Filter{Input: scan, Pred: pred}
	}
	n := &Update{Target: t, Input: input}
	seen := map[int]bool{}
	ctx := &exprCtx{b: b, sc: sc, clause: "UPDATE"}
	for _, a := range u.Set {
		idx := -1
		for i, c := range t.Columns {
			if c.Name == a.Column {
				idx = i
			}
		}
		if idx < 0 {
			return nil, errAt(a.Value.ExprPos(), pgerr.UndefinedColumn, "column %q of relation %q does not exist", a.Column, t.Name)
		}
		if seen[idx] {
			return nil, errAt(a.Value.ExprPos(), pgerr.SyntaxError, "multiple assignments to same column %q", a.Column)
		}
		seen[idx] = true
		v, err := ctx.bind(a.Value)
		if err != nil {
			return nil, err
		}
		if v, err = assignTo(v, t.Columns[idx], a.Value.ExprPos()); err != nil {
			return nil, err
		}
		if k, ok := v.(*expr.Const); ok && k.Val.IsNull() && t.Columns[idx].NotNull {
			return nil, errAt(a.Value.ExprPos(), pgerr.NotNullViolation,
				"null value in column %q of relation %q violates not-null constraint", a.Column, t.Name)
		}
		n.Cols = append(n.Cols, idx)
		n.Exprs = append(n.Exprs, v)
	}
	return n, nil
}

// bindDelete binds DELETE FROM table [WHERE ...].
func (b *binder) bindDelete(d *sql.Delete) (*Delete, error) {
	t, err := b.lookupRelation("", d.Table, sql.Pos{})
	if err != nil {
		return nil, err
	}
	if t.Kind != catalog.RelTable {
		return nil, pgerr.New(pgerr.WrongObjectType, "cannot delete from %s %q: only tables can be deleted from", t.Kind, t.Name)
	}
	scan := &Scan{Rel: t, Cols: catalogSchema(t.Columns)}
	var input Node = scan
	if d.Where != nil {
		pred, err := (&exprCtx{b: b, sc: schemaScope(t.Name, scan.Cols), clause: "WHERE"}).bindBool(d.Where, "WHERE")
		if err != nil {
			return nil, err
		}
		input = &Filter{Input: scan, Pred: pred}
	}
	return &Delete{Target: t, Input: input}, nil
}
