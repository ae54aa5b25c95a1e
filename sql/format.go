package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
)

// Format returns deterministic SQL text for s, which parses back to the same
// AST (positions aside). It is used to store definitions in the catalog and
// to print them. Expressions are fully parenthesized where precedence could
// matter, so the text does not depend on the parser's precedence rules.
func Format(s Statement) string {
	var w fmtWriter
	w.stmt(s)
	return w.String()
}

// FormatExpr returns SQL text for e (see Format).
func FormatExpr(e Expr) string {
	var w fmtWriter
	w.expr(e)
	return w.String()
}

type fmtWriter struct{ strings.Builder }

func (w *fmtWriter) p(parts ...string) {
	for _, s := range parts {
		w.WriteString(s)
	}
}

// extraQuoted are words the parser treats as keywords in some contexts;
// identifiers spelled like them are quoted to be safe.
var extraQuoted = map[string]bool{
	"set": true, "filter": true, "over": true, "nulls": true, "operator": true, "recursive": true,
	"table": true, "do": true, "conflict": true, "insert": true, "update": true, "delete": true,
	"first": true, "last": true, "partition": true, "rows": true, "range": true, "watermark": true,
	"primary": true, "key": true, "not": true, "if": true, "mapping": true, "source": true,
}

// QuoteIdent returns name as a SQL identifier: bare when it is lower-case
// and no keyword, else double-quoted.
func QuoteIdent(name string) string {
	if name == "" {
		return `""`
	}
	ok := !keywords[name] && !extraQuoted[name]
	for i := 0; i < len(name) && ok; i++ {
		c := name[i]
		switch {
		case c == '_' || (c >= 'a' && c <= 'z'):
		case (c >= '0' && c <= '9') || c == '$':
			ok = i > 0
		default:
			ok = false
		}
	}
	if ok {
		return name
	}
	return quoteIdent(name)
}

// quoteDotted quotes each part of a dotted name.
func quoteDotted(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

// QuoteString returns s as a standard SQL string literal.
func QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func (w *fmtWriter) options(opts []Option) {
	w.p("(")
	for i, o := range opts {
		if i > 0 {
			w.p(", ")
		}
		key := o.Key
		if QuoteIdent(key) == key {
			w.p(key)
		} else {
			w.p(QuoteString(key))
		}
		w.p(" = ", QuoteString(o.Value))
	}
	w.p(")")
}

func (w *fmtWriter) with(opts []Option) {
	if opts != nil {
		w.p(" WITH ")
		w.options(opts)
	}
}

func (w *fmtWriter) columns(cols []ColumnDef, pk []string, wm *Watermark) {
	w.p(" (")
	for i, c := range cols {
		if i > 0 {
			w.p(", ")
		}
		tn := c.TypeName
		if tn == "" {
			tn = c.Type.String()
		}
		w.p(QuoteIdent(c.Name), " ", tn)
		if c.NotNull {
			w.p(" NOT NULL")
		}
	}
	if wm != nil {
		if len(cols) > 0 {
			w.p(", ")
		}
		w.p("WATERMARK FOR ", QuoteIdent(wm.Column), " AS ")
		w.expr(wm.Expr)
	}
	if pk != nil {
		if len(cols) > 0 {
			w.p(", ")
		}
		w.p("PRIMARY KEY (", identList(pk), ")")
	}
	w.p(")")
}

func identList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = QuoteIdent(n)
	}
	return strings.Join(q, ", ")
}

