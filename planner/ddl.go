package planner

import (
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// This file turns CREATE SOURCE/TABLE/SINK/TEMPLATE statements into catalog
// objects, checking what the catalog cannot: column lists, the watermark
// declaration, primary keys. Connector options beyond the connector's name
// and idle_timeout are the connector package's to validate (the engine opens
// the connector once before storing the source). Ids are left zero for the
// catalog to assign; names are not checked for duplicates (the catalog does).

// Known connectors.
var (
	sourceConnectors = map[string]bool{"log": true, "file": true, "datagen": true, "nexmark": true, "kafka": true, "nats": true}
	sinkConnectors   = map[string]bool{"blackhole": true, "stdout": true, "print": true, "file": true, "postgres": true, "postgresql": true, "kafka": true, "nats": true}
)

// BindCreateSource checks a CREATE SOURCE and returns the source to store.
// The watermark must be `WATERMARK FOR ts AS ts` or
// `... AS ts - INTERVAL '...'` over a TIMESTAMP column; its delay is
// computed here (Source.WatermarkDelay).
func BindCreateSource(s *sql.CreateSource) (*catalog.Source, error) {
	cols, err := bindColumnDefs(s.Columns, s.Start)
	if err != nil {
		return nil, err
	}
	src := &catalog.Source{Name: s.Name, Columns: cols, Options: optionMap(s.With), SQL: s.Text}
	if c := src.Connector(); !sourceConnectors[c] {
		return nil, errAt(optionPos(s.With, "connector", s.Start), pgerr.InvalidParameterValue, "unknown source connector %q", c).
			WithHint("Sources support connector = 'log', 'file', 'datagen', 'nexmark', 'kafka' or 'nats'.")
	}
	if v, ok := src.Options["idle_timeout"]; ok {
		if _, err := parseDuration("idle_timeout", v); err != nil {
			return nil, positioned(err, optionPos(s.With, "idle_timeout", s.Start))
		}
	}
	if len(s.PartitionBy) > 0 {
		if err := BindPartitionBy(s, src); err != nil {
			return nil, err
		}
	}
	if w := s.Watermark; w != nil {
		delay, text, err := bindWatermark(w, cols)
		if err != nil {
			return nil, err
		}
		src.WatermarkColumn, src.WatermarkSQL, src.WatermarkDelay = w.Column, text, delay
	}
	return src, nil
}

// bindWatermark checks WATERMARK FOR col AS expr and returns the delay.
func bindWatermark(w *sql.Watermark, cols []catalog.Column) (int64, string, error) {
	sc := schemaScope("", catalogSchema(cols))
	col, err := sc.resolve(&sql.ColumnRef{Name: w.Column, Pos: w.Pos})
	if err != nil {
		return 0, "", err
	}
	if col.Typ != datum.TypeTimestamp && col.Typ != datum.TypeTimestampTZ {
		return 0, "", errAt(w.Pos, pgerr.DatatypeMismatch,
			"watermark column %q must be of type timestamp, not %s", w.Column, pgTypeName(col.Typ))
	}
	bad := func(p sql.Pos) error {
		return errAt(p, pgerr.FeatureNotSupported,
			"unsupported watermark expression: use WATERMARK FOR %s AS %s or %s - INTERVAL '5' SECOND", w.Column, w.Column, w.Column)
	}
	if w.Expr == nil {
		return 0, w.Column, nil
	}
	b := &binder{}
	e, err := (&exprCtx{b: b, sc: sc, clause: "WATERMARK"}).bind(w.Expr)
	if err != nil {
		return 0, "", err
	}
	switch x := e.(type) {
	case *expr.Col:
		if x.Idx != col.Idx {
			return 0, "", bad(w.Expr.ExprPos())
		}
		return 0, w.Column, nil
	case *expr.Call:
		if x.Fn != "-" || len(x.Args) != 2 {
			return 0, "", bad(w.Expr.ExprPos())
		}
		c, ok1 := x.Args[0].(*expr.Col)
		k, ok2 := x.Args[1].(*expr.Const)
		if !ok1 || !ok2 || c.Idx != col.Idx || k.Typ != datum.TypeInterval || k.Val.IsNull() {
			return 0, "", bad(w.Expr.ExprPos())
		}
		if k.Val.Months() != 0 || k.Val.Micros() < 0 {
			return 0, "", errAt(w.Expr.ExprPos(), pgerr.InvalidParameterValue,
				"watermark delay must be a non-negative fixed interval (no months or years)")
		}
		return k.Val.Micros(), sql.FormatExpr(w.Expr), nil
	}
	return 0, "", bad(w.Expr.ExprPos())
}

// BindCreateTable checks a CREATE TABLE and returns the table to store.
func BindCreateTable(t *sql.CreateTable) (*catalog.Table, error) {
	cols, err := bindColumnDefs(t.Columns, t.Start)
	if err != nil {
		return nil, err
	}
	pk, err := bindPrimaryKey(cols, t.PrimaryKey, t.Start)
	if err != nil {
		return nil, err
	}
	return &catalog.Table{Name: t.Name, Columns: cols, PrimaryKey: pk, SQL: t.Text}, nil
}

// bindPrimaryKey resolves the PRIMARY KEY column names of a table or sink
// to column indexes and marks those columns NOT NULL, as PostgreSQL does.
func bindPrimaryKey(cols []catalog.Column, names []string, pos sql.Pos) ([]int, error) {
	var pk []int
	seen := map[int]bool{}
	for _, k := range names {
		idx := -1
		for i, c := range cols {
			if c.Name == k {
				idx = i
			}
		}
		if idx < 0 {
			return nil, errAt(pos, pgerr.UndefinedColumn, "column %q named in key does not exist", k)
		}
		if seen[idx] {
			return nil, errAt(pos, pgerr.DuplicateColumn, "column %q appears twice in primary key constraint", k)
		}
		seen[idx] = true
		cols[idx].NotNull = true
		pk = append(pk, idx)
	}
	return pk, nil
}

// BindCreateSink checks a CREATE SINK and returns the sink to store.
func BindCreateSink(s *sql.CreateSink) (*catalog.Sink, error) {
	cols, err := bindColumnDefs(s.Columns, s.Start)
	if err != nil {
		return nil, err
	}
	sink := &catalog.Sink{Name: s.Name, Columns: cols, Options: optionMap(s.With), SQL: s.Text}
	c := sink.Options["connector"]
	if c == "" {
		return nil, errAt(s.Start, pgerr.InvalidParameterValue, "sink %q needs a connector", s.Name).
			WithHint("Sinks support connector = 'blackhole', 'stdout', 'file', 'postgres', 'kafka' or 'nats'.")
	}
	if !sinkConnectors[c] {
		return nil, errAt(optionPos(s.With, "connector", s.Start), pgerr.InvalidParameterValue, "unknown sink connector %q", c).
			WithHint("Sinks support connector = 'blackhole', 'stdout', 'file', 'postgres', 'kafka' or 'nats'.")
	}
	if sink.PrimaryKey, err = bindPrimaryKey(cols, s.PrimaryKey, s.Start); err != nil {
		return nil, err
	}
	return sink, nil
}

// BindCreateTemplate checks a CREATE TEMPLATE and returns the template to
// store. The body is kept as text: it is parsed, with the parameters
// substituted, when a job is created from it.
func BindCreateTemplate(t *sql.CreateTemplate) (*catalog.Template, error) {
	params, err := bindColumnDefs(t.Params, t.Start)
	if err != nil {
		return nil, err
	}
	return &catalog.Template{Name: t.Name, Params: params, Body: t.Body, SQL: t.Text}, nil
}

// bindColumnDefs checks a column list: known types, no duplicate names.
func bindColumnDefs(defs []sql.ColumnDef, stmt sql.Pos) ([]catalog.Column, error) {
	cols := make([]catalog.Column, len(defs))
	seen := map[string]bool{}
	for i, d := range defs {
		pos := d.Pos
		if pos.Offset == 0 {
			pos = stmt
		}
		if seen[d.Name] {
			return nil, errAt(pos, pgerr.DuplicateColumn, "column %q specified more than once", d.Name)
		}
		seen[d.Name] = true
		if d.Type == datum.TypeUnknown {
			return nil, errAt(pos, pgerr.UndefinedObject, "type %q does not exist", strings.ToLower(d.TypeName))
		}
		cols[i] = catalog.Column{Name: d.Name, Type: d.Type, NotNull: d.NotNull}
	}
	return cols, nil
}

// optionMap turns WITH options into a map (keys are already lower-case).
func optionMap(opts []sql.Option) map[string]string {
	m := make(map[string]string, len(opts))
	for _, o := range opts {
		m[o.Key] = o.Value
	}
	return m
}

func optionPos(opts []sql.Option, key string, def sql.Pos) sql.Pos {
	for _, o := range opts {
		if o.Key == key && o.Pos.Offset > 0 {
			return o.Pos
		}
	}
	return def
}

// BindPartitionBy checks CREATE SOURCE ... PARTITION BY (cols) and keeps
// the columns as src's partition_by option (the log connector spreads rows
// by their hash). Only log sources take the clause.
func BindPartitionBy(s *sql.CreateSource, src *catalog.Source) error {
	if c := src.Connector(); c != "log" {
		return errAt(s.PartitionPos, pgerr.FeatureNotSupported, "PARTITION BY applies to log sources, not %s sources", c).
			WithHint("A %s source's partitions are its connector's.", c)
	}
	if _, ok := src.Options["partition_by"]; ok {
		return errAt(s.PartitionPos, pgerr.SyntaxError, "PARTITION BY and the partition_by option cannot both be given")
	}
	var names []string
	for _, name := range s.PartitionBy {
		found := ""
		for _, c := range src.Columns {
			if strings.EqualFold(c.Name, name) {
				found = c.Name
			}
		}
		if found == "" {
			return errAt(s.PartitionPos, pgerr.UndefinedColumn, "column %q named in PARTITION BY does not exist", name)
		}
		names = append(names, found)
	}
	if src.Options == nil {
		src.Options = map[string]string{}
	}
	src.Options["partition_by"] = strings.Join(names, ",")
	return nil
}
