package console

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// This file holds the buttons: each runs the SQL statement a psql user
// would type, in a fresh engine session, so it takes the engine's own path
// (locks, checks, errors) and nothing else.

// ActionResult is what a button reports: the statement run, its command
// tag and notices, and the job's newest launch afterwards as weir_jobs
// shows it.
type ActionResult struct {
	Statement string   `json:"statement"`
	Tag       string   `json:"tag"`
	Notices   []string `json:"notices,omitempty"`
	Snapshot  string   `json:"snapshot,omitempty"`
	Job       *Job     `json:"job,omitempty"`
}

// newestLaunch returns the newest launch of name in weir_jobs, or nil.
func (c *Console) newestLaunch(ctx context.Context, name string) (*Job, error) {
	all, err := c.jobs(ctx)
	if err != nil {
		return nil, err
	}
	var out *Job
	for _, j := range all {
		if j.Name == name && (out == nil || j.JobID > out.JobID) {
			out = j
		}
	}
	return out, nil
}

// run executes stmt; on a lifecycle error (55000) the detail says what
// weir_jobs shows for the job, so the message matches the table.
func (c *Console) run(ctx context.Context, name, stmt string) (*ActionResult, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	res, err := c.exec(ctx, stmt)
	if err != nil {
		pe := pgerr.Wrap(err)
		if pe.Code == pgerr.ObjectNotInPrerequisiteState && pe.Detail == "" {
			if j, _ := c.newestLaunch(context.Background(), name); j != nil {
				cp := *pe
				cp.Detail = fmt.Sprintf("weir_jobs: job %s, job id %d, is %s", j.Name, j.JobID, j.State)
				return nil, &cp
			}
		}
		return nil, err
	}
	j, err := c.newestLaunch(ctx, name)
	if err != nil {
		return nil, err
	}
	if j != nil {
		j.SQL = ""
	}
	return &ActionResult{Statement: stmt, Tag: res.Tag, Notices: res.Notices, Job: j}, nil
}

// control runs DRAIN JOB or CANCEL JOB; both wait until the job has ended
// and its end is recorded.
func (c *Console) control(ctx context.Context, action, name string) (*ActionResult, error) {
	return c.run(ctx, name, action+" JOB "+sql.QuoteIdent(name))
}

// maxNameLen is PostgreSQL's identifier length (NAMEDATALEN - 1).
const maxNameLen = 63

// snapshot runs CREATE SNAPSHOT snap FOR JOB name [WITH SOURCE]; an empty
// snap is named <job>_<YYYYMMDD_HHMMSS_micros> by the console's clock (UTC).
func (c *Console) snapshot(ctx context.Context, name, snap string, withSource bool) (*ActionResult, error) {
	snap = strings.TrimSpace(snap)
	if snap == "" {
		t := c.cfg.Clock.Now().UTC()
		snap = fmt.Sprintf("%s_%s_%06d", name, t.Format("20060102_150405"), t.Nanosecond()/1000)
	}
	if len(snap) > maxNameLen {
		return nil, pgerr.New(pgerr.InvalidParameterValue, "snapshot name %q is longer than %d bytes", snap, maxNameLen)
	}
	stmt := "CREATE SNAPSHOT " + sql.QuoteIdent(snap) + " FOR JOB " + sql.QuoteIdent(name)
	if withSource {
		stmt += " WITH SOURCE"
	}
	r, err := c.run(ctx, name, stmt)
	if err != nil {
		return nil, err
	}
	r.Snapshot = snap
	return r, nil
}

// UpdateCheck is the compatibility check of EXPLAIN JOB ... UPDATE AS,
// read into its parts.
type UpdateCheck struct {
	Statement string        `json:"statement"`
	Accepted  bool          `json:"accepted"`
	Verdict   string        `json:"verdict"` // the "accepted: ..." or "refused: ..." line
	Problems  []Problem     `json:"problems"`
	Operators []OperatorFit `json:"operators"`
	Plan      []string      `json:"plan"` // the new plan, as EXPLAIN JOB prints it
	Text      string        `json:"text"` // EXPLAIN's whole output
}

// Problem is an operator the update refuses, and why.
type Problem struct {
	Operator string `json:"operator"`
	Reason   string `json:"reason"`
}

// OperatorFit is a line of the check's operator report with its kind:
// "matched" (carried to the new graph), "added" (new in it), "dropped",
// "kept" (stateless, same name), "stage" or "other".
type OperatorFit struct {
	Line string `json:"line"`
	Kind string `json:"kind"`
}

