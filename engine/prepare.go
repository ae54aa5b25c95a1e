package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// Prepare parses and binds one statement for the extended protocol.
func (s *Session) Prepare(ctx context.Context, text string, paramTypes []datum.Type) (*Prepared, error) {
	st, err := sql.ParseOne(text)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Stmt: st}
	switch n := st.(type) {
	case *sql.QueryStmt, *sql.Insert, *sql.Update, *sql.Delete:
		node, err := s.bind(st, paramTypes)
		if err != nil {
			return nil, positioned(err, st)
		}
		p.ParamTypes = paramTypesOf(node, paramTypes)
		if _, ok := st.(*sql.QueryStmt); ok {
			p.Columns = resultColumns(node.Schema())
		}
	case *sql.Show:
		r, err := s.show(ctx, n)
		if err != nil {
			return nil, err
		}
		p.Columns = r.Columns
	case *sql.Explain:
		p.Columns = []Column{{"QUERY PLAN", datum.TypeText}}
	}
	return p, nil
}

// ExecPrepared runs a prepared statement with parameter values.
func (s *Session) ExecPrepared(ctx context.Context, p *Prepared, params []datum.Datum) (*Result, error) {
	return s.ExecStatement(ctx, p.Stmt, params)
}

// paramTypesOf collects the types the binder gave $1..$n.
func paramTypesOf(node planner.Node, declared []datum.Type) []datum.Type {
	types := append([]datum.Type(nil), declared...)
	see := func(e expr.Expr) {
		if e == nil {
			return
		}
		expr.Walk(e, func(x expr.Expr) bool {
			if p, ok := x.(*expr.Param); ok {
				for len(types) < p.Index {
					types = append(types, datum.TypeUnknown)
				}
				if types[p.Index-1] == datum.TypeUnknown {
					types[p.Index-1] = p.Typ
				}
			}
			return true
		})
	}
	var visit func(n planner.Node)
	visit = func(n planner.Node) {
		switch x := n.(type) {
		case *planner.Filter:
			see(x.Pred)
		case *planner.Project:
			for _, e := range x.Exprs {
				see(e)
			}
		case *planner.Values:
			for _, r := range x.Rows {
				for _, e := range r {
					see(e)
				}
			}
		case *planner.Join:
			see(x.On)
		case *planner.Limit:
			see(x.Count)
			see(x.Offset)
		case *planner.Aggregate:
			for _, e := range x.GroupBy {
				see(e)
			}
			for _, a := range x.Aggs {
				see(a.Arg)
			}
		case *planner.Update:
			for _, e := range x.Exprs {
				see(e)
			}
		}
		for _, in := range n.Inputs() {
			visit(in)
		}
	}
	visit(node)
	for i, t := range types {
		if t == datum.TypeUnknown {
			types[i] = datum.TypeText
		}
	}
	return types
}

// copyIn collects COPY rows and writes them on Close.
type copyIn struct {
	s    *Session
	rel  *catalog.Relation
	cols []Column
	idx  []int // copy column -> relation column
	rows []datum.Row
}

// BeginCopy starts COPY table [(cols)] FROM STDIN into a log source or a
// table.
func (s *Session) BeginCopy(ctx context.Context, n *sql.Copy) (CopyIn, error) {
	if !n.From {
		return nil, pgerr.New(pgerr.FeatureNotSupported, "COPY ... TO STDOUT is not supported")
	}
	rel, err := resolver{s.e}.LookupRelation("", n.Table)
	if err != nil {
		return nil, err
	}
	if rel.Kind != catalog.RelTable && rel.Kind != catalog.RelSource {
		return nil, pgerr.New(pgerr.WrongObjectType, "cannot COPY into %s %s", rel.Kind, rel.Name)
	}
	c := &copyIn{s: s, rel: rel}
	names := n.Columns
	if len(names) == 0 {
		for _, col := range rel.Columns {
			names = append(names, col.Name)
		}
	}
	for _, name := range names {
		found := -1
		for i, col := range rel.Columns {
			if strings.EqualFold(col.Name, name) {
				found = i
			}
		}
		if found < 0 {
			return nil, pgerr.New(pgerr.UndefinedColumn, "column %q of relation %q does not exist", name, rel.Name)
		}
		c.idx = append(c.idx, found)
		c.cols = append(c.cols, Column{Name: rel.Columns[found].Name, Type: rel.Columns[found].Type})
	}
	return c, nil
}

func (c *copyIn) Columns() []Column { return c.cols }

func (c *copyIn) Write(rows []datum.Row) error {
	for _, r := range rows {
		if len(r) != len(c.idx) {
			return pgerr.New(pgerr.BadCopyFileFormat, "row has %d columns, COPY expects %d", len(r), len(c.idx))
		}
		full := make(datum.Row, len(c.rel.Columns))
		for i, j := range c.idx {
			full[j] = r[i]
		}
		c.rows = append(c.rows, full)
	}
	return nil
}

func (c *copyIn) Close() (*Result, error) {
	n, err := c.s.e.writeRows(c.rel, c.rows, conflictError)
	if err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("COPY %d", n)}, nil
}

func (c *copyIn) Abort() { c.rows = nil }