func (w *fmtWriter) stmt(s Statement) {
	switch s := s.(type) {
	case *CreateSource:
		w.p("CREATE SOURCE ")
		if s.IfNotExists {
			w.p("IF NOT EXISTS ")
		}
		w.p(QuoteIdent(s.Name))
		if s.Columns != nil || s.Watermark != nil {
			w.columns(s.Columns, nil, s.Watermark)
		}
		if len(s.PartitionBy) > 0 {
			q := make([]string, len(s.PartitionBy))
			for i, c := range s.PartitionBy {
				q[i] = QuoteIdent(c)
			}
			w.p(" PARTITION BY (", strings.Join(q, ", "), ")")
		}
		w.with(s.With)
	case *CreateTable:
		w.p("CREATE TABLE ")
		if s.IfNotExists {
			w.p("IF NOT EXISTS ")
		}
		w.p(QuoteIdent(s.Name))
		w.columns(s.Columns, s.PrimaryKey, nil)
	case *CreateSink:
		w.p("CREATE SINK ")
		if s.IfNotExists {
			w.p("IF NOT EXISTS ")
		}
		w.p(QuoteIdent(s.Name))
		if s.Columns != nil {
			w.columns(s.Columns, s.PrimaryKey, nil)
		}
		w.with(s.With)
	case *CreateJob:
		w.p("CREATE JOB ", QuoteIdent(s.Name))
		w.with(s.With)
		if s.FromSnapshot != "" {
			w.p(" FROM SNAPSHOT ", QuoteIdent(s.FromSnapshot))
		}
		if s.FromTemplate != "" {
			w.p(" FROM TEMPLATE ", QuoteIdent(s.FromTemplate))
		}
		if s.Insert != nil {
			w.p(" AS ")
			w.stmt(s.Insert)
		}
	case *CreateTemplate:
		w.p("CREATE TEMPLATE ", QuoteIdent(s.Name))
		if s.Params != nil {
			w.columns(s.Params, nil, nil)
		}
		w.p(" AS ", s.Body)
	case *CreateSnapshot:
		w.p("CREATE SNAPSHOT ", QuoteIdent(s.Name), " FOR JOB ", QuoteIdent(s.Job))
		if s.WithSource {
			w.p(" WITH SOURCE")
		}
	case *AlterJob:
		w.p("ALTER JOB ", QuoteIdent(s.Name), " ")
		w.alterUpdate(s)
	case *JobControl:
		w.p(s.Action, " JOB ", QuoteIdent(s.Name))
	case *Drop:
		w.p("DROP ", s.Kind, " ")
		if s.IfExists {
			w.p("IF EXISTS ")
		}
		w.p(QuoteIdent(s.Name))
	case *Show:
		switch s.What {
		case "JOBS", "TABLES", "SOURCES", "SINKS", "SNAPSHOTS", "TEMPLATES", "ALL":
			w.p("SHOW ", s.What)
		default:
			w.p("SHOW ", quoteDotted(s.What))
		}
	case *Explain:
		w.p("EXPLAIN ")
		switch {
		case s.Update != nil:
			w.p("JOB ", QuoteIdent(s.Job), " ")
			w.alterUpdate(s.Update)
		case s.Job != "":
			w.p("JOB ", QuoteIdent(s.Job))
		case s.Stmt != nil:
			w.stmt(s.Stmt)
		}
	case *Set:
		if s.Name == "transaction" {
			w.p("SET TRANSACTION ", strings.Join(s.Values, " "))
			return
		}
		w.p("SET ", quoteDotted(s.Name), " = ")
		for i, v := range s.Values {
			if i > 0 {
				w.p(", ")
			}
			w.p(QuoteString(v))
		}
	case *Txn:
		w.p(s.Action)
	case *Copy:
		w.p("COPY ")
		if s.Query != nil {
			w.p("(")
			w.query(s.Query)
			w.p(")")
		} else {
			w.p(quoteDotted(s.Table))
			if s.Columns != nil {
				w.p(" (", identList(s.Columns), ")")
			}
		}
		if s.From {
			w.p(" FROM STDIN")
		} else {
			w.p(" TO STDOUT")
		}
		if len(s.Options) > 0 {
			w.p(" WITH (")
			for i, o := range s.Options {
				if i > 0 {
					w.p(", ")
				}
				w.p(QuoteIdent(o.Key), " ", QuoteString(o.Value))
			}
			w.p(")")
		}
	case *Empty:
	case *Insert:
		w.p("INSERT INTO ", quoteDotted(s.Table))
		if s.Columns != nil {
			w.p(" (", identList(s.Columns), ")")
		}
		w.p(" ")
		w.query(s.Query)
		if oc := s.OnConflict; oc != nil {
			w.p(" ON CONFLICT")
			if oc.Columns != nil {
				w.p(" (", identList(oc.Columns), ")")
			}
			if oc.DoNothing {
				w.p(" DO NOTHING")
			} else {
				w.p(" DO UPDATE SET ")
				w.assignments(oc.Set)
			}
		}
		if s.Returning != nil {
			w.p(" RETURNING ")
			w.items(s.Returning)
		}
	case *Update:
		w.p("UPDATE ", quoteDotted(s.Table), " SET ")
		w.assignments(s.Set)
		if s.Where != nil {
			w.p(" WHERE ")
			w.expr(s.Where)
		}
	case *Delete:
		w.p("DELETE FROM ", quoteDotted(s.Table))
		if s.Where != nil {
			w.p(" WHERE ")
			w.expr(s.Where)
		}
	case *QueryStmt:
		w.query(s.Query)
	default:
		w.p(fmt.Sprintf("/* unknown statement %T */", s))
	}
}

