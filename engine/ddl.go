package engine

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/planner"
	"github.com/weir-sql/weir/sql"
	"github.com/weir-sql/weir/state"
	"github.com/weir-sql/weir/table"
)

func posErr(p sql.Pos, code, format string, args ...any) *pgerr.Error {
	e := pgerr.New(code, format, args...)
	e.Pos, e.Line, e.Col = p.Offset, p.Line, p.Col
	return e
}

func columns(defs []sql.ColumnDef) ([]catalog.Column, error) {
	cols := make([]catalog.Column, len(defs))
	seen := map[string]bool{}
	for i, d := range defs {
		if seen[d.Name] {
			return nil, posErr(d.Pos, pgerr.DuplicateColumn, "column %q specified more than once", d.Name)
		}
		seen[d.Name] = true
		cols[i] = catalog.Column{Name: d.Name, Type: d.Type, NotNull: d.NotNull}
	}
	return cols, nil
}

func options(opts []sql.Option) map[string]string {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		m[strings.ToLower(o.Key)] = o.Value
	}
	return m
}

func connectorColumns(cols []catalog.Column) []connector.Column {
	out := make([]connector.Column, len(cols))
	for i, c := range cols {
		out[i] = connector.Column{Name: c.Name, Type: c.Type, NotNull: c.NotNull}
	}
	return out
}

// watermarkDelay reads `WATERMARK FOR ts AS ts [- INTERVAL ...]`.
func watermarkDelay(w *sql.Watermark) (int64, error) {
	switch x := w.Expr.(type) {
	case *sql.ColumnRef:
		if x.Name == w.Column {
			return 0, nil
		}
	case *sql.BinaryExpr:
		ref, ok := x.L.(*sql.ColumnRef)
		lit, ok2 := x.R.(*sql.Literal)
		if ok && ok2 && ref.Name == w.Column && lit.Value.Kind() == datum.KindInterval && (x.Op == "-" || x.Op == "+") {
			d := int64(lit.Value.Months())*30*86400*1_000_000 + lit.Value.Micros()
			if x.Op == "+" {
				d = -d
			}
			return d, nil
		}
	}
	return 0, posErr(w.Pos, pgerr.FeatureNotSupported, "WATERMARK FOR %s must be %s or %s - INTERVAL '...'", w.Column, w.Column, w.Column)
}

func (e *Engine) createSource(n *sql.CreateSource) (*Result, error) {
	cols, err := columns(n.Columns)
	if err != nil {
		return nil, err
	}
	src := &catalog.Source{Name: n.Name, Columns: cols, Options: options(n.With), SQL: n.Text}
	if n.Watermark != nil {
		idx := -1
		for i, c := range cols {
			if c.Name == n.Watermark.Column {
				idx = i
			}
		}
		if idx < 0 {
			return nil, posErr(n.Watermark.Pos, pgerr.UndefinedColumn, "column %q does not exist", n.Watermark.Column)
		}
		if cols[idx].Type.Kind() != datum.KindTimestamp {
			return nil, posErr(n.Watermark.Pos, pgerr.DatatypeMismatch, "WATERMARK FOR column %q must be a TIMESTAMP, not %s", n.Watermark.Column, cols[idx].Type)
		}
		d, err := watermarkDelay(n.Watermark)
		if err != nil {
			return nil, err
		}
		src.WatermarkColumn = n.Watermark.Column
		src.WatermarkDelay = d
		src.WatermarkSQL = sql.FormatExpr(n.Watermark.Expr)
	}
	if len(n.PartitionBy) > 0 {
		if err := planner.BindPartitionBy(n, src); err != nil {
			return nil, err
		}
	}
	if _, err := connector.OpenSource(connector.SourceConfig{Name: src.Name, Connector: src.Connector(), Options: src.Options,
		Schema: connectorColumns(cols), TimeCol: src.TimeCol()}, e.connectorEnv()); err != nil {
		return nil, err
	}
	if err := e.cat.CreateSource(src); err != nil {
		if n.IfNotExists && pgerr.Code(err) == pgerr.DuplicateTable {
			return &Result{Tag: "CREATE SOURCE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", n.Name)}}, nil
		}
		return nil, err
	}
	return &Result{Tag: "CREATE SOURCE"}, nil
}

