package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// fakeBackend is a stand-in for the engine: a tiny SQL interpreter over
// in-memory tables, enough to drive the protocol (SELECT of literals,
// parameters and casts; CREATE/DROP TABLE; INSERT; SELECT ... FROM with an
// equality filter; SET/SHOW; COPY FROM STDIN; pg_sleep). Its SQL is a
// subset of PostgreSQL's, so wire tests run against both.
type fakeBackend struct {
	mu     sync.Mutex
	tables map[string]*fakeTable
	// sessions counts open sessions (tests check that they are closed).
	open int
}

type fakeTable struct {
	cols []engine.Column
	rows []datum.Row
}

func newFakeBackend() *fakeBackend { return &fakeBackend{tables: map[string]*fakeTable{}} }

func (b *fakeBackend) NewSession(user, database string) engine.SessionAPI {
	b.mu.Lock()
	b.open++
	b.mu.Unlock()
	return &fakeSession{b: b, settings: map[string]string{
		"application_name":            "",
		"statement_timeout":           "0",
		"standard_conforming_strings": "on",
		"transaction_isolation":       "read committed",
		"search_path":                 `"$user", public`,
		"extra_float_digits":          "1",
	}}
}

func (b *fakeBackend) openSessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open
}

type fakeSession struct {
	b        *fakeBackend
	settings map[string]string
	closed   bool
}

// fakeStmt is a parsed fake statement.
type fakeStmt struct {
	sql.StmtSource
	run        func(ctx context.Context, params []datum.Datum) (*engine.Result, error)
	paramTypes []datum.Type
	columns    []engine.Column
}

func (s *fakeSession) Exec(ctx context.Context, text string) ([]*engine.Result, error) {
	st, err := s.parse(text, nil)
	if err != nil {
		return nil, err
	}
	if len(st.paramTypes) > 0 {
		return nil, pgerr.New("42P02", "there is no parameter $1")
	}
	r, err := st.run(ctx, nil)
	if err != nil {
		return nil, err
	}
	return []*engine.Result{r}, nil
}

// CheckSyntax parses text (the fake's SQL is not the sql package's).
func (s *fakeSession) CheckSyntax(text string) error {
	_, err := s.parse(text, nil)
	if pe := asPgErr(err); pe != nil && pe.Code != pgerr.SyntaxError {
		return nil
	}
	return err
}

func (s *fakeSession) Prepare(ctx context.Context, text string, paramTypes []datum.Type) (*engine.Prepared, error) {
	st, err := s.parse(text, paramTypes)
	if err != nil {
		return nil, err
	}
	return &engine.Prepared{Stmt: st, ParamTypes: st.paramTypes, Columns: st.columns}, nil
}

func (s *fakeSession) ExecPrepared(ctx context.Context, p *engine.Prepared, params []datum.Datum) (*engine.Result, error) {
	return p.Stmt.(*fakeStmt).run(ctx, params)
}

func (s *fakeSession) BeginCopy(ctx context.Context, stmt *sql.Copy) (engine.CopyIn, error) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	t := s.b.tables[stmt.Table]
	if t == nil {
		return nil, pgerr.New(pgerr.UndefinedTable, "relation \"%s\" does not exist", stmt.Table)
	}
	ci := &fakeCopy{b: s.b, t: t}
	if len(stmt.Columns) == 0 {
		ci.cols = t.cols
		for i := range t.cols {
			ci.idx = append(ci.idx, i)
		}
	}
	for _, name := range stmt.Columns {
		i := colIndex(t.cols, name)
		if i < 0 {
			return nil, pgerr.New(pgerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", name, stmt.Table)
		}
		ci.cols = append(ci.cols, t.cols[i])
		ci.idx = append(ci.idx, i)
	}
	return ci, nil
}

func (s *fakeSession) Setting(name string) (string, bool) {
	v, ok := s.settings[strings.ToLower(name)]
	return v, ok
}

func (s *fakeSession) SetSetting(name, value string) error {
	s.settings[strings.ToLower(name)] = value
	return nil
}

func (s *fakeSession) Close() {
	if s.closed {
		panic("fake session closed twice")
	}
	s.closed = true
	s.b.mu.Lock()
	s.b.open--
	s.b.mu.Unlock()
}

type fakeCopy struct {
	b       *fakeBackend
	t       *fakeTable
	cols    []engine.Column
	idx     []int
	pending []datum.Row
}

