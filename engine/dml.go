package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/query"
	"github.com/weir-sql/weir/sql"
	"github.com/weir-sql/weir/table"
)

func (s *Session) queryEnv(params []datum.Datum) *query.Env {
	e := s.e
	return &query.Env{Scan: e.scanRelation, Lookup: e.lookupRow, Params: params, Now: e.Now, Funcs: e.funcs, Settings: s.Setting}
}

// lookupRow reads the row of a keyed table with the given primary key, for
// point queries.
func (e *Engine) lookupRow(_ context.Context, rel *catalog.Relation, key datum.Row) (datum.Row, bool, error) {
	return table.Get(e.store, rel.ID, key)
}

func resultColumns(sc planner.Schema) []Column {
	cols := make([]Column, len(sc))
	for i, c := range sc {
		cols[i] = Column{Name: c.Name, Type: c.Type}
	}
	return cols
}

func (s *Session) bind(st sql.Statement, paramTypes []datum.Type) (planner.Node, error) {
	if len(paramTypes) > 0 {
		if q, ok := st.(*sql.QueryStmt); ok {
			return planner.BindQueryWith(resolver{s.e}, q.Query, planner.BindOptions{ParamTypes: paramTypes})
		}
	}
	return planner.BindStatement(resolver{s.e}, st)
}

func (s *Session) query(ctx context.Context, n *sql.QueryStmt, params []datum.Datum) (*Result, error) {
	if s.WaitForBoundedJobs {
		if err := s.waitBounded(ctx); err != nil {
			return nil, err
		}
	}
	node, err := s.bind(n, nil)
	if err != nil {
		return nil, err
	}
	return s.runQuery(ctx, node, params)
}

func (s *Session) runQuery(ctx context.Context, node planner.Node, params []datum.Datum) (*Result, error) {
	rows, err := query.Run(ctx, node, s.queryEnv(params))
	if err != nil {
		return nil, err
	}
	return &Result{Columns: resultColumns(node.Schema()), Rows: rows, Tag: fmt.Sprintf("SELECT %d", len(rows))}, nil
}

func (s *Session) insert(ctx context.Context, n *sql.Insert, params []datum.Datum) (*Result, error) {
	node, err := planner.BindStatement(resolver{s.e}, n)
	if err != nil {
		return nil, err
	}
	mode := conflictError
	if oc := n.OnConflict; oc != nil {
		if !oc.DoNothing {
			return nil, pgerr.New(pgerr.FeatureNotSupported, "INSERT ... ON CONFLICT DO UPDATE is not supported").
				WithHint("Use ON CONFLICT DO NOTHING, or UPDATE the row.")
		}
		mode = conflictSkip
	}
	return s.runInsert(ctx, node.(*planner.Insert), params, mode)
}

func (s *Session) runInsert(ctx context.Context, ins *planner.Insert, params []datum.Datum, mode conflictMode) (*Result, error) {
	rows, err := query.Run(ctx, ins.Input, s.queryEnv(params))
	if err != nil {
		return nil, err
	}
	n, err := s.e.writeRows(ins.Target, rows, mode)
	if err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("INSERT 0 %d", n)}, nil
}

// conflictMode says what an INSERT does with a row whose primary key a
// keyed table already holds.
type conflictMode uint8

const (
	conflictError conflictMode = iota // 23505, as PostgreSQL
	conflictSkip                      // ON CONFLICT DO NOTHING
)

// checkNotNull enforces NOT NULL columns.
func checkNotNull(rel *catalog.Relation, rows []datum.Row) error {
	for _, r := range rows {
		for i, c := range rel.Columns {
			if c.NotNull && (i >= len(r) || r[i].IsNull()) {
				return pgerr.New(pgerr.NotNullViolation, "null value in column %q of relation %q violates not-null constraint", c.Name, rel.Name)
			}
		}
	}
	return nil
}

// writeRows durably writes full rows into a log source or a table and
// returns how many it wrote, once they are synced. Rows whose primary key a
// keyed table already holds fail the whole write with 23505, or are
// skipped with conflictSkip.
func (e *Engine) writeRows(rel *catalog.Relation, rows []datum.Row, mode conflictMode) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	if err := checkNotNull(rel, rows); err != nil {
		return 0, err
	}
	switch rel.Kind {
	case catalog.RelSource:
		if rel.Source.Connector() != "log" {
			return 0, pgerr.New(pgerr.WrongObjectType, "cannot INSERT into %s source %s: only log sources accept rows", rel.Source.Connector(), rel.Name)
		}
		lay, err := connector.LogLayoutOf(rel.Source.Options, connectorColumns(rel.Columns))
		if err != nil {
			return 0, err
		}
		return len(rows), e.logs.AppendSpread(rel.ID, lay, rows)
	case catalog.RelTable:
		b := e.store.NewBatch()
		pk := rel.Table.PrimaryKey
		written := 0
		seen := map[string]bool{}
		for _, r := range rows {
			if len(pk) > 0 {
				key := table.KeyOf(rel.ID, pk, r)
				_, exists, err := e.store.Get(key)
				if err != nil {
					return 0, err
				}
				if exists || seen[string(key)] {
					if mode == conflictSkip {
						continue
					}
					return 0, pgerr.New(pgerr.UniqueViolation, "duplicate key value violates unique constraint \"%s_pkey\"", rel.Name).
						WithDetail("Key %s already exists.", keyText(rel, r))
				}
				seen[string(key)] = true
				table.Upsert(b, rel.ID, pk, r)
			} else {
				table.Append(b, rel.ID, e.writer, e.nextSeq(), r)
			}
			written++
		}
		return written, e.store.Commit(b)
	}
	return 0, pgerr.New(pgerr.WrongObjectType, "cannot INSERT into %s %s", rel.Kind, rel.Name)
}

