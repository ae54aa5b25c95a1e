package engine

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
)

// This file is weir check: parse-and-plan a script without running it.
// A Checker walks a script's statements in order on a scratch engine (an
// in-memory store that nothing else uses): DDL is applied so that later
// statements bind against it, jobs are planned but never started, queries
// and DML are bound but not run. The jobs, their plans and the snapshots a
// script defines are tracked by the Checker itself (the engine never sees
// them), so DRAIN JOB, ALTER JOB, EXPLAIN JOB and CREATE JOB FROM SNAPSHOT
// are checked against what the script did before them.
//
// The lifecycle rules are the engine's (lifecycle.go): ALTER JOB, CREATE
// JOB FROM SNAPSHOT and relaunching a drained or cancelled name carry the
// old launch's state, and are refused (55000) when its stateful operators
// cannot carry it (checkCarry); ALTER JOB without WITH keeps the job's
// options; DROP JOB forgets a name's lineage.
//
// Besides errors, a check reports warnings (SQLSTATE 01000) for jobs that
// plan but are probably wrong; warner.plan and warner.joins list them.

// WarningCode is the SQLSTATE of weir check's warnings (PostgreSQL's
// "warning" class).
const WarningCode = "01000"

// Checker checks the statements of one script, in order. It is used by one
// goroutine; its engine should be a scratch one (weir check opens one per
// file on an in-memory store).
type Checker struct {
	s *Session
	// jobs are the jobs the script created so far, by name, with their
	// plans; live is false once drained, cancelled or dropped.
	jobs map[string]*checkedJob
	// snapshots are the snapshots the script created so far, with the job
	// each one was taken of, as it was then.
	snapshots map[string]*checkedJob
}

// checkedJob is the newest launch of a job name in a script.
type checkedJob struct {
	plan *plan.JobPlan
	with []sql.Option // its WITH options
	live bool         // false once drained or cancelled
}

// NewChecker returns a Checker running on a new session of e.
func (e *Engine) NewChecker() *Checker {
	return &Checker{s: e.NewSession(), jobs: map[string]*checkedJob{}, snapshots: map[string]*checkedJob{}}
}

// Close releases the checker's session.
func (c *Checker) Close() { c.s.Close() }

// Check checks one statement. It returns the statement's error (positioned
// in the script: Line and Col set when known) and its warnings (code
// WarningCode, positioned too).
func (c *Checker) Check(ctx context.Context, st sql.Statement) (warnings []*pgerr.Error, err error) {
	warnings, err = c.check(ctx, st)
	if err != nil {
		err = atStatement(positioned(err, st), st)
	}
	return warnings, err
}

func (c *Checker) check(ctx context.Context, st sql.Statement) ([]*pgerr.Error, error) {
	warnings, err := c.checkStmt(ctx, st)
	if err != nil {
		// Errors about a WITH option point at the option.
		switch n := st.(type) {
		case *sql.CreateSource:
			err = atOption(err, n.With)
		case *sql.CreateSink:
			err = atOption(err, n.With)
		case *sql.CreateJob:
			err = atOption(err, n.With)
		}
	}
	return warnings, err
}

// atOption positions an error that has no position at the WITH option its
// message names (`option "x"`, `parameter "x"`, or the connector).
func atOption(err error, with []sql.Option) error {
	pe := pgerr.Wrap(err)
	if pe.Line > 0 || pe.Pos > 0 {
		return err
	}
	for _, o := range with {
		named := strings.Contains(pe.Message, `"`+o.Key+`"`) || strings.Contains(pe.Message, `'`+o.Key+`'`) ||
			strings.Contains(pe.Message, "option "+o.Key+" ") || strings.Contains(pe.Message, "option "+o.Key+":")
		if named || (o.Key == "connector" && strings.Contains(pe.Message, "connector")) {
			c := *pe
			c.Line, c.Col = o.Pos.Line, o.Pos.Col
			return &c
		}
	}
	return err
}