func (c *fakeCopy) Columns() []engine.Column { return c.cols }
func (c *fakeCopy) Write(rows []datum.Row) error {
	for _, r := range rows {
		full := make(datum.Row, len(c.t.cols))
		for i, j := range c.idx {
			full[j] = r[i]
		}
		c.pending = append(c.pending, full)
	}
	return nil
}
func (c *fakeCopy) Close() (*engine.Result, error) {
	c.b.mu.Lock()
	defer c.b.mu.Unlock()
	c.t.rows = append(c.t.rows, c.pending...)
	return &engine.Result{Tag: fmt.Sprintf("COPY %d", len(c.pending))}, nil
}
func (c *fakeCopy) Abort() { c.pending = nil }

func colIndex(cols []engine.Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// fakeParser reads one fake statement.
type fakeParser struct {
	s        *scanner
	text     string
	toks     []token
	i        int
	declared []datum.Type
	params   []datum.Type
}

func (p *fakeParser) peek() (token, bool) {
	if p.i < len(p.toks) {
		return p.toks[p.i], true
	}
	return token{}, false
}

func (p *fakeParser) word(w string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokWord && t.val == w {
		p.i++
		return true
	}
	return false
}

func (p *fakeParser) punct(c string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokPunct && t.val == c {
		p.i++
		return true
	}
	return false
}

func (p *fakeParser) syntaxErr() error {
	t, ok := p.peek()
	if !ok {
		return pgerr.New(pgerr.SyntaxError, "syntax error at end of input").WithPos(len(p.text) + 1)
	}
	return pgerr.New(pgerr.SyntaxError, "syntax error at or near \"%s\"", p.text[t.pos:t.end]).WithPos(t.pos + 1)
}

func (p *fakeParser) name() (string, error) {
	t, ok := p.peek()
	if !ok || (t.kind != tokWord && t.kind != tokIdent) {
		return "", p.syntaxErr()
	}
	p.i++
	return t.val, nil
}

// param notes $n with type t (keeping a declared or earlier type).
func (p *fakeParser) param(n int, t datum.Type) {
	for len(p.params) < n {
		p.params = append(p.params, datum.TypeUnknown)
	}
	if n-1 < len(p.declared) && p.declared[n-1] != datum.TypeUnknown {
		p.params[n-1] = p.declared[n-1]
		return
	}
	if p.params[n-1] == datum.TypeUnknown {
		p.params[n-1] = t
	}
}

// fakeExpr is a constant, a parameter or a column reference.
type fakeExpr struct {
	typ   datum.Type
	name  string // output column name
	val   datum.Datum
	param int // $n, or 0
	col   int // column index +1, or 0
	div0  bool
}

func (e fakeExpr) eval(params []datum.Datum, row datum.Row) (datum.Datum, error) {
	switch {
	case e.div0:
		return datum.Null, pgerr.New(pgerr.DivisionByZero, "division by zero")
	case e.param > 0:
		d := params[e.param-1]
		if !d.IsNull() && d.Kind() == datum.KindString && e.typ != datum.TypeUnknown && e.typ.Kind() != datum.KindString {
			return datum.Parse(e.typ, d.Str())
		}
		return d, nil
	case e.col > 0:
		return row[e.col-1], nil
	}
	return e.val, nil
}

var pgTypeNames = map[datum.Type]string{
	datum.TypeBool: "bool", datum.TypeInt2: "int2", datum.TypeInt4: "int4", datum.TypeInt8: "int8",
	datum.TypeFloat4: "float4", datum.TypeFloat8: "float8", datum.TypeNumeric: "numeric",
	datum.TypeText: "text", datum.TypeVarchar: "varchar", datum.TypeBytea: "bytea",
	datum.TypeTimestamp: "timestamp", datum.TypeTimestampTZ: "timestamptz", datum.TypeDate: "date",
	datum.TypeInterval: "interval", datum.TypeUUID: "uuid", datum.TypeJSON: "json", datum.TypeOID: "oid",
}

func (p *fakeParser) typeName() (datum.Type, error) {
	n, err := p.name()
	if err != nil {
		return 0, err
	}
	if n == "double" && p.word("precision") {
		n = "double precision"
	}
	if n == "timestamp" && p.word("with") {
		p.word("time")
		p.word("zone")
		n = "timestamptz"
	}
	t, ok := datum.ParseTypeName(n)
	if !ok {
		return 0, pgerr.New(pgerr.UndefinedObject, "type \"%s\" does not exist", n)
	}
	return t, nil
}

// expr reads a literal, $n, NULL, a column name, or 1/0, with an optional
// ::type cast.
func (p *fakeParser) expr(cols []engine.Column) (fakeExpr, error) {
	t, ok := p.peek()
	if !ok {
		return fakeExpr{}, p.syntaxErr()
	}
	p.i++
	e := fakeExpr{name: "?column?"}
	switch {
	case t.kind == tokNumber:
		if strings.ContainsAny(t.val, ".eE") {
			f, _ := strconv.ParseFloat(t.val, 64)
			e.typ, e.val = datum.TypeNumeric, datum.NewFloat(f)
		} else {
			v, err := strconv.ParseInt(t.val, 10, 64)
			if err != nil {
				return e, pgerr.New(pgerr.NumericValueOutOfRange, "value out of range")
			}
			e.typ, e.val = datum.TypeInt4, datum.NewInt(v)
			if v > 1<<31-1 {
				e.typ = datum.TypeInt8
			}
		}
		if p.punct("/") {
			if p.punct("0") || p.peekNumber("0") {
				e.div0 = true
			}
		}
	case t.kind == tokString:
		e.typ, e.val = datum.TypeUnknown, datum.NewString(t.val)
	case t.kind == tokParam:
		n, _ := strconv.Atoi(t.val[1:])
		e.param = n
		e.typ = datum.TypeUnknown
		if n-1 < len(p.declared) {
			e.typ = p.declared[n-1]
		}
	case t.kind == tokWord && t.val == "null":
		e.typ, e.val = datum.TypeUnknown, datum.Null
	case t.kind == tokWord && (t.val == "true" || t.val == "false"):
		e.typ, e.val, e.name = datum.TypeBool, datum.NewBool(t.val == "true"), "bool"
	case (t.kind == tokWord || t.kind == tokIdent) && cols != nil:
		i := colIndex(cols, t.val)
		if i < 0 {
			return e, pgerr.New(pgerr.UndefinedColumn, "column \"%s\" does not exist", t.val).WithPos(t.pos + 1)
		}
		e.col, e.typ, e.name = i+1, cols[i].Type, t.val
	default:
		p.i--
		return e, p.syntaxErr()
	}
	if p.punct(":") {
		if !p.punct(":") {
			return e, p.syntaxErr()
		}
		typ, err := p.typeName()
		if err != nil {
			return e, err
		}
		e.name = pgTypeNames[typ]
		if e.param == 0 && e.col == 0 && !e.val.IsNull() {
			v, err := datum.Parse(typ, e.val.Format())
			if err != nil {
				return e, err
			}
			e.val = v
		}
		e.typ = typ
	}
	if e.param > 0 {
		p.param(e.param, e.typ)
		e.typ = p.params[e.param-1]
	}
	if e.typ == datum.TypeUnknown && e.param == 0 && !e.val.IsNull() {
		e.typ = datum.TypeText
	}
	if p.word("as") {
		n, err := p.name()
		if err != nil {
			return e, err
		}
		e.name = n
	}
	return e, nil
}

func (p *fakeParser) peekNumber(v string) bool {
	t, ok := p.peek()
	if ok && t.kind == tokNumber && t.val == v {
		p.i++
		return true
	}
	return false
}

func (s *fakeSession) parse(text string, declared []datum.Type) (*fakeStmt, error) {
	p := &fakeParser{s: &scanner{src: text}, text: text, declared: declared}
	for {
		t, ok := p.s.next()
		if !ok {
			break
		}
		p.toks = append(p.toks, t)
	}
	if n := len(p.toks); n > 0 && p.toks[n-1].kind == tokPunct && p.toks[n-1].val == ";" {
		p.toks = p.toks[:n-1]
	}
	st := &fakeStmt{}
	st.Text = text
	var err error
	switch {
	case p.word("select"):
		err = s.parseSelect(p, st)
	case p.word("create"):
		err = s.parseCreate(p, st)
	case p.word("drop"):
		err = s.parseDrop(p, st)
	case p.word("insert"):
		err = s.parseInsert(p, st)
	case p.word("set"):
		p.word("session")
		var name string
		if name, err = p.name(); err != nil {
			return nil, err
		}
		if !p.punct("=") && !p.word("to") {
			return nil, p.syntaxErr()
		}
		t, ok := p.peek()
		if !ok {
			return nil, p.syntaxErr()
		}
		p.i++
		val := t.val
		st.run = func(context.Context, []datum.Datum) (*engine.Result, error) {
			return &engine.Result{Tag: "SET"}, s.SetSetting(name, val)
		}
	case p.word("show"):
		var name string
		if name, err = p.name(); err != nil {
			return nil, err
		}
		st.columns = []engine.Column{{Name: name, Type: datum.TypeText}}
		st.run = func(context.Context, []datum.Datum) (*engine.Result, error) {
			v, ok := s.Setting(name)
			if !ok {
				return nil, pgerr.New(pgerr.UndefinedObject, "unrecognized configuration parameter \"%s\"", name)
			}
			return &engine.Result{Columns: st.columns, Rows: []datum.Row{{datum.NewString(v)}}, Tag: "SHOW"}, nil
		}
	default:
		return nil, p.syntaxErr()
	}
	if err != nil {
		return nil, err
	}
	if _, ok := p.peek(); ok {
		return nil, p.syntaxErr()
	}
	st.paramTypes = p.params
	return st, nil
}

func (s *fakeSession) parseSelect(p *fakeParser, st *fakeStmt) error {
	// SELECT pg_sleep(seconds)
	if p.word("pg_sleep") {
		if !p.punct("(") {
			return p.syntaxErr()
		}
		e, err := p.expr(nil)
		if err != nil {
			return err
		}
		if !p.punct(")") {
			return p.syntaxErr()
		}
		st.columns = []engine.Column{{Name: "pg_sleep", Type: datum.TypeText}}
		st.run = func(ctx context.Context, params []datum.Datum) (*engine.Result, error) {
			d, _ := e.eval(params, nil)
			secs, _ := strconv.ParseFloat(d.Format(), 64)
			select {
			case <-time.After(time.Duration(secs * float64(time.Second))):
			case <-ctx.Done():
				return nil, pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
			}
			return &engine.Result{Columns: st.columns, Rows: []datum.Row{{datum.NewString("")}}, Tag: "SELECT 1"}, nil
		}
		return nil
	}
	// Find FROM to know the columns in scope.
	var table *fakeTable
	var tableName string
	for j := p.i; j < len(p.toks); j++ {
		if p.toks[j].kind == tokWord && p.toks[j].val == "from" && j+1 < len(p.toks) {
			tableName = p.toks[j+1].val
			s.b.mu.Lock()
			table = s.b.tables[tableName]
			s.b.mu.Unlock()
			if table == nil {
				return pgerr.New(pgerr.UndefinedTable, "relation \"%s\" does not exist", tableName).WithPos(p.toks[j+1].pos + 1)
			}
			break
		}
	}
	var cols []engine.Column
	if table != nil {
		cols = table.cols
	}
	var items []fakeExpr
	if p.punct("*") {
		if table == nil {
			return pgerr.New(pgerr.SyntaxError, "SELECT * with no tables specified is not valid")
		}
		for i, c := range cols {
			items = append(items, fakeExpr{typ: c.Type, name: c.Name, col: i + 1})
		}
	} else {
		for {
			e, err := p.expr(cols)
			if err != nil {
				return err
			}
			items = append(items, e)
			if !p.punct(",") {
				break
			}
		}
	}
	var filter *[2]fakeExpr
	if table != nil {
		if !p.word("from") {
			return p.syntaxErr()
		}
		p.i++ // table name
		if p.word("where") {
			l, err := p.expr(cols)
			if err != nil {
				return err
			}
			if !p.punct("=") {
				return p.syntaxErr()
			}
			r, err := p.expr(cols)
			if err != nil {
				return err
			}
			if r.param > 0 && l.col > 0 {
				p.param(r.param, l.typ)
				r.typ = p.params[r.param-1]
			}
			filter = &[2]fakeExpr{l, r}
		}
	}
	for i := range items {
		if items[i].param > 0 {
			items[i].typ = p.params[items[i].param-1]
		}
		st.columns = append(st.columns, engine.Column{Name: items[i].name, Type: items[i].typ})
	}
	st.run = func(ctx context.Context, params []datum.Datum) (*engine.Result, error) {
		res := &engine.Result{Columns: st.columns}
		var rows []datum.Row
		if table == nil {
			rows = []datum.Row{nil}
		} else {
			s.b.mu.Lock()
			rows = append(rows, table.rows...)
			s.b.mu.Unlock()
		}
		for _, r := range rows {
			if filter != nil {
				a, err := filter[0].eval(params, r)
				if err != nil {
					return nil, err
				}
				b, err := filter[1].eval(params, r)
				if err != nil {
					return nil, err
				}
				if a.IsNull() || b.IsNull() || a.Format() != b.Format() {
					continue
				}
			}
			out := make(datum.Row, len(items))
			for i, e := range items {
				v, err := e.eval(params, r)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			res.Rows = append(res.Rows, out)
		}
		res.Tag = fmt.Sprintf("SELECT %d", len(res.Rows))
		return res, nil
	}
	return nil
}

func (s *fakeSession) parseCreate(p *fakeParser, st *fakeStmt) error {
	if !p.word("table") {
		return p.syntaxErr()
	}
	name, err := p.name()
	if err != nil {
		return err
	}
	if !p.punct("(") {
		return p.syntaxErr()
	}
	var cols []engine.Column
	for {
		cn, err := p.name()
		if err != nil {
			return err
		}
		typ, err := p.typeName()
		if err != nil {
			return err
		}
		cols = append(cols, engine.Column{Name: cn, Type: typ})
		if p.punct(",") {
			continue
		}
		if p.punct(")") {
			break
		}
		return p.syntaxErr()
	}
	st.run = func(context.Context, []datum.Datum) (*engine.Result, error) {
		s.b.mu.Lock()
		defer s.b.mu.Unlock()
		if s.b.tables[name] != nil {
			return nil, pgerr.New(pgerr.DuplicateTable, "relation \"%s\" already exists", name)
		}
		s.b.tables[name] = &fakeTable{cols: cols}
		return &engine.Result{Tag: "CREATE TABLE"}, nil
	}
	return nil
}

func (s *fakeSession) parseDrop(p *fakeParser, st *fakeStmt) error {
	if !p.word("table") {
		return p.syntaxErr()
	}
	ifExists := p.word("if") && p.word("exists")
	name, err := p.name()
	if err != nil {
		return err
	}
	st.run = func(context.Context, []datum.Datum) (*engine.Result, error) {
		s.b.mu.Lock()
		defer s.b.mu.Unlock()
		if s.b.tables[name] == nil && !ifExists {
			return nil, pgerr.New(pgerr.UndefinedTable, "table \"%s\" does not exist", name)
		}
		delete(s.b.tables, name)
		return &engine.Result{Tag: "DROP TABLE"}, nil
	}
	return nil
}

func (s *fakeSession) parseInsert(p *fakeParser, st *fakeStmt) error {
	if !p.word("into") {
		return p.syntaxErr()
	}
	t, _ := p.peek()
	name, err := p.name()
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	table := s.b.tables[name]
	s.b.mu.Unlock()
	if table == nil {
		return pgerr.New(pgerr.UndefinedTable, "relation \"%s\" does not exist", name).WithPos(t.pos + 1)
	}
	idx := make([]int, len(table.cols))
	for i := range idx {
		idx[i] = i
	}
	if p.punct("(") {
		idx = idx[:0]
		for {
			cn, err := p.name()
			if err != nil {
				return err
			}
			i := colIndex(table.cols, cn)
			if i < 0 {
				return pgerr.New(pgerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", cn, name)
			}
			idx = append(idx, i)
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return p.syntaxErr()
			}
		}
	}
	if !p.word("values") {
		return p.syntaxErr()
	}
	var tuples [][]fakeExpr
	for {
		if !p.punct("(") {
			return p.syntaxErr()
		}
		var tuple []fakeExpr
		for {
			e, err := p.expr(nil)
			if err != nil {
				return err
			}
			if len(tuple) < len(idx) && e.param > 0 {
				p.param(e.param, table.cols[idx[len(tuple)]].Type)
			}
			tuple = append(tuple, e)
			if p.punct(")") {
				break
			}
			if !p.punct(",") {
				return p.syntaxErr()
			}
		}
		if len(tuple) != len(idx) {
			return pgerr.New(pgerr.SyntaxError, "INSERT has more expressions than target columns")
		}
		tuples = append(tuples, tuple)
		if !p.punct(",") {
			break
		}
	}
	st.run = func(ctx context.Context, params []datum.Datum) (*engine.Result, error) {
		var rows []datum.Row
		for _, tuple := range tuples {
			row := make(datum.Row, len(table.cols))
			for i, e := range tuple {
				v, err := e.eval(params, nil)
				if err != nil {
					return nil, err
				}
				ct := table.cols[idx[i]].Type
				if !v.IsNull() && v.Kind() == datum.KindString && ct.Kind() != datum.KindString {
					if v, err = datum.Parse(ct, v.Str()); err != nil {
						return nil, err
					}
				}
				row[idx[i]] = v
			}
			rows = append(rows, row)
		}
		s.b.mu.Lock()
		table.rows = append(table.rows, rows...)
		s.b.mu.Unlock()
		return &engine.Result{Tag: fmt.Sprintf("INSERT 0 %d", len(rows))}, nil
	}
	return nil
}