func (w *fmtWriter) alterUpdate(a *AlterJob) {
	w.p("UPDATE")
	w.with(a.With)
	w.p(" AS ")
	w.stmt(a.Insert)
	if a.Mapping != nil {
		w.p(" WITH MAPPING (")
		for i, o := range a.Mapping {
			if i > 0 {
				w.p(", ")
			}
			w.p(QuoteString(o.Key), " = ", QuoteString(o.Value))
		}
		w.p(")")
	}
}

func (w *fmtWriter) assignments(as []Assignment) {
	for i, a := range as {
		if i > 0 {
			w.p(", ")
		}
		w.p(QuoteIdent(a.Column), " = ")
		w.expr(a.Value)
	}
}

func (w *fmtWriter) items(items []SelectItem) {
	for i, it := range items {
		if i > 0 {
			w.p(", ")
		}
		switch {
		case it.Star && it.StarTable != "":
			w.p(quoteDotted(it.StarTable), ".*")
		case it.Star:
			w.p("*")
		default:
			w.expr(it.Expr)
			if it.Alias != "" {
				w.p(" AS ", QuoteIdent(it.Alias))
			}
		}
	}
}

func (w *fmtWriter) ctes(ctes []CTE) {
	if ctes == nil {
		return
	}
	w.p("WITH ")
	for i, c := range ctes {
		if i > 0 {
			w.p(", ")
		}
		w.p(QuoteIdent(c.Name))
		if c.Columns != nil {
			w.p(" (", identList(c.Columns), ")")
		}
		w.p(" AS (")
		w.query(c.Query)
		w.p(")")
	}
	w.p(" ")
}

func (w *fmtWriter) query(q Query) {
	switch q := q.(type) {
	case *Select:
		w.ctes(q.With)
		w.p("SELECT ")
		if q.Distinct {
			w.p("DISTINCT ")
		}
		w.items(q.Items)
		if q.From != nil {
			w.p(" FROM ")
			for i, te := range q.From {
				if i > 0 {
					w.p(", ")
				}
				w.tableExpr(te, false)
			}
		}
		if q.Where != nil {
			w.p(" WHERE ")
			w.expr(q.Where)
		}
		if q.GroupBy != nil {
			w.p(" GROUP BY ")
			w.exprList(q.GroupBy)
		}
		if q.Having != nil {
			w.p(" HAVING ")
			w.expr(q.Having)
		}
		w.orderLimit(q.OrderBy, q.Limit, q.Offset)
	case *SetOp:
		w.ctes(q.With)
		w.setOperand(q.Left)
		w.p(" ", q.Op)
		if q.All {
			w.p(" ALL")
		}
		w.p(" ")
		w.setOperand(q.Right)
		w.orderLimit(q.OrderBy, q.Limit, q.Offset)
	case *Values:
		w.p("VALUES ")
		for i, row := range q.Rows {
			if i > 0 {
				w.p(", ")
			}
			w.p("(")
			w.exprList(row)
			w.p(")")
		}
	}
}