func (c *Checker) checkStmt(ctx context.Context, st sql.Statement) ([]*pgerr.Error, error) {
	e := c.s.e
	switch n := st.(type) {
	case *sql.CreateSource:
		return c.checkCreateSource(ctx, n)
	case *sql.CreateTable, *sql.CreateSink, *sql.Set, *sql.Txn, *sql.Empty, *sql.Show, *sql.Copy:
		_, err := c.s.ExecStatement(ctx, st, nil)
		return nil, err
	case *sql.CreateTemplate:
		if _, err := c.s.ExecStatement(ctx, st, nil); err != nil {
			return nil, err
		}
		return c.checkTemplateBody(n)
	case *sql.Drop:
		return nil, c.checkDrop(ctx, n)
	case *sql.CreateJob:
		return c.checkCreateJob(n)
	case *sql.JobControl:
		j, err := c.liveJob(n.Name)
		if err != nil {
			return nil, err
		}
		j.live = false
		return nil, nil
	case *sql.CreateSnapshot:
		j, err := c.liveJob(n.Job)
		if err != nil {
			return nil, err
		}
		if _, dup := c.snapshots[n.Name]; dup {
			return nil, pgerr.New(pgerr.DuplicateObject, "snapshot %q already exists", n.Name)
		}
		c.snapshots[n.Name] = &checkedJob{plan: j.plan, with: j.with}
		return nil, nil
	case *sql.AlterJob:
		return c.checkAlter(n, true)
	case *sql.Explain:
		switch {
		case n.Update != nil:
			return c.checkAlter(n.Update, false)
		case n.Job != "":
			if _, ok := c.jobs[n.Job]; !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", n.Job)
			}
			return nil, nil
		}
		if cj, ok := n.Stmt.(*sql.CreateJob); ok {
			if cj.Insert == nil {
				return nil, pgerr.New(pgerr.FeatureNotSupported, "EXPLAIN CREATE JOB needs AS INSERT ...")
			}
			_, err := e.planJob(cj.Name, cj.Insert, cj.With)
			return nil, err
		}
		_, err := planner.BindStatement(resolver{e}, n.Stmt)
		return nil, err
	case *sql.QueryStmt, *sql.Insert, *sql.Update, *sql.Delete:
		_, err := planner.BindStatement(resolver{e}, st)
		return nil, err
	}
	return nil, pgerr.New(pgerr.FeatureNotSupported, "statement %s is not supported", stmtName(st))
}

// checkCreateSource creates a source on the scratch engine. A file source
// whose file cannot be opened is a warning, not an error: a job file is
// often checked where its data is not (CI), and the file source's data is
// read at run time. The source is then created over an empty file so that
// the statements after it can be checked.
func (c *Checker) checkCreateSource(ctx context.Context, n *sql.CreateSource) ([]*pgerr.Error, error) {
	_, err := c.s.ExecStatement(ctx, n, nil)
	if err == nil || pgerr.Code(err) != "58P01" {
		return nil, err
	}
	stand := *n
	stand.With = nil
	at := n.Start
	jsonl := false
	for _, o := range n.With {
		switch o.Key {
		case "path":
			at = o.Pos
			o.Value = os.DevNull
		case "header":
			continue
		case "format":
			f := strings.ToLower(strings.TrimSpace(o.Value))
			jsonl = f == "jsonl" || f == "json" || f == "ndjson"
		}
		stand.With = append(stand.With, o)
	}
	if !jsonl {
		stand.With = append(stand.With, sql.Option{Key: "header", Value: "false"})
	}
	if _, err2 := c.s.ExecStatement(ctx, &stand, nil); err2 != nil {
		return nil, err
	}
	w := pgerr.New(WarningCode, "source %s: %s; its data is not checked", n.Name, pgerr.Wrap(err).Message)
	w.Line, w.Col = at.Line, at.Col
	return []*pgerr.Error{w}, nil
}

// liveJob returns the script's live job called name, or the error DRAIN JOB
// and friends would give.
func (c *Checker) liveJob(name string) (*checkedJob, error) {
	j, ok := c.jobs[name]
	switch {
	case !ok:
		return nil, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", name)
	case !j.live:
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is not running", name)
	}
	return j, nil
}

func (c *Checker) checkDrop(ctx context.Context, n *sql.Drop) error {
	kind := strings.ToUpper(n.Kind)
	switch kind {
	case "JOB":
		j, ok := c.jobs[n.Name]
		switch {
		case !ok && n.IfExists:
			return nil
		case !ok:
			return pgerr.New(pgerr.UndefinedObject, "job %q does not exist", n.Name)
		case j.live:
			return pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is running", n.Name).WithHint("DRAIN JOB or CANCEL JOB %s first", n.Name)
		}
		delete(c.jobs, n.Name)
		return nil
	case "SNAPSHOT":
		if _, ok := c.snapshots[n.Name]; !ok && !n.IfExists {
			return pgerr.New(pgerr.UndefinedObject, "snapshot %q does not exist", n.Name)
		}
		delete(c.snapshots, n.Name)
		return nil
	case "SOURCE", "TABLE", "SINK":
		for name, j := range c.jobs {
			if j.live && usesRelation(j.plan.SQL, n.Name) {
				return pgerr.New(pgerr.ObjectNotInPrerequisiteState, "cannot drop %s %s because job %s uses it", strings.ToLower(kind), n.Name, name).
					WithHint("DRAIN JOB or CANCEL JOB %s first", name)
			}
		}
	}
	_, err := c.s.ExecStatement(ctx, n, nil)
	return err
}

