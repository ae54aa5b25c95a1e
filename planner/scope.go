package planner

import (
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// Resolver resolves the relation names a statement uses. *catalog.Catalog
// implements it for user sources, tables and sinks; the engine wraps the
// catalog to add its system tables (weir_jobs, pg_catalog.*, ...), returning
// them as catalog.RelSystem relations. A missing name is a 42P01 error.
//
// A Resolver that also implements FuncResolver supplies the function
// registry expressions are resolved against (version(), current_user and
// other engine functions); otherwise expr.Builtins() is used.
type Resolver interface {
	LookupRelation(schema, name string) (*catalog.Relation, error)
}

// FuncResolver is implemented by Resolvers that bring their own functions.
type FuncResolver interface {
	Funcs() *expr.Registry
}

// Every *catalog.Catalog is a Resolver.
var _ Resolver = (*catalog.Catalog)(nil)

// scopeCol is one column visible to name resolution.
type scopeCol struct {
	table  string // qualifier: the FROM item's alias or relation name ("" if none)
	name   string
	typ    datum.Type
	hidden bool // the right-hand copy of a USING/NATURAL column: only t.col finds it
	// fields are the fields of a record-valued column (see
	// binder.composites); nil for others.
	fields []plan.Column
}

// scope is the set of columns an expression can name: the output of a FROM
// clause (or of the node below), indexes matching that node's schema.
type scope struct {
	cols []scopeCol
	// outer is the enclosing query's scope: a name not found here is
	// looked up there (a correlated reference).
	outer *scope
}

func schemaScope(table string, s plan.Schema) *scope {
	sc := &scope{cols: make([]scopeCol, len(s))}
	for i, c := range s {
		sc.cols[i] = scopeCol{table: table, name: c.Name, typ: c.Type}
	}
	return sc
}

func (s *scope) hasTable(t string) bool {
	for _, c := range s.cols {
		if c.table == t {
			return true
		}
	}
	return false
}

// resolve finds the column ref names, with PostgreSQL's errors. A column
// of an enclosing query is an error here (0A000): expressions that may be
// correlated resolve through exprCtx, which turns such a reference into an
// OuterRef.
func (s *scope) resolve(ref *sql.ColumnRef) (*expr.Col, error) {
	c, depth, err := s.lookup(ref)
	if err != nil {
		return nil, err
	}
	if depth > 0 {
		return nil, errAt(ref.Pos, pgerr.FeatureNotSupported,
			"correlated subqueries are not supported here (column %s belongs to an enclosing query)", refString(ref))
	}
	return c, nil
}

// lookup finds the column ref names in s or, failing that, in the scopes
// of enclosing queries: depth is 0 for s, 1 for the query directly
// enclosing s's, and so on; the column's index is within that scope.
func (s *scope) lookup(ref *sql.ColumnRef) (*expr.Col, int, error) {
	c, err := s.resolveLocal(ref)
	if err == nil {
		return c, 0, nil
	}
	if code := pgerr.Code(err); code != pgerr.UndefinedColumn && code != pgerr.UndefinedTable {
		return nil, 0, err
	}
	depth := 1
	for o := s.outer; o != nil; o = o.outer {
		oc, oerr := o.resolveLocal(ref)
		if oerr == nil {
			return oc, depth, nil
		}
		if code := pgerr.Code(oerr); code != pgerr.UndefinedColumn && code != pgerr.UndefinedTable {
			return nil, 0, oerr
		}
		depth++
	}
	return nil, 0, err
}

// lookupCol returns the scope column ref names (here or in an enclosing
// scope), if any.
func (s *scope) lookupCol(ref *sql.ColumnRef) (scopeCol, bool) {
	for o := s; o != nil; o = o.outer {
		if c, err := o.resolveLocal(ref); err == nil {
			return o.cols[c.Idx], true
		}
	}
	return scopeCol{}, false
}

// resolveLocal finds the column ref names among s's own columns.
func (s *scope) resolveLocal(ref *sql.ColumnRef) (*expr.Col, error) {
	idx := -1
	for i, c := range s.cols {
		if c.name != ref.Name {
			continue
		}
		if ref.Table != "" && c.table != ref.Table {
			continue
		}
		if ref.Table == "" && c.hidden {
			continue
		}
		if idx >= 0 {
			return nil, errAt(ref.Pos, pgerr.AmbiguousColumn, "column reference %q is ambiguous", refString(ref))
		}
		idx = i
	}
	if idx >= 0 {
		c := s.cols[idx]
		name := c.name
		// Qualify a name that another column shares, so plans read
		// unambiguously: (d.site = s.site).
		for i, o := range s.cols {
			if i != idx && o.name == c.name && c.table != "" && c.table != "$window" {
				name = c.table + "." + c.name
				break
			}
		}
		return &expr.Col{Idx: idx, Typ: c.typ, Name: name}, nil
	}
	if ref.Table != "" {
		if !s.hasTable(ref.Table) {
			return nil, errAt(ref.Pos, pgerr.UndefinedTable, "missing FROM-clause entry for table %q", ref.Table)
		}
		return nil, errAt(ref.Pos, pgerr.UndefinedColumn, "column %s does not exist", refString(ref))
	}
	return nil, errAt(ref.Pos, pgerr.UndefinedColumn, "column %q does not exist", ref.Name)
}

// corrFrame is a subquery being bound: the scope it is nested in, and the
// values of that scope's row its plan reads (Subquery.Outer).
type corrFrame struct {
	outer      *scope
	cols       []expr.Expr
	keys       map[string]int
	correlated bool
}

// outerRef makes the reference to column c of the scope depth levels out
// (see scope.lookup): it becomes an entry of the Outer list of the
// subquery bound in that scope, and every subquery from there in is
// correlated.
func (b *binder) outerRef(depth int, c *expr.Col, ref *sql.ColumnRef) (expr.Expr, error) {
	if depth > len(b.frames) {
		return nil, errAt(ref.Pos, pgerr.FeatureNotSupported,
			"correlated subqueries are not supported here (column %s belongs to an enclosing query)", refString(ref))
	}
	f := b.frames[len(b.frames)-depth]
	k := exprKey(c)
	i, ok := f.keys[k]
	if !ok {
		f.cols = append(f.cols, c)
		i = len(f.cols) - 1
		f.keys[k] = i
	}
	for _, g := range b.frames[len(b.frames)-depth:] {
		g.correlated = true
	}
	return &OuterRef{Depth: depth, Idx: i, Typ: c.Typ, Name: c.Name}, nil
}

func refString(r *sql.ColumnRef) string {
	if r.Table != "" {
		return r.Table + "." + r.Name
	}
	return r.Name
}

// errAt returns a pgerr positioned at p.
func errAt(p sql.Pos, code, format string, args ...any) *pgerr.Error {
	return positioned(pgerr.New(code, format, args...), p)
}

// positioned returns err (made a *pgerr.Error) at p, unless it already has a
// position.
func positioned(err error, p sql.Pos) *pgerr.Error {
	e := pgerr.Wrap(err)
	if e.Pos != 0 || p.Offset == 0 {
		return e
	}
	e = e.WithPos(p.Offset)
	e.Line, e.Col = p.Line, p.Col
	return e
}
