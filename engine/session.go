package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// Session runs statements for one client. It is used by one goroutine at a
// time.
type Session struct {
	e *Engine
	// WaitForBoundedJobs makes a SELECT first wait for every job this
	// session created whose sources are all bounded (weir run, weir test).
	WaitForBoundedJobs bool

	mu struct {
		sync.Mutex
		settings map[string]string
	}
	jobs  []sessionJob // jobs this session launched
	inTxn bool
}

// NewSession returns a session with default settings.
func (e *Engine) NewSession() *Session {
	s := &Session{e: e}
	s.mu.settings = map[string]string{
		"application_name":              "",
		"client_encoding":               "UTF8",
		"datestyle":                     "ISO, MDY",
		"extra_float_digits":            "1",
		"intervalstyle":                 "postgres",
		"search_path":                   "\"$user\", public",
		"server_encoding":               "UTF8",
		"server_version":                ServerVersion,
		"server_version_num":            "130009",
		"standard_conforming_strings":   "on",
		"statement_timeout":             "0",
		"timezone":                      "UTC",
		"transaction_isolation":         "serializable",
		"integer_datetimes":             "on",
		"max_identifier_length":         "63",
		"default_transaction_read_only": "off",
	}
	return s
}

// ServerVersion is the PostgreSQL version Weir reports to clients.
const ServerVersion = "13.9 (Weir 0.1)"

// Engine returns the session's engine.
func (s *Session) Engine() *Engine { return s.e }

// Close releases the session.
func (s *Session) Close() {}

// Setting returns a session setting.
func (s *Session) Setting(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.mu.settings[strings.ToLower(name)]
	return v, ok
}

// SetSetting changes a session setting.
func (s *Session) SetSetting(name, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.settings[strings.ToLower(name)] = value
	return nil
}