func (e *Engine) connectorEnv() connector.Env {
	return connector.Env{Store: e.store, Logs: e.logs, Clock: e.clock, Stdout: e.opts.Stdout, BaseDir: e.opts.BaseDir}
}

func (e *Engine) createTable(n *sql.CreateTable) (*Result, error) {
	cols, err := columns(n.Columns)
	if err != nil {
		return nil, err
	}
	t := &catalog.Table{Name: n.Name, Columns: cols, SQL: n.Text}
	for _, k := range n.PrimaryKey {
		idx := -1
		for i, c := range cols {
			if c.Name == k {
				idx = i
			}
		}
		if idx < 0 {
			return nil, pgerr.New(pgerr.UndefinedColumn, "column %q named in key does not exist", k)
		}
		t.PrimaryKey = append(t.PrimaryKey, idx)
		t.Columns[idx].NotNull = true
	}
	if err := e.cat.CreateTable(t); err != nil {
		if n.IfNotExists && pgerr.Code(err) == pgerr.DuplicateTable {
			return &Result{Tag: "CREATE TABLE", Notices: []string{fmt.Sprintf("relation %q already exists, skipping", n.Name)}}, nil
		}
		return nil, err
	}
	return &Result{Tag: "CREATE TABLE"}, nil
}

func (e *Engine) createSink(n *sql.CreateSink) (*Result, error) {
	cols, err := columns(n.Columns)
	if err != nil {
		return nil, err
	}
	s := &catalog.Sink{Name: n.Name, Columns: cols, Options: options(n.With), SQL: n.Text}
	for _, k := range n.PrimaryKey {
		idx := -1
		for i, c := range cols {
			if c.Name == k {
				idx = i
			}
		}
		if idx < 0 {
			return nil, pgerr.New(pgerr.UndefinedColumn, "column %q named in key does not exist", k)
		}
		s.PrimaryKey = append(s.PrimaryKey, idx)
		s.Columns[idx].NotNull = true
	}
	switch s.Connector() {
	case "blackhole", "stdout", "file":
	case "postgres", "postgresql", "kafka", "nats":
		// Validate the options now (these open no connection).
		if _, err := connector.OpenSink(connector.SinkConfig{Name: s.Name, Connector: s.Connector(), Options: s.Options,
			Schema: connectorColumns(s.Columns), PrimaryKey: s.PrimaryKey}, e.connectorEnv()); err != nil {
			return nil, err
		}
	case "":
		return nil, pgerr.New(pgerr.InvalidParameterValue, "CREATE SINK needs WITH (connector = 'blackhole' | 'stdout' | 'file' | 'postgres' | 'kafka' | 'nats')")
	default:
		return nil, pgerr.New(pgerr.InvalidParameterValue, "unknown sink connector %q", s.Connector())
	}
	if err := e.cat.CreateSink(s); err != nil {
		if n.IfNotExists && pgerr.Code(err) == pgerr.DuplicateTable {
			return &Result{Tag: "CREATE SINK"}, nil
		}
		return nil, err
	}
	return &Result{Tag: "CREATE SINK"}, nil
}

func (e *Engine) createTemplate(n *sql.CreateTemplate) (*Result, error) {
	params, err := columns(n.Params)
	if err != nil {
		return nil, err
	}
	if err := e.cat.CreateTemplate(&catalog.Template{Name: n.Name, Params: params, Body: n.Body, SQL: n.Text}); err != nil {
		return nil, err
	}
	return &Result{Tag: "CREATE TEMPLATE"}, nil
}

