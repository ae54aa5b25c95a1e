package repl

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// fakeSession is a tiny stand-in for an engine session, enough to drive
// the shell: CREATE TABLE/SOURCE/SINK/JOB, INSERT ... VALUES, SELECT * FROM,
// SELECT <int>, SHOW TABLES/SOURCES/SINKS, weir_jobs, EXPLAIN JOB, and
// "SELECT pg_sleep_forever()", which blocks until its context is canceled.
// Errors carry SQLSTATEs and positions relative to the text, as the real
// session's do.
type fakeSession struct {
	mu       sync.Mutex
	objects  map[string]*fakeObject
	executed []string
	// onBlock is called when pg_sleep_forever starts blocking.
	onBlock func()
}

type fakeObject struct {
	kind string
	def  string
	cols []engine.Column
	rows []datum.Row
}

func newFakeSession() *fakeSession {
	return &fakeSession{objects: map[string]*fakeObject{}}
}

var (
	reCreate  = regexp.MustCompile(`(?is)^CREATE\s+(TABLE|SOURCE|SINK)\s+(\w+)\s*\(`)
	reJob     = regexp.MustCompile(`(?is)^CREATE\s+JOB\s+(\w+)\s+AS\s`)
	reInsert  = regexp.MustCompile(`(?is)^INSERT\s+INTO\s+(\w+)\s+VALUES\s*(.*?);?$`)
	reSelect  = regexp.MustCompile(`(?is)^SELECT\s+\*\s+FROM\s+(\w+)(\s+LIMIT\s+0)?\s*;?$`)
	reSelInt  = regexp.MustCompile(`(?is)^SELECT\s+(-?\d+)\s*;?$`)
	reShow    = regexp.MustCompile(`(?is)^SHOW\s+(TABLES|SOURCES|SINKS)\s*;?$`)
	reExplain = regexp.MustCompile(`(?is)^EXPLAIN\s+JOB\s+(\w+)\s*;?$`)
	reNotice  = regexp.MustCompile(`(?is)^SELECT\s+notice\s*\(\s*'([^']*)'\s*\)\s*;?$`)
	reSleep   = regexp.MustCompile(`(?is)^SELECT\s+pg_sleep_forever\(\)\s*;?$`)
	reJobs    = regexp.MustCompile(`(?is)^SELECT\s+(\*|name, job_id, state)\s+FROM\s+weir_jobs(\s+LIMIT\s+0)?\s*;?$`)
)

func (f *fakeSession) Executed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.executed...)
}

func (f *fakeSession) Exec(ctx context.Context, text string) ([]*engine.Result, error) {
	f.mu.Lock()
	f.executed = append(f.executed, text)
	f.mu.Unlock()
	r, err := f.exec(ctx, text)
	if err != nil {
		return nil, err
	}
	return []*engine.Result{r}, nil
}

func text(s string) datum.Datum { return datum.NewString(s) }

// exec skips leading comments, as a parser would, keeping positions
// relative to the text.
func (f *fakeSession) exec(ctx context.Context, q string) (*engine.Result, error) {
	skip := len(q)
	if toks := lex(q).toks; len(toks) > 0 {
		skip = toks[0].pos
	}
	r, err := f.exec1(ctx, strings.TrimRight(q[skip:], " \t\n;"))
	if pe, ok := err.(*pgerr.Error); ok && pe.Pos > 0 {
		err = pe.WithPos(pe.Pos + skip)
	}
	return r, err
}