func (c *Checker) checkCreateJob(n *sql.CreateJob) ([]*pgerr.Error, error) {
	e := c.s.e
	prev, hasPrev := c.jobs[n.Name]
	if hasPrev && prev.live {
		return nil, pgerr.New(pgerr.DuplicateObject, "job %q is already running", n.Name).
			WithHint("DRAIN JOB or CANCEL JOB %s first, or ALTER JOB %s UPDATE AS ... to replace it", n.Name, n.Name)
	}
	ins, with := n.Insert, n.With
	template := ""
	var snap *checkedJob
	switch {
	case n.FromTemplate != "":
		t, err := e.cat.GetTemplate(n.FromTemplate)
		if err != nil {
			return nil, err
		}
		if ins, err = instantiateTemplate(t, n.With); err != nil {
			return nil, err
		}
		template, with = t.Name, nil
	case n.FromSnapshot != "":
		var ok bool
		if snap, ok = c.snapshots[n.FromSnapshot]; !ok {
			return nil, pgerr.New(pgerr.UndefinedObject, "snapshot %q does not exist", n.FromSnapshot)
		}
		if ins == nil {
			// Restored as it was: the snapshot's job.
			c.jobs[n.Name] = &checkedJob{plan: snap.plan, with: snap.with, live: true}
			return nil, nil
		}
		if len(with) == 0 {
			with = snap.with
		}
	}
	// A job made from a template gets no warnings of its own: they were
	// reported once, at the template (which the script defined, or the
	// scratch engine would not know it).
	w := &warner{c: c, who: "job " + n.Name, quiet: template != ""}
	// Join warnings come from the statement itself, so they are reported
	// even when the job does not plan (a join the planner does not support
	// yet still deserves its time bound).
	jplan, err := e.planJob(n.Name, ins, with)
	w.joinWarnings(jplan, ins)
	if err != nil {
		if template != "" {
			return w.out, inTemplate(err, template)
		}
		return w.out, err
	}
	switch {
	case snap != nil:
		// A restore into a changed query is checked as an update.
		if _, err := checkCarry("restore", n.Name, snap.plan, jplan, nil,
			fmt.Sprintf("The new query must keep the stateful operators of snapshot %s, as an update would.", n.FromSnapshot)); err != nil {
			return w.out, err
		}
	case hasPrev:
		// A relaunch of a drained or cancelled name continues it.
		if _, err := checkCarry("continue", n.Name, prev.plan, jplan, nil,
			fmt.Sprintf("The job %s was drained or cancelled; a new launch continues it and must keep its stateful operators. DROP JOB %s first to start from scratch.", n.Name, n.Name)); err != nil {
			return w.out, err
		}
	}
	c.jobs[n.Name] = &checkedJob{plan: jplan, with: with, live: true}
	w.plan(jplan, ins, with)
	return w.out, nil
}

// checkAlter checks ALTER JOB name UPDATE AS ... (apply) or its EXPLAIN:
// the new job must plan and pass the update compatibility check against
// the script's earlier definition of the job.
func (c *Checker) checkAlter(n *sql.AlterJob, apply bool) ([]*pgerr.Error, error) {
	j, err := c.liveJob(n.Name)
	if err != nil {
		return nil, err
	}
	w := &warner{c: c, who: "job " + n.Name}
	with := n.With
	if len(with) == 0 {
		with = j.with // an update keeps the job's options
	}
	jplan, err := c.s.e.planJob(n.Name, n.Insert, with)
	if apply {
		w.joinWarnings(jplan, n.Insert)
	}
	if err != nil {
		return w.out, err
	}
	if _, err := checkCarry("update", n.Name, j.plan, jplan, mappingOf(n.Mapping), fmt.Sprintf(updateHint, n.Name)); err != nil {
		return w.out, err
	}
	if !apply {
		return nil, nil
	}
	j.plan, j.with = jplan, with
	w.plan(jplan, n.Insert, with)
	return w.out, nil
}