// drop removes an object. A source, table or sink that a live job uses
// cannot be dropped.
func (e *Engine) drop(n *sql.Drop) (*Result, error) {
	kind := strings.ToUpper(n.Kind)
	tag := "DROP " + kind
	notExists := func(err error) (*Result, error) {
		c := pgerr.Code(err)
		if n.IfExists && (c == pgerr.UndefinedTable || c == pgerr.UndefinedObject) {
			return &Result{Tag: tag, Notices: []string{fmt.Sprintf("%s %q does not exist, skipping", strings.ToLower(kind), n.Name)}}, nil
		}
		return nil, err
	}
	if kind == "SOURCE" || kind == "TABLE" || kind == "SINK" {
		for _, j := range e.cat.Jobs() {
			if j.Live() && usesRelation(j.SQL, n.Name) {
				return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "cannot drop %s %s because job %s uses it", strings.ToLower(kind), n.Name, j.Name).
					WithHint("DRAIN JOB or CANCEL JOB %s first", j.Name)
			}
		}
	}
	switch kind {
	case "SOURCE":
		src, err := e.cat.GetSource(n.Name)
		if err != nil {
			return notExists(err)
		}
		if err := e.cat.DropSource(n.Name); err != nil {
			return nil, err
		}
		if src.Connector() == "log" {
			if err := e.logs.Drop(src.ID); err != nil {
				return nil, err
			}
		}
	case "TABLE":
		t, err := e.cat.GetTable(n.Name)
		if err != nil {
			return notExists(err)
		}
		if err := e.cat.DropTable(n.Name); err != nil {
			return nil, err
		}
		b := e.store.NewBatch()
		table.Truncate(b, t.ID)
		if err := e.store.Commit(b); err != nil {
			return nil, err
		}
	case "SINK":
		if err := e.cat.DropSink(n.Name); err != nil {
			return notExists(err)
		}
	case "JOB":
		if rj := e.runningJob(n.Name); rj != nil {
			return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %s is running", n.Name).WithHint("DRAIN JOB or CANCEL JOB %s first", n.Name)
		}
		if err := e.dropJob(n.Name); err != nil { // lifecycle.go: also deletes the lineage's data
			return notExists(err)
		}
	case "TEMPLATE":
		if err := e.cat.DropTemplate(n.Name); err != nil {
			return notExists(err)
		}
	case "SNAPSHOT":
		if err := e.dropSnapshot(n.Name); err != nil { // lifecycle.go
			return notExists(err)
		}
	default:
		return nil, pgerr.New(pgerr.SyntaxError, "cannot DROP %s", n.Kind)
	}
	return &Result{Tag: tag}, nil
}

// usesRelation reports whether a job's SQL mentions name (a conservative
// check: a false positive only refuses a DROP).
func usesRelation(jobSQL, name string) bool {
	st, err := sql.ParseOne(jobSQL)
	if err != nil {
		return true
	}
	return strings.Contains(strings.ToLower(sql.Format(st)), strings.ToLower(name))
}

func (e *Engine) showObjects(what string) *Result {
	r := &Result{Columns: []Column{{"name", datum.TypeText}, {"definition", datum.TypeText}}}
	var rows [][2]string
	switch what {
	case "TABLES":
		for _, t := range e.cat.ListTables() {
			rows = append(rows, [2]string{t.Name, t.SQL})
		}
	case "SOURCES":
		for _, s := range e.cat.ListSources() {
			rows = append(rows, [2]string{s.Name, s.SQL})
		}
	case "SINKS":
		for _, s := range e.cat.ListSinks() {
			rows = append(rows, [2]string{s.Name, s.SQL})
		}
	case "TEMPLATES":
		for _, t := range e.cat.ListTemplates() {
			rows = append(rows, [2]string{t.Name, t.SQL})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	for _, x := range rows {
		r.Rows = append(r.Rows, datum.Row{datum.NewString(x[0]), datum.NewString(x[1])})
	}
	r.Tag = fmt.Sprintf("SHOW %d", len(r.Rows))
	return r
}

var _ = state.PrefixEnd