// updateStatement builds "<verb> JOB name UPDATE AS <text>" from the form's
// text and checks that it is exactly one statement. It returns the
// statement and the prefix's length in characters, to put error positions
// back into text.
func updateStatement(verb, name, text string) (string, error) {
	text = strings.TrimSpace(text)
	text = strings.TrimSpace(strings.TrimSuffix(text, ";"))
	if text == "" {
		return "", pgerr.New(pgerr.SyntaxError, "the update needs the new query: INSERT INTO ... SELECT ... [WITH MAPPING ('old' = 'new')]")
	}
	prefix := updatePrefix(verb, name)
	stmt := prefix + text
	if _, err := sql.ParseOne(stmt); err != nil {
		return "", shiftPos(err, prefix)
	}
	return stmt, nil
}

func updatePrefix(verb, name string) string {
	return verb + " JOB " + sql.QuoteIdent(name) + " UPDATE AS "
}

// shiftPos moves an error's position from the built statement into the
// form's text (the prefix is one line).
func shiftPos(err error, prefix string) error {
	pe := pgerr.Wrap(err)
	if pe.Line == 0 {
		return err
	}
	line, col := pe.Line, pe.Col
	if line == 1 {
		col -= utf8.RuneCountInString(prefix)
		if col < 1 {
			return &posError{err: err}
		}
	}
	return &posError{err: err, line: line, col: col}
}

// checkUpdate runs EXPLAIN JOB name UPDATE AS text.
func (c *Console) checkUpdate(ctx context.Context, name, text string) (*UpdateCheck, error) {
	stmt, err := updateStatement("EXPLAIN", name, text)
	if err != nil {
		return nil, err
	}
	res, err := c.exec(ctx, stmt)
	if err != nil {
		return nil, shiftPos(err, updatePrefix("EXPLAIN", name))
	}
	lines := make([]string, len(res.Rows))
	for i, r := range res.Rows {
		lines[i] = r[0].Str()
	}
	uc := parseUpdateCheck(lines)
	uc.Statement = stmt
	return uc, nil
}

// parseUpdateCheck reads EXPLAIN JOB ... UPDATE AS's output (engine's
// explainUpdate): a title, the verdict, one "  operator: reason" line per
// problem, "operators:" and the carry report, "new plan:" and the plan.
func parseUpdateCheck(lines []string) *UpdateCheck {
	uc := &UpdateCheck{Text: strings.Join(lines, "\n"), Problems: []Problem{}, Operators: []OperatorFit{}}
	section := ""
	for i, l := range lines {
		switch {
		case i == 0:
			continue
		case l == "operators:":
			section = "operators"
			continue
		case l == "new plan:":
			section = "plan"
			continue
		case strings.HasPrefix(l, "accepted"):
			uc.Accepted, uc.Verdict = true, l
			continue
		case strings.HasPrefix(l, "refused"):
			uc.Verdict = l
			section = "problems"
			continue
		}
		body := strings.TrimPrefix(l, "  ")
		switch section {
		case "problems":
			op, reason, _ := strings.Cut(body, ": ")
			uc.Problems = append(uc.Problems, Problem{Operator: op, Reason: reason})
		case "operators":
			uc.Operators = append(uc.Operators, OperatorFit{Line: body, Kind: fitKind(body)})
		case "plan":
			uc.Plan = append(uc.Plan, body)
		}
	}
	return uc
}

// fitKind classifies a carry report line (executor.PlanCarry's Report).
func fitKind(l string) string {
	_, what, _ := strings.Cut(l, ": ")
	switch {
	case strings.HasPrefix(l, "stage "):
		return "stage"
	case strings.HasPrefix(what, "carried"):
		return "matched"
	case strings.HasPrefix(what, "new"):
		return "added"
	case strings.HasPrefix(what, "dropped"), strings.HasPrefix(what, "not carried"):
		return "dropped"
	case strings.HasPrefix(what, "kept"):
		return "kept"
	}
	return "other"
}

// update runs ALTER JOB name UPDATE AS text.
func (c *Console) update(ctx context.Context, name, text string) (*ActionResult, error) {
	stmt, err := updateStatement("ALTER", name, text)
	if err != nil {
		return nil, err
	}
	r, err := c.run(ctx, name, stmt)
	if err != nil {
		return nil, shiftPos(err, updatePrefix("ALTER", name))
	}
	return r, nil
}