func (w *fmtWriter) setOperand(q Query) {
	if s, ok := q.(*Select); ok && s.OrderBy == nil && s.Limit == nil && s.Offset == nil && s.With == nil {
		w.query(s)
		return
	}
	if _, ok := q.(*Values); ok {
		w.query(q)
		return
	}
	w.p("(")
	w.query(q)
	w.p(")")
}

func (w *fmtWriter) orderLimit(order []OrderItem, limit, offset Expr) {
	if order != nil {
		w.p(" ORDER BY ")
		w.orderItems(order)
	}
	if limit != nil {
		w.p(" LIMIT ")
		w.expr(limit)
	}
	if offset != nil {
		w.p(" OFFSET ")
		w.expr(offset)
	}
}

func (w *fmtWriter) orderItems(order []OrderItem) {
	for i, o := range order {
		if i > 0 {
			w.p(", ")
		}
		w.expr(o.Expr)
		if o.Desc {
			w.p(" DESC")
		}
		if o.NullsFirst != nil {
			if *o.NullsFirst {
				w.p(" NULLS FIRST")
			} else {
				w.p(" NULLS LAST")
			}
		}
	}
}

func (w *fmtWriter) exprList(es []Expr) {
	for i, e := range es {
		if i > 0 {
			w.p(", ")
		}
		w.expr(e)
	}
}

func (w *fmtWriter) alias(alias string, cols []string) {
	if alias != "" {
		w.p(" AS ", QuoteIdent(alias))
		if cols != nil {
			w.p("(", identList(cols), ")")
		}
	}
}

func (w *fmtWriter) tableName(t *TableName) {
	if t.Schema != "" {
		w.p(QuoteIdent(t.Schema), ".")
	}
	w.p(QuoteIdent(t.Name))
}

func (w *fmtWriter) tableExpr(te TableExpr, nested bool) {
	switch t := te.(type) {
	case *TableName:
		w.tableName(t)
		w.alias(t.Alias, nil)
	case *WindowTVF:
		w.p(t.Kind, "(")
		w.tableName(t.Source)
		w.p(", ", QuoteIdent(t.TimeCol), ", ")
		if t.Kind == "HOP" {
			w.expr(t.Slide)
			w.p(", ")
		}
		w.expr(t.Size)
		if t.Offset != nil {
			w.p(", ")
			w.expr(t.Offset)
		}
		w.p(")")
		w.alias(t.Alias, nil)
	case *TableFunc:
		w.funcName(t.Func.Name)
		w.p("(")
		w.exprList(t.Func.Args)
		w.p(")")
		if t.Ordinality {
			w.p(" WITH ORDINALITY")
		}
		w.alias(t.Alias, t.Columns)
	case *Subquery:
		w.p("(")
		w.query(t.Query)
		w.p(")")
		w.alias(t.Alias, t.Columns)
	case *Join:
		if nested {
			w.p("(")
		}
		w.tableExpr(t.Left, false)
		switch t.Kind {
		case "INNER":
			w.p(" JOIN ")
		default:
			w.p(" ", t.Kind, " JOIN ")
		}
		w.tableExpr(t.Right, true)
		if t.On != nil {
			w.p(" ON ")
			w.expr(t.On)
		}
		if t.Using != nil {
			w.p(" USING (", identList(t.Using), ")")
		}
		if nested {
			w.p(")")
		}
	}
}

func (w *fmtWriter) funcName(name string) {
	w.p(quoteDotted(name))
}

// atomic reports whether e prints as a self-delimited primary expression.
func atomic(e Expr) bool {
	switch e := e.(type) {
	case *ColumnRef, *Param, *FuncCall, *CaseExpr, *CastExpr, *ArrayExpr, *Subscript, *FieldSelect:
		return true
	case *Literal:
		switch e.Value.Kind() {
		case datum.KindInt:
			return e.Value.Int() >= 0
		case datum.KindFloat:
			return !math.Signbit(e.Value.Float())
		}
		return true
	case *SubqueryExpr:
		return e.X == nil
	}
	return false
}