func (f *fakeSession) exec1(ctx context.Context, q string) (*engine.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := reSleep.FindStringSubmatch(q); m != nil {
		onBlock := f.onBlock
		f.mu.Unlock()
		if onBlock != nil {
			onBlock()
		}
		<-ctx.Done()
		f.mu.Lock()
		return nil, pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	if m := reCreate.FindStringSubmatchIndex(q); m != nil {
		kind, name := strings.ToLower(q[m[2]:m[3]]), strings.ToLower(q[m[4]:m[5]])
		if _, ok := f.objects[name]; ok {
			return nil, pgerr.New(pgerr.DuplicateTable, "relation %q already exists", name).WithPos(m[4] + 1)
		}
		o := &fakeObject{kind: kind, def: strings.TrimSuffix(q, ";")}
		for _, c := range parseDefinition(q).columns {
			t, ok := datum.ParseTypeName(strings.Fields(c.typ)[0])
			if !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "type %q does not exist", c.typ).WithPos(strings.Index(q, c.typ) + 1)
			}
			o.cols = append(o.cols, engine.Column{Name: c.name, Type: t})
		}
		f.objects[name] = o
		return &engine.Result{Tag: "CREATE " + strings.ToUpper(kind)}, nil
	}
	if m := reJob.FindStringSubmatch(q); m != nil {
		f.objects[strings.ToLower(m[1])] = &fakeObject{kind: "job", def: q}
		return &engine.Result{Tag: "CREATE JOB", Notices: []string{"job " + m[1] + " started"}}, nil
	}
	if m := reInsert.FindStringSubmatchIndex(q); m != nil {
		name := strings.ToLower(q[m[2]:m[3]])
		o := f.objects[name]
		if o == nil || o.kind == "job" {
			return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name).WithPos(m[2] + 1)
		}
		n := 0
		for _, tuple := range regexp.MustCompile(`\(([^)]*)\)`).FindAllStringSubmatch(q[m[4]:m[5]], -1) {
			vals := strings.Split(tuple[1], ",")
			if len(vals) != len(o.cols) {
				return nil, pgerr.New(pgerr.SyntaxError, "INSERT has %d expressions but %d target columns", len(vals), len(o.cols)).
					WithPos(strings.Index(q, tuple[0]) + 1)
			}
			row := make(datum.Row, len(vals))
			for i, v := range vals {
				v = strings.TrimSpace(v)
				switch {
				case strings.EqualFold(v, "NULL"):
					row[i] = datum.Null
				case strings.HasPrefix(v, "'"):
					d, err := datum.Parse(o.cols[i].Type, strings.Trim(v, "'"))
					if err != nil {
						return nil, pgerr.Wrap(err).WithPos(strings.Index(q, v) + 1)
					}
					row[i] = d
				default:
					d, err := datum.Parse(o.cols[i].Type, v)
					if err != nil {
						return nil, pgerr.Wrap(err).WithPos(strings.Index(q, v) + 1)
					}
					row[i] = d
				}
			}
			o.rows = append(o.rows, row)
			n++
		}
		return &engine.Result{Tag: "INSERT 0 " + strconv.Itoa(n)}, nil
	}
	if m := reJobs.FindStringSubmatch(q); m != nil {
		r := &engine.Result{Columns: []engine.Column{{Name: "name", Type: datum.TypeText}, {Name: "job_id", Type: datum.TypeInt8}, {Name: "state", Type: datum.TypeText}}}
		id := int64(0)
		for _, name := range f.sortedNames() {
			if f.objects[name].kind == "job" && m[2] == "" {
				id++
				r.Rows = append(r.Rows, datum.Row{text(name), datum.NewInt(id), text("RUNNING")})
			}
		}
		r.Tag = "SELECT " + strconv.Itoa(len(r.Rows))
		return r, nil
	}
	if m := reSelect.FindStringSubmatchIndex(q); m != nil {
		name := strings.ToLower(q[m[2]:m[3]])
		o := f.objects[name]
		if o == nil || o.kind == "job" || o.kind == "sink" {
			return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name).WithPos(m[2] + 1)
		}
		r := &engine.Result{Columns: o.cols, Rows: o.rows}
		if m[4] >= 0 {
			r.Rows = nil
		}
		r.Tag = "SELECT " + strconv.Itoa(len(r.Rows))
		return r, nil
	}
	if m := reSelInt.FindStringSubmatch(q); m != nil {
		v, _ := strconv.ParseInt(m[1], 10, 64)
		return &engine.Result{Columns: []engine.Column{{Name: "?column?", Type: datum.TypeInt4}}, Rows: []datum.Row{{datum.NewInt(v)}}, Tag: "SELECT 1"}, nil
	}
	if m := reNotice.FindStringSubmatch(q); m != nil {
		return &engine.Result{Columns: []engine.Column{{Name: "notice", Type: datum.TypeText}}, Rows: []datum.Row{{datum.Null}}, Tag: "SELECT 1", Notices: []string{m[1]}}, nil
	}
	if m := reShow.FindStringSubmatch(q); m != nil {
		kind := strings.ToLower(strings.TrimSuffix(strings.ToUpper(m[1]), "S"))
		r := &engine.Result{Columns: []engine.Column{{Name: "name", Type: datum.TypeText}, {Name: "definition", Type: datum.TypeText}}}
		for _, name := range f.sortedNames() {
			if o := f.objects[name]; o.kind == kind {
				r.Rows = append(r.Rows, datum.Row{text(name), text(o.def)})
			}
		}
		r.Tag = "SHOW " + strconv.Itoa(len(r.Rows))
		return r, nil
	}
	if m := reExplain.FindStringSubmatch(q); m != nil {
		if o := f.objects[strings.ToLower(m[1])]; o == nil || o.kind != "job" {
			return nil, pgerr.New(pgerr.UndefinedObject, "job %q does not exist", m[1])
		}
		r := &engine.Result{Columns: []engine.Column{{Name: "QUERY PLAN", Type: datum.TypeText}}, Tag: "EXPLAIN"}
		for _, l := range []string{"stage 0 (parallelism 1)", "  source_readings -> filter_1 -> sink_per_minute"} {
			r.Rows = append(r.Rows, datum.Row{text(l)})
		}
		return r, nil
	}
	// Anything else is a syntax error at its first word.
	word := q
	if i := strings.IndexAny(q, " \n\t;("); i > 0 {
		word = q[:i]
	}
	return nil, pgerr.New(pgerr.SyntaxError, "syntax error at or near %q", word).WithPos(1)
}

func (f *fakeSession) sortedNames() []string {
	var names []string
	for n := range f.objects {
		names = append(names, n)
	}
	// Deterministic order.
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}

func (f *fakeSession) Prepare(context.Context, string, []datum.Type) (*engine.Prepared, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "fake")
}

func (f *fakeSession) ExecPrepared(context.Context, *engine.Prepared, []datum.Datum) (*engine.Result, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "fake")
}

func (f *fakeSession) BeginCopy(context.Context, *sql.Copy) (engine.CopyIn, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "fake")
}

func (f *fakeSession) Setting(string) (string, bool)   { return "", false }
func (f *fakeSession) SetSetting(string, string) error { return nil }
func (f *fakeSession) Close()                          {}