// checkTemplateBody checks a template's body, which CREATE TEMPLATE only
// stores: each ${param} is replaced by a sample value of the parameter's
// type, written as CREATE JOB ... FROM TEMPLATE writes values
// (instantiateTemplate), and the resulting job is planned (but not
// recorded). Errors are positioned in the body as written.
func (c *Checker) checkTemplateBody(n *sql.CreateTemplate) ([]*pgerr.Error, error) {
	params := map[string]string{}
	for _, p := range n.Params {
		params[p.Name] = sampleParam(p.Type)
	}
	stmts, errs := sql.ParseScript(n.Body, sql.ParseOptions{Params: params})
	if len(errs) > 0 {
		return nil, inBody(errs[0], n)
	}
	if len(stmts) != 1 {
		return nil, posErr(n.BodyPos, pgerr.SyntaxError, "template %s: the body must be one INSERT INTO ... SELECT statement", n.Name)
	}
	ins, ok := stmts[0].(*sql.Insert)
	if !ok {
		return nil, posErr(n.BodyPos, pgerr.SyntaxError, "template %s: the body must be an INSERT INTO ... SELECT statement", n.Name)
	}
	// Warnings are reported where the template is defined, once, not at
	// every CREATE JOB FROM TEMPLATE.
	w := &warner{c: c, who: "template " + n.Name}
	jplan, err := c.s.e.planJob(n.Name, ins, nil)
	w.joinWarnings(jplan, ins)
	if err == nil {
		w.plan(jplan, ins, nil)
	}
	for _, x := range w.out {
		inBodyPos(x, n)
	}
	if err != nil {
		return w.out, inBody(positioned(err, ins), n)
	}
	return w.out, nil
}

// sampleParam is a value of type t as a template parameter's text: quoted
// for strings, times and intervals (a positive interval, so that it works
// as a window size), plain for numbers and booleans.
func sampleParam(t datum.Type) string {
	switch t.Kind() {
	case datum.KindBool:
		return "true"
	case datum.KindInt, datum.KindFloat:
		return "1"
	case datum.KindString:
		return "'x'"
	case datum.KindTimestamp:
		return "'2000-01-01 00:00:00'"
	case datum.KindDate:
		return "'2000-01-01'"
	case datum.KindInterval:
		return "'1 second'"
	}
	return fmt.Sprintf("CAST(NULL AS %s)", t)
}

// inBody repositions an error found in a template's body (Line/Col
// relative to the body) in the script.
func inBody(err error, n *sql.CreateTemplate) error {
	pe := pgerr.Wrap(err)
	c := *pe
	c.Message = fmt.Sprintf("template %s: %s", n.Name, pe.Message)
	inBodyPos(&c, n)
	return &c
}

func inBodyPos(pe *pgerr.Error, n *sql.CreateTemplate) {
	pe.Pos = 0
	switch {
	case pe.Line == 0:
		pe.Line, pe.Col = n.BodyPos.Line, n.BodyPos.Col
	case pe.Line == 1:
		pe.Line, pe.Col = n.BodyPos.Line, n.BodyPos.Col+pe.Col-1
	default:
		pe.Line += n.BodyPos.Line - 1
	}
}

// inTemplate marks an error found in a job instantiated from a template:
// its position refers to the instantiated text, not the script, so it is
// dropped (the error is reported at the CREATE JOB).
func inTemplate(err error, template string) error {
	pe := pgerr.Wrap(err)
	c := *pe
	c.Pos, c.Line, c.Col = 0, 0, 0
	c.Message = fmt.Sprintf("template %s: %s", template, pe.Message)
	return &c
}

// atStatement positions an error that has no position at its statement.
func atStatement(err error, st sql.Statement) error {
	pe := pgerr.Wrap(err)
	if pe.Line > 0 {
		return pe
	}
	c := *pe
	c.Line, c.Col = st.Source().Start.Line, st.Source().Start.Col
	return &c
}

// warner collects the warnings of one job.
type warner struct {
	c     *Checker
	who   string // "job NAME" or "template NAME"
	quiet bool   // drop the warnings
	out   []*pgerr.Error
}

func (w *warner) warn(at sql.Pos, hint, format string, args ...any) {
	if w.quiet {
		return
	}
	e := pgerr.New(WarningCode, format, args...)
	e.Line, e.Col = at.Line, at.Col
	if hint != "" {
		e.Hint = hint
	}
	w.out = append(w.out, e)
}