func (w *fmtWriter) operand(e Expr) {
	if atomic(e) {
		w.expr(e)
		return
	}
	w.p("(")
	w.expr(e)
	w.p(")")
}

func (w *fmtWriter) expr(e Expr) {
	switch e := e.(type) {
	case nil:
		w.p("NULL")
	case *ColumnRef:
		if e.Table != "" {
			w.p(quoteDotted(e.Table), ".")
		}
		w.p(QuoteIdent(e.Name))
	case *Literal:
		w.literal(e)
	case *Param:
		w.p("$", strconv.Itoa(e.N))
	case *BinaryExpr:
		if b, ok := e.L.(*BinaryExpr); ok && b.Op == e.Op && (e.Op == "AND" || e.Op == "OR") {
			w.expr(b)
		} else {
			w.operand(e.L)
		}
		if strings.HasSuffix(e.Op, " ANY") || strings.HasSuffix(e.Op, " ALL") {
			w.p(" ", e.Op, " (")
			if sq, ok := e.R.(*SubqueryExpr); ok && sq.X == nil && !sq.Exists {
				w.query(sq.Query)
			} else {
				w.expr(e.R)
			}
			w.p(")")
			return
		}
		w.p(" ", e.Op, " ")
		w.operand(e.R)
	case *UnaryExpr:
		switch e.Op {
		case "NOT":
			w.p("NOT ")
			w.operand(e.X)
		case "-", "+", "~":
			w.p(e.Op)
			w.operand(e.X)
		default:
			if strings.HasPrefix(e.Op, "IS ") {
				w.operand(e.X)
				w.p(" ", e.Op)
				return
			}
			w.p(e.Op, " ")
			w.operand(e.X)
		}
	case *FuncCall:
		w.funcCall(e)
	case *CaseExpr:
		w.p("CASE")
		if e.Operand != nil {
			w.p(" ")
			w.operand(e.Operand)
		}
		for _, wh := range e.Whens {
			w.p(" WHEN ")
			w.expr(wh.Cond)
			w.p(" THEN ")
			w.expr(wh.Then)
		}
		if e.Else != nil {
			w.p(" ELSE ")
			w.expr(e.Else)
		}
		w.p(" END")
	case *CastExpr:
		tn := e.TypeName
		if tn == "" {
			tn = e.Type.String()
		}
		w.p("CAST(")
		w.expr(e.X)
		w.p(" AS ", tn, ")")
	case *InList:
		w.operand(e.X)
		if e.Not {
			w.p(" NOT")
		}
		w.p(" IN (")
		w.exprList(e.List)
		w.p(")")
	case *Between:
		w.operand(e.X)
		if e.Not {
			w.p(" NOT")
		}
		w.p(" BETWEEN ")
		w.operand(e.Lo)
		w.p(" AND ")
		w.operand(e.Hi)
	case *SubqueryExpr:
		switch {
		case e.Exists:
			if e.Not {
				w.p("NOT ")
			}
			w.p("EXISTS (")
		case e.X != nil:
			w.operand(e.X)
			if e.Not {
				w.p(" NOT")
			}
			w.p(" IN (")
		default:
			w.p("(")
		}
		w.query(e.Query)
		w.p(")")
	case *ArrayExpr:
		w.p("ARRAY[")
		w.exprList(e.Elems)
		w.p("]")
	case *Subscript:
		if _, ok := e.X.(*ColumnRef); ok {
			w.expr(e.X)
		} else {
			w.p("(")
			w.expr(e.X)
			w.p(")")
		}
		w.p("[")
		w.expr(e.Index)
		w.p("]")
	case *FieldSelect:
		w.p("(")
		w.expr(e.X)
		w.p(").", QuoteIdent(e.Field))
	default:
		w.p(fmt.Sprintf("/* unknown expression %T */", e))
	}
}

