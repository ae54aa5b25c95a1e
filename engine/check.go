package engine

import (
	"context"

	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// Check parses-and-plans a statement without running it (weir check): DDL
// is applied (the session's engine is a scratch one), jobs are planned but
// not started, queries and DML are bound. It returns warnings for likely
// mistakes.
func (s *Session) Check(ctx context.Context, st sql.Statement) ([]error, error) {
	var err error
	var warnings []error
	switch n := st.(type) {
	case *sql.CreateSource, *sql.CreateTable, *sql.CreateSink, *sql.CreateTemplate, *sql.Drop, *sql.Set, *sql.Txn, *sql.Empty, *sql.Show:
		_, err = s.ExecStatement(ctx, st, nil)
	case *sql.CreateJob:
		ins := n.Insert
		with := n.With
		if n.FromTemplate != "" {
			t, terr := s.e.cat.GetTemplate(n.FromTemplate)
			if terr != nil {
				return nil, positioned(terr, st)
			}
			if ins, err = instantiateTemplate(t, n.With); err != nil {
				return nil, positioned(err, st)
			}
			with = nil
		}
		if ins == nil {
			return nil, nil
		}
		var plan *planner.JobPlan
		if plan, err = s.e.planJob(n.Name, ins, with); err == nil {
			warnings = planWarnings(plan, st)
		}
	case *sql.QueryStmt, *sql.Insert, *sql.Update, *sql.Delete:
		_, err = planner.BindStatement(resolver{s.e}, st)
	case *sql.Explain:
		_, err = s.ExecStatement(ctx, st, nil)
	}
	if err != nil {
		return warnings, positioned(err, st)
	}
	return warnings, nil
}

// planWarnings finds likely mistakes in a job plan.
func planWarnings(p *planner.JobPlan, st sql.Statement) []error {
	var out []error
	src := st.Source()
	warn := func(format string, args ...any) {
		e := pgerr.New("01000", format, args...)
		e.Line, e.Col = src.Start.Line, src.Start.Col
		out = append(out, e)
	}
	for _, stg := range p.Stages {
		for _, op := range stg.Ops {
			if a, ok := op.(*planner.AggOp); ok && !a.Partial {
				warn("job %s keeps a running aggregate per key without a window: its state grows with the number of keys", p.Job)
			}
		}
	}
	return out
}