// plan finds likely mistakes in a job's plan:
//
//   - a non-windowed aggregation keeps state for every group forever;
//   - a job writing a windowed (or continuous) aggregation to a table whose
//     PRIMARY KEY does not cover the window and the group columns: upserts
//     of different windows or groups overwrite each other;
//   - a continuous aggregation into a table without a key appends a row per
//     update, and so do EARLY and LATE panes;
//   - allowed_lateness or emit_early on a job without windows does nothing.
func (w *warner) plan(p *plan.JobPlan, ins *sql.Insert, with []sql.Option) {
	sel, _ := ins.Query.(*sql.Select)
	stmtPos := ins.Start
	var agg plan.Op
	aggStage := -1
	var sink *plan.SinkOp
	sinkStage := -1
	for si, stg := range p.Stages {
		for _, op := range stg.Ops {
			switch o := op.(type) {
			case *plan.WindowAggOp:
				if !o.Partial {
					agg, aggStage = o, si
				}
			case *plan.AggOp:
				if !o.Partial {
					agg, aggStage = o, si
				}
			case *plan.SinkOp:
				sink, sinkStage = o, si
			}
		}
	}
	optPos := func(key string) sql.Pos {
		for _, o := range with {
			if o.Key == key {
				return o.Pos
			}
		}
		return stmtPos
	}
	if _, windowed := agg.(*plan.WindowAggOp); !windowed {
		for _, key := range []string{"allowed_lateness", "emit_early"} {
			if _, ok := p.Options.Raw[key]; ok {
				w.warn(optPos(key), "", "%s: option %s has no effect: the job has no windowed aggregation", w.who, key)
			}
		}
	}
	if a, ok := agg.(*plan.AggOp); ok {
		distinct := false
		for _, f := range a.Aggs {
			distinct = distinct || f.Distinct
		}
		if len(a.KeyCols) > 0 || distinct {
			at := stmtPos
			if sel != nil {
				if len(sel.GroupBy) > 0 {
					at = sel.GroupBy[0].ExprPos()
				} else if f := firstAggCall(sel); f != nil {
					at = f.Pos
				}
			}
			what := "every group"
			if len(a.KeyCols) == 0 {
				what = "every distinct value"
			}
			w.warn(at, "Aggregate over TUMBLE or HOP windows to bound the state, or accept that it grows with the number of keys.",
				"%s keeps unbounded state: a non-windowed aggregation keeps %s forever", w.who, what)
		}
	}
	if agg == nil || sink == nil || !sink.IsTable || sinkStage != aggStage {
		return
	}
	roles, ok := sinkRoles(p.Stages[aggStage], agg)
	if !ok {
		return
	}
	wa, windowed := agg.(*plan.WindowAggOp)
	nkeys := 0
	if windowed {
		nkeys = len(wa.KeyCols)
	} else {
		nkeys = len(agg.(*plan.AggOp).KeyCols)
	}
	tablePos := ins.TablePos
	if tablePos.Line == 0 {
		tablePos = stmtPos
	}
	if len(sink.PrimaryKey) == 0 {
		switch {
		case !windowed && nkeys == 0:
			w.warn(tablePos, "", "%s: table %s has no PRIMARY KEY, so every update of the aggregate is appended as another row", w.who, sink.Target)
		case !windowed:
			w.warn(tablePos, fmt.Sprintf("Give %s a PRIMARY KEY on the group columns so that each group's row is upserted.", sink.Target),
				"%s: table %s has no PRIMARY KEY, so every update of a group's aggregate is appended as another row", w.who, sink.Target)
		case p.Options.AllowedLateness > 0 || p.Options.EmitEarly > 0:
			w.warn(tablePos, fmt.Sprintf("Give %s a PRIMARY KEY on the window and group columns so that later panes replace earlier ones.", sink.Target),
				"%s: table %s has no PRIMARY KEY, so every EARLY and LATE pane of a window is appended as another row", w.who, sink.Target)
		}
		return
	}
	covered := map[int]bool{}
	for _, c := range sink.PrimaryKey {
		if c < len(roles) && roles[c] != roleNone {
			covered[roles[c]] = true
		}
	}
	schema := agg.OutSchema()
	var missing []string
	if windowed && !covered[roleWindowStart] && !covered[roleWindowEnd] {
		missing = append(missing, "the window (window_start or window_end)")
	}
	for k := 0; k < nkeys; k++ {
		if !covered[k] {
			missing = append(missing, fmt.Sprintf("the group column %s", schema[k].Name))
		}
	}
	if len(missing) == 0 {
		return
	}
	var pk []string
	in := sinkInput(p.Stages[sinkStage], sink)
	for _, c := range sink.PrimaryKey {
		if c < len(in) {
			pk = append(pk, in[c].Name)
		}
	}
	what := "groups"
	switch {
	case windowed && len(missing) == 1 && !covered[roleWindowStart] && !covered[roleWindowEnd]:
		what = "windows"
	case windowed && !covered[roleWindowStart] && !covered[roleWindowEnd]:
		what = "windows and groups"
	}
	w.warn(tablePos, "",
		"%s: the PRIMARY KEY (%s) of table %s does not include %s: upserts of different %s overwrite each other's rows",
		w.who, strings.Join(pk, ", "), sink.Target, joinAnd(missing), what)
}