// Exec runs every statement of text in order and returns the results of
// those that ran. It stops at the first error; a parse error anywhere in
// text stops it before anything runs.
func (s *Session) Exec(ctx context.Context, text string) ([]*Result, error) {
	stmts, errs := sql.ParseScript(text, sql.ParseOptions{})
	if len(errs) > 0 {
		return nil, errs[0]
	}
	var results []*Result
	for _, st := range stmts {
		r, err := s.ExecStatement(ctx, st, nil)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// ExecStatement runs one parsed statement with parameter values.
func (s *Session) ExecStatement(ctx context.Context, st sql.Statement, params []datum.Datum) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	r, err := s.exec(ctx, st, params)
	if err != nil {
		return nil, positioned(err, st)
	}
	return r, nil
}

// positioned fills in a positioned error's line and column from the
// statement's source when the creator left them out.
func positioned(err error, st sql.Statement) error {
	pe := pgerr.Wrap(err)
	if pe.Pos > 0 && pe.Line == 0 && st != nil {
		src := st.Source()
		// Pos is an offset into the submitted text; the statement text
		// starts at src.Start.
		rel := pe.Pos - src.Start.Offset + 1
		if rel >= 1 && rel <= len(src.Text)+1 {
			l, c := pgerr.LineCol(src.Text, rel)
			c2 := *pe
			if l == 1 {
				c2.Line, c2.Col = src.Start.Line, src.Start.Col+c-1
			} else {
				c2.Line, c2.Col = src.Start.Line+l-1, c
			}
			return &c2
		}
	}
	return pe
}

func (s *Session) exec(ctx context.Context, st sql.Statement, params []datum.Datum) (*Result, error) {
	e := s.e
	switch n := st.(type) {
	case *sql.Empty:
		return &Result{Tag: ""}, nil
	case *sql.CreateSource:
		return e.createSource(n)
	case *sql.CreateTable:
		return e.createTable(n)
	case *sql.CreateSink:
		return e.createSink(n)
	case *sql.CreateJob:
		return s.createJob(ctx, n)
	case *sql.JobControl:
		return e.controlJob(ctx, n)
	case *sql.Drop:
		return e.drop(n)
	case *sql.Insert:
		return s.insert(ctx, n, params)
	case *sql.Update:
		return s.update(ctx, n, params)
	case *sql.Delete:
		return s.delete(ctx, n, params)
	case *sql.QueryStmt:
		return s.query(ctx, n, params)
	case *sql.Show:
		return s.show(ctx, n)
	case *sql.Explain:
		return s.explain(ctx, n)
	case *sql.Set:
		if len(n.Values) == 0 {
			return nil, pgerr.New(pgerr.SyntaxError, "SET %s needs a value", n.Name)
		}
		if err := s.SetSetting(n.Name, strings.Join(n.Values, ", ")); err != nil {
			return nil, err
		}
		return &Result{Tag: "SET"}, nil
	case *sql.Txn:
		switch n.Action {
		case "BEGIN":
			s.inTxn = true
			return &Result{Tag: "BEGIN"}, nil
		case "COMMIT":
			s.inTxn = false
			return &Result{Tag: "COMMIT"}, nil
		default:
			s.inTxn = false
			return &Result{Tag: "ROLLBACK"}, nil
		}
	case *sql.CreateTemplate:
		return e.createTemplate(n)
	case *sql.CreateSnapshot:
		return s.createSnapshot(ctx, n) // lifecycle.go
	case *sql.AlterJob:
		return s.alterJob(ctx, n) // lifecycle.go
	case *sql.Copy:
		return nil, pgerr.New(pgerr.FeatureNotSupported, "COPY is only available over the wire protocol or with \\copy")
	}
	return nil, pgerr.New(pgerr.FeatureNotSupported, "statement %T is not supported", st)
}

func stmtName(st sql.Statement) string {
	t := fmt.Sprintf("%T", st)
	return strings.TrimPrefix(t, "*sql.")
}

// InTransaction reports whether the session is inside BEGIN ... COMMIT.
func (s *Session) InTransaction() bool { return s.inTxn }

// show runs SHOW.
func (s *Session) show(ctx context.Context, n *sql.Show) (*Result, error) {
	switch strings.ToUpper(n.What) {
	case "JOBS":
		return s.queryText(ctx, "SELECT name, job_id, state, started_at, events_in, events_out, late_dropped FROM weir_jobs ORDER BY started_at, job_id")
	case "SNAPSHOTS":
		return s.queryText(ctx, "SELECT * FROM weir_snapshots ORDER BY name")
	case "TABLES", "SOURCES", "SINKS", "TEMPLATES":
		return s.e.showObjects(strings.ToUpper(n.What)), nil
	case "ALL":
		s.mu.Lock()
		names := make([]string, 0, len(s.mu.settings))
		for k := range s.mu.settings {
			names = append(names, k)
		}
		sort.Strings(names)
		r := &Result{Columns: []Column{{"name", datum.TypeText}, {"setting", datum.TypeText}}}
		for _, k := range names {
			r.Rows = append(r.Rows, datum.Row{datum.NewString(k), datum.NewString(s.mu.settings[k])})
		}
		s.mu.Unlock()
		r.Tag = fmt.Sprintf("SHOW %d", len(r.Rows))
		return r, nil
	}
	name := strings.ToLower(n.What)
	if name == "transaction isolation level" {
		name = "transaction_isolation"
	}
	v, ok := s.Setting(name)
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "unrecognized configuration parameter %q", n.What)
	}
	return &Result{Columns: []Column{{name, datum.TypeText}}, Rows: []datum.Row{{datum.NewString(v)}}, Tag: "SHOW"}, nil
}

// queryText runs an internal query.
func (s *Session) queryText(ctx context.Context, text string) (*Result, error) {
	st, err := sql.ParseOne(text)
	if err != nil {
		return nil, err
	}
	return s.query(ctx, st.(*sql.QueryStmt), nil)
}