// keyText prints a row's primary key as PostgreSQL's 23505 detail does:
// (a, b)=(1, x).
func keyText(rel *catalog.Relation, r datum.Row) string {
	var names, vals []string
	for _, c := range rel.Table.PrimaryKey {
		names = append(names, rel.Columns[c].Name)
		vals = append(vals, r[c].Format())
	}
	return "(" + strings.Join(names, ", ") + ")=(" + strings.Join(vals, ", ") + ")"
}

func (e *Engine) nextSeq() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.seq++
	return e.mu.seq
}

// matchRows returns the storage keys and rows of the table rows an UPDATE
// or DELETE selects (its Input is a scan of the table, maybe filtered).
func (s *Session) matchRows(ctx context.Context, rel *catalog.Relation, input planner.Node, params []datum.Datum) ([][]byte, []datum.Row, error) {
	var pred func(datum.Row) (bool, error)
	switch in := input.(type) {
	case *planner.Scan:
	case *planner.Filter:
		if _, ok := in.Input.(*planner.Scan); !ok {
			return nil, nil, pgerr.New(pgerr.FeatureNotSupported, "UPDATE/DELETE with this WHERE clause is not supported")
		}
		p, err := query.CompilePredicate(ctx, in.Pred, s.queryEnv(params))
		if err != nil {
			return nil, nil, err
		}
		pred = p
	default:
		return nil, nil, pgerr.New(pgerr.FeatureNotSupported, "UPDATE/DELETE with this WHERE clause is not supported")
	}
	var keys [][]byte
	var rows []datum.Row
	err := table.Scan(s.e.store, rel.ID, func(k []byte, r datum.Row) error {
		if pred != nil {
			ok, err := pred(r)
			if err != nil || !ok {
				return err
			}
		}
		keys = append(keys, append([]byte(nil), k...))
		rows = append(rows, r)
		return ctx.Err()
	})
	return keys, rows, err
}

func (s *Session) update(ctx context.Context, n *sql.Update, params []datum.Datum) (*Result, error) {
	node, err := planner.BindStatement(resolver{s.e}, n)
	if err != nil {
		return nil, err
	}
	up := node.(*planner.Update)
	keys, rows, err := s.matchRows(ctx, up.Target, up.Input, params)
	if err != nil {
		return nil, err
	}
	evals := make([]expr.Evaluator, len(up.Exprs))
	for i, x := range up.Exprs {
		if evals[i], err = query.Compile(ctx, x, s.queryEnv(params)); err != nil {
			return nil, err
		}
	}
	b := s.e.store.NewBatch()
	pk := up.Target.Table.PrimaryKey
	newRows := make([]datum.Row, len(rows))
	for i, r := range rows {
		nr := r.Copy()
		for j, c := range up.Cols {
			if nr[c], err = evals[j](r); err != nil {
				return nil, err
			}
		}
		newRows[i] = nr
	}
	if err := checkNotNull(up.Target, newRows); err != nil {
		return nil, err
	}
	for i, nr := range newRows {
		if len(pk) > 0 {
			b.Delete(keys[i])
			table.Upsert(b, up.Target.ID, pk, nr)
		} else {
			b.Set(keys[i], datum.AppendRow(nil, nr))
		}
	}
	if err := s.e.store.Commit(b); err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("UPDATE %d", len(rows))}, nil
}

func (s *Session) delete(ctx context.Context, n *sql.Delete, params []datum.Datum) (*Result, error) {
	node, err := planner.BindStatement(resolver{s.e}, n)
	if err != nil {
		return nil, err
	}
	del := node.(*planner.Delete)
	keys, _, err := s.matchRows(ctx, del.Target, del.Input, params)
	if err != nil {
		return nil, err
	}
	b := s.e.store.NewBatch()
	for _, k := range keys {
		b.Delete(k)
	}
	if err := s.e.store.Commit(b); err != nil {
		return nil, err
	}
	return &Result{Tag: fmt.Sprintf("DELETE %d", len(keys))}, nil
}