// Column roles in sinkRoles: a group key's index (>= 0), or one of these.
const (
	roleNone        = -1
	roleWindowStart = -2
	roleWindowEnd   = -3
)

// sinkRoles traces the aggregation's output columns through the stateless
// ops that follow it in stg to the sink's input row: for each sink input
// column, the group key index it carries, roleWindowStart/End, or roleNone.
// ok is false when the chain has an op it does not know.
func sinkRoles(stg *plan.Stage, agg plan.Op) (roles []int, ok bool) {
	i := 0
	for i < len(stg.Ops) && stg.Ops[i] != agg {
		i++
	}
	if i == len(stg.Ops) {
		return nil, false
	}
	n := len(agg.OutSchema())
	roles = make([]int, n)
	for c := range roles {
		roles[c] = roleNone
	}
	switch a := agg.(type) {
	case *plan.WindowAggOp:
		for k := range a.KeyCols {
			roles[k] = k
		}
		roles[len(a.KeyCols)] = roleWindowStart
		roles[len(a.KeyCols)+1] = roleWindowEnd
	case *plan.AggOp:
		for k := range a.KeyCols {
			roles[k] = k
		}
	}
	for _, op := range stg.Ops[i+1:] {
		switch o := op.(type) {
		case *plan.FilterOp:
		case *plan.ProjectOp:
			next := make([]int, len(o.Exprs))
			for j, x := range o.Exprs {
				next[j] = roleNone
				if c := passThrough(x); c >= 0 && c < len(roles) {
					next[j] = roles[c]
				}
			}
			roles = next
		case *plan.WindowAssignOp:
			roles = append(roles, roleNone, roleNone)
		case *plan.SinkOp:
			return roles, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// sinkInput is the schema of the rows reaching sink in stg.
func sinkInput(stg *plan.Stage, sink *plan.SinkOp) plan.Schema {
	for i, op := range stg.Ops {
		if op == sink && i > 0 {
			return stg.Ops[i-1].OutSchema()
		}
	}
	return nil
}

// passThrough returns the input column x passes through unchanged (a column
// reference, possibly cast), or -1.
func passThrough(x expr.Expr) int {
	for {
		switch e := x.(type) {
		case *expr.Col:
			return e.Idx
		case *expr.Cast:
			x = e.Arg
		default:
			return -1
		}
	}
}

func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// firstAggCall returns the first aggregate call in sel's select list.
func firstAggCall(sel *sql.Select) *sql.FuncCall {
	var found *sql.FuncCall
	for _, it := range sel.Items {
		walkExpr(it.Expr, func(x sql.Expr) {
			if f, ok := x.(*sql.FuncCall); ok && found == nil && f.Over == nil && expr.IsAggregate(f.Name) {
				found = f
			}
		})
	}
	return found
}

// joinWarnings reports the joins of two streams that keep state forever.
// The plan knows which conditions bound which side
// (plan.JobPlan.Warnings): when the job plans and none of its joins is
// unbounded, nothing is reported, even where the statement alone (joins)
// looks unbounded (a bound through a subquery's window columns); when it
// has unbounded joins, the statement's warnings place them, or the plan's
// describe them. A job that does not plan gets the statement's warnings:
// a join the planner rejects still deserves its time bound.
func (w *warner) joinWarnings(p *plan.JobPlan, ins *sql.Insert) {
	if p == nil {
		w.joins(ins)
		return
	}
	const hint = "Bound the join in event time: join TUMBLE/HOP windows on window_start, or compare the two sides' event times with BETWEEN."
	var unbounded []string
	for _, msg := range p.Warnings {
		if strings.HasPrefix(msg, "the join on ") {
			unbounded = append(unbounded, msg)
		} else {
			w.warn(ins.Start, "", "%s: %s", w.who, msg)
		}
	}
	if len(unbounded) == 0 {
		return
	}
	n := len(w.out)
	w.joins(ins)
	if len(w.out) > n {
		return
	}
	for _, msg := range unbounded {
		w.warn(ins.Start, hint, "%s keeps unbounded state: %s", w.who, msg)
	}
}

// joins warns about joins of two streams without a time bound: such a join
// keeps every row of both sides forever, since any later row may match it.
// A join is time-bounded when both sides are windowed (TUMBLE/HOP) and it
// matches on window_start or window_end (a window join), or when its
// condition compares the two sides' event-time (WATERMARK FOR) columns with
// BETWEEN, <, <=, > or >= (an interval join). A join with a table is a
// lookup: its state is the table's, so it is left alone.
func (w *warner) joins(ins *sql.Insert) {
	if ins == nil {
		return
	}
	w.joinsIn(ins.Query)
}

func (w *warner) joinsIn(q sql.Query) {
	switch x := q.(type) {
	case *sql.SetOp:
		w.joinsIn(x.Left)
		w.joinsIn(x.Right)
	case *sql.Select:
		for _, cte := range x.With {
			w.joinsIn(cte.Query)
		}
		// A comma-separated FROM list is a cross join filtered by WHERE.
		var streams []joinSide
		items := 0
		at := x.Pos
		for _, te := range x.From {
			if s := w.joinTree(te); len(s) > 0 {
				streams = append(streams, s...)
				if items++; items == 2 {
					at = tablePos(te, at)
				}
			}
		}
		if items >= 2 && !timeBounded(streams, x.Where) {
			w.warnJoin(at, streams)
		}
	}
}

// joinSide is one stream read by a join: how its columns are qualified, its
// event-time column and whether it is windowed.
type joinSide struct {
	quals    []string // alias or name
	timeCol  string
	windowed bool
	name     string
}

// joinTree returns the streams t reads, warning about each unbounded Join
// inside it.
func (w *warner) joinTree(t sql.TableExpr) []joinSide {
	switch x := t.(type) {
	case *sql.TableName:
		if x.Schema != "" {
			return nil
		}
		src, err := w.c.s.e.cat.GetSource(x.Name)
		if err != nil {
			return nil
		}
		return []joinSide{{quals: quals(x.Alias, x.Name), timeCol: src.WatermarkColumn, name: x.Name}}
	case *sql.WindowTVF:
		if x.Source == nil {
			return nil
		}
		if _, err := w.c.s.e.cat.GetSource(x.Source.Name); err != nil {
			return nil
		}
		return []joinSide{{quals: quals(x.Alias, x.Source.Name), timeCol: x.TimeCol, windowed: true, name: x.Source.Name}}
	case *sql.Subquery:
		w.joinsIn(x.Query)
		if containsSource(w.c.s.e.cat, x.Query) {
			return []joinSide{{quals: []string{x.Alias}, name: x.Alias}}
		}
	case *sql.Join:
		left, right := w.joinTree(x.Left), w.joinTree(x.Right)
		if len(left) > 0 && len(right) > 0 && !timeBounded(append(append([]joinSide{}, left...), right...), x.On) {
			w.warnJoin(x.Pos, append(append([]joinSide{}, left...), right...))
		}
		return append(left, right...)
	}
	return nil
}

func (w *warner) warnJoin(at sql.Pos, sides []joinSide) {
	var names []string
	for _, s := range sides {
		names = append(names, s.name)
	}
	w.warn(at, "Bound the join in event time: join TUMBLE/HOP windows on window_start, or compare the two sides' event times with BETWEEN.",
		"%s keeps unbounded state: the join of streams %s has no time bound, so it keeps every row of both sides forever", w.who, joinAnd(names))
}

// tablePos is where a FROM item starts (or def).
func tablePos(t sql.TableExpr, def sql.Pos) sql.Pos {
	var p sql.Pos
	switch x := t.(type) {
	case *sql.TableName:
		p = x.Pos
	case *sql.WindowTVF:
		p = x.Pos
	case *sql.Subquery:
		p = x.Pos
	case *sql.Join:
		p = x.Pos
	case *sql.TableFunc:
		p = x.Pos
	}
	if p.Line == 0 {
		return def
	}
	return p
}

func quals(alias, name string) []string {
	if alias != "" {
		return []string{alias}
	}
	return []string{name}
}

// containsSource reports whether q reads a source anywhere.
func containsSource(cat *catalog.Catalog, q sql.Query) bool {
	var inTable func(t sql.TableExpr) bool
	var inQuery func(q sql.Query) bool
	inTable = func(t sql.TableExpr) bool {
		switch x := t.(type) {
		case *sql.TableName:
			_, err := cat.GetSource(x.Name)
			return err == nil && x.Schema == ""
		case *sql.WindowTVF:
			return true
		case *sql.Subquery:
			return inQuery(x.Query)
		case *sql.Join:
			return inTable(x.Left) || inTable(x.Right)
		}
		return false
	}
	inQuery = func(q sql.Query) bool {
		switch x := q.(type) {
		case *sql.SetOp:
			return inQuery(x.Left) || inQuery(x.Right)
		case *sql.Select:
			for _, t := range x.From {
				if inTable(t) {
					return true
				}
			}
		}
		return false
	}
	return inQuery(q)
}

// timeBounded reports whether cond bounds a join of sides in event time:
// every side is windowed and cond mentions window_start or window_end, or
// cond holds a range comparison between the event-time columns of two
// different sides.
func timeBounded(sides []joinSide, cond sql.Expr) bool {
	if cond == nil {
		return false
	}
	allWindowed := true
	for _, s := range sides {
		allWindowed = allWindowed && s.windowed
	}
	bounded := false
	walkExpr(cond, func(x sql.Expr) {
		switch e := x.(type) {
		case *sql.ColumnRef:
			if allWindowed && (e.Name == "window_start" || e.Name == "window_end") {
				bounded = true
			}
		case *sql.Between:
			if timeSides(sides, e.X, e.Lo, e.Hi) >= 2 {
				bounded = true
			}
		case *sql.BinaryExpr:
			switch e.Op {
			case "<", "<=", ">", ">=", "=":
				if timeSides(sides, e.L, e.R) >= 2 {
					bounded = true
				}
			}
		}
	})
	return bounded
}

// timeSides counts the sides whose event-time column the expressions refer
// to.
func timeSides(sides []joinSide, xs ...sql.Expr) int {
	hit := make([]bool, len(sides))
	for _, x := range xs {
		walkExpr(x, func(y sql.Expr) {
			ref, ok := y.(*sql.ColumnRef)
			if !ok {
				return
			}
			for i, s := range sides {
				if s.timeCol == "" || ref.Name != s.timeCol {
					continue
				}
				if ref.Table == "" {
					hit[i] = true
					continue
				}
				for _, q := range s.quals {
					if q == ref.Table {
						hit[i] = true
					}
				}
			}
		})
	}
	n := 0
	for _, h := range hit {
		if h {
			n++
		}
	}
	return n
}

// walkExpr calls f on x and every expression under it (not descending into
// subqueries).
func walkExpr(x sql.Expr, f func(sql.Expr)) {
	if x == nil {
		return
	}
	f(x)
	switch e := x.(type) {
	case *sql.BinaryExpr:
		walkExpr(e.L, f)
		walkExpr(e.R, f)
	case *sql.UnaryExpr:
		walkExpr(e.X, f)
	case *sql.FuncCall:
		for _, a := range e.Args {
			walkExpr(a, f)
		}
		walkExpr(e.Filter, f)
	case *sql.CaseExpr:
		walkExpr(e.Operand, f)
		for _, wh := range e.Whens {
			walkExpr(wh.Cond, f)
			walkExpr(wh.Then, f)
		}
		walkExpr(e.Else, f)
	case *sql.CastExpr:
		walkExpr(e.X, f)
	case *sql.InList:
		walkExpr(e.X, f)
		for _, a := range e.List {
			walkExpr(a, f)
		}
	case *sql.Between:
		walkExpr(e.X, f)
		walkExpr(e.Lo, f)
		walkExpr(e.Hi, f)
	case *sql.SubqueryExpr:
		walkExpr(e.X, f)
	case *sql.ArrayExpr:
		for _, a := range e.Elems {
			walkExpr(a, f)
		}
	case *sql.Subscript:
		walkExpr(e.X, f)
		walkExpr(e.Index, f)
	case *sql.FieldSelect:
		walkExpr(e.X, f)
	}
}