func (w *fmtWriter) funcCall(e *FuncCall) {
	if e.Name == "array" && len(e.Args) == 1 {
		if sq, ok := e.Args[0].(*SubqueryExpr); ok && sq.X == nil && !sq.Exists {
			w.p("ARRAY(")
			w.query(sq.Query)
			w.p(")")
			return
		}
	}
	if niladic[e.Name] && len(e.Args) == 0 && !e.Star && e.Over == nil && e.Filter == nil {
		w.p(e.Name)
		return
	}
	if aggNames[e.Name] {
		w.p(e.Name)
	} else {
		w.funcName(e.Name)
	}
	w.p("(")
	if e.Distinct {
		w.p("DISTINCT ")
	}
	if e.Star {
		w.p("*")
	} else {
		w.exprList(e.Args)
	}
	if e.OrderBy != nil {
		w.p(" ORDER BY ")
		w.orderItems(e.OrderBy)
	}
	w.p(")")
	if e.Filter != nil {
		w.p(" FILTER (WHERE ")
		w.expr(e.Filter)
		w.p(")")
	}
	if o := e.Over; o != nil {
		w.p(" OVER (")
		sep := ""
		if o.PartitionBy != nil {
			w.p("PARTITION BY ")
			w.exprList(o.PartitionBy)
			sep = " "
		}
		if o.OrderBy != nil {
			w.p(sep, "ORDER BY ")
			w.orderItems(o.OrderBy)
			sep = " "
		}
		if o.Frame != "" {
			w.p(sep, o.Frame)
		}
		w.p(")")
	}
}

func (w *fmtWriter) literal(l *Literal) {
	v := l.Value
	switch v.Kind() {
	case datum.KindNull:
		w.p("NULL")
		return
	case datum.KindBool:
		if v.Bool() {
			w.p("TRUE")
		} else {
			w.p("FALSE")
		}
		return
	case datum.KindInt:
		natural := datum.TypeInt8
		if v.Int() >= math.MinInt32 && v.Int() <= math.MaxInt32 {
			natural = datum.TypeInt4
		}
		if l.Type == natural || l.Type == datum.TypeUnknown {
			w.p(strconv.FormatInt(v.Int(), 10))
			return
		}
	case datum.KindFloat:
		if l.Type == datum.TypeNumeric {
			f := v.Float()
			if math.IsInf(f, 0) || math.IsNaN(f) {
				w.p("CAST(", QuoteString(datum.FormatFloat(f)), " AS NUMERIC)")
				return
			}
			s := strconv.FormatFloat(f, 'g', -1, 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0"
			}
			w.p(s)
			return
		}
	case datum.KindString:
		if l.Type == datum.TypeUnknown {
			w.p(QuoteString(v.Str()))
			return
		}
	case datum.KindInterval:
		w.p("INTERVAL ", QuoteString(FormatInterval(v.Months(), v.Micros())))
		return
	}
	w.p(l.Type.String(), " ", QuoteString(v.Format()))
}

// FormatInterval prints an interval as unit words that datum.ParseInterval
// reads back: "1 minute", "1 hour 30 minutes", "-5 seconds", "1 month 2 days".
func FormatInterval(months int32, us int64) string {
	var parts []string
	add := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if n == 1 || n == -1 {
			parts = append(parts, fmt.Sprintf("%d %s", n, unit))
		} else {
			parts = append(parts, fmt.Sprintf("%d %ss", n, unit))
		}
	}
	add(int64(months/12), "year")
	add(int64(months%12), "month")
	const day, hour, minute, second = 86400e6, 3600e6, 60e6, 1e6
	add(us/day, "day")
	rest := us % day
	add(rest/hour, "hour")
	rest %= hour
	add(rest/minute, "minute")
	rest %= minute
	if rest%second == 0 {
		add(rest/second, "second")
	} else {
		s := strconv.FormatFloat(float64(rest)/second, 'f', -1, 64)
		parts = append(parts, s+" seconds")
	}
	if len(parts) == 0 {
		return "0 seconds"
	}
	return strings.Join(parts, " ")
}
