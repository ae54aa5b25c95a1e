package sql

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// parser parses one statement's tokens. Weir's own statements are parsed
// here by recursive descent; relational statements (SELECT, INSERT, UPDATE,
// DELETE, VALUES) and expressions are handed to the rewriter and TiDB's
// parser (dml.go).
type parser struct {
	src  string // the text the tokens index (after ${NAME} expansion)
	m    *srcMap
	toks []token
	i    int
}

// eof returns the pseudo-token after the last one.
func (p *parser) eof() token {
	end := 0
	if len(p.toks) > 0 {
		end = p.toks[len(p.toks)-1].end
	}
	return token{kind: tEOF, pos: end, end: end}
}

func (p *parser) tok(i int) token {
	if i >= 0 && i < len(p.toks) {
		return p.toks[i]
	}
	return p.eof()
}

func (p *parser) peek() token       { return p.tok(p.i) }
func (p *parser) peekN(n int) token { return p.tok(p.i + n) }

func (p *parser) next() token {
	t := p.tok(p.i)
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *parser) atEnd() bool { return p.i >= len(p.toks) }

// acceptWords consumes the given sequence of unquoted words if present.
func (p *parser) acceptWords(ws ...string) bool {
	for k, w := range ws {
		if !p.peekN(k).isWord(w) {
			return false
		}
	}
	p.i += len(ws)
	return true
}

func (p *parser) acceptPunct(s string) bool {
	if p.peek().isPunct(s) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectWords(ws ...string) error {
	for _, w := range ws {
		if !p.peek().isWord(w) {
			return p.syntaxErrAt(p.i)
		}
		p.i++
	}
	return nil
}

func (p *parser) expectPunct(s string) error {
	if !p.acceptPunct(s) {
		return p.syntaxErrAt(p.i)
	}
	return nil
}

func (p *parser) pos(off int) Pos { return p.m.pos(off) }

// syntaxErrAt is PostgreSQL's "syntax error at or near" for token i.
func (p *parser) syntaxErrAt(i int) *pgerr.Error {
	t := p.tok(i)
	var e *pgerr.Error
	if t.kind == tEOF {
		e = pgerr.New(pgerr.SyntaxError, "syntax error at end of input")
	} else {
		e = pgerr.New(pgerr.SyntaxError, "syntax error at or near \"%s\"", p.src[t.pos:t.end])
	}
	e.Pos = t.pos + 1
	return e
}

// errAt returns an error positioned at byte offset off of p.src.
func (p *parser) errAt(off int, code, format string, args ...any) *pgerr.Error {
	e := pgerr.New(code, format, args...)
	e.Pos = off + 1
	return e
}

// fixed positions err in the submitted text.
func (p *parser) fixed(err error) *pgerr.Error {
	e := pgerr.Wrap(err)
	p.m.fix(e)
	return e
}

// parseStatement parses all of p.toks as one statement.
func (p *parser) parseStatement() (Statement, error) {
	s, err := p.statement(0, len(p.toks))
	if err != nil {
		return nil, err
	}
	return s, nil
}

// statement parses toks[lo:hi] as one statement and sets its StmtSource.
func (p *parser) statement(lo, hi int) (Statement, error) {
	saved := p.toks
	p.toks = p.toks[:hi]
	p.i = lo
	s, err := p.statementBody()
	if err == nil && !p.atEnd() {
		err = p.syntaxErrAt(p.i)
	}
	p.toks = saved
	if err != nil {
		return nil, err
	}
	p.setSource(s, lo, hi)
	return s, nil
}

func (p *parser) setSource(s Statement, lo, hi int) {
	first, last := p.tok(lo), p.tok(hi-1)
	*s.Source() = StmtSource{Text: p.src[first.pos:last.end], Start: p.pos(first.pos)}
}

func (p *parser) statementBody() (Statement, error) {
	t := p.peek()
	if t.isPunct("(") {
		return p.dml(p.i, len(p.toks))
	}
	if t.kind != tIdent {
		return nil, p.syntaxErrAt(p.i)
	}
	switch t.val {
	case "select", "with", "values", "insert", "update", "delete":
		return p.dml(p.i, len(p.toks))
	case "create":
		return p.create()
	case "alter":
		p.next()
		if err := p.expectWords("job"); err != nil {
			return nil, err
		}
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		return p.alterJobUpdate(name)
	case "drain", "cancel":
		p.next()
		if err := p.expectWords("job"); err != nil {
			return nil, err
		}
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		return &JobControl{Action: strings.ToUpper(t.val), Name: name}, nil
	case "drop":
		return p.drop()
	case "show":
		return p.show()
	case "explain":
		return p.explain()
	case "set":
		return p.set()
	case "begin", "start", "commit", "end", "rollback", "abort":
		return p.txn()
	case "copy":
		return p.copyStmt()
	}
	return nil, p.syntaxErrAt(p.i)
}

// name reads an object name: an identifier, quoted or not.
func (p *parser) name() (string, error) {
	t := p.peek()
	if t.kind != tIdent && t.kind != tQIdent {
		return "", p.syntaxErrAt(p.i)
	}
	p.i++
	return t.val, nil
}

// qualifiedName reads name[.name...] joined by '.'.
func (p *parser) qualifiedName() (string, error) {
	n, err := p.name()
	if err != nil {
		return "", err
	}
	for p.peek().isPunct(".") {
		p.i++
		m, err := p.name()
		if err != nil {
			return "", err
		}
		n += "." + m
	}
	return n, nil
}

func (p *parser) ifNotExists() bool { return p.acceptWords("if", "not", "exists") }

func (p *parser) create() (Statement, error) {
	p.next() // CREATE
	kw := p.peek()
	if kw.kind != tIdent {
		return nil, p.syntaxErrAt(p.i)
	}
	switch kw.val {
	case "source":
		p.next()
		ine := p.ifNotExists()
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		s := &CreateSource{Name: name, IfNotExists: ine}
		if p.peek().isPunct("(") {
			cols, pk, wm, err := p.columns(true, false)
			if err != nil {
				return nil, err
			}
			_ = pk
			s.Columns, s.Watermark = cols, wm
		}
		if p.peek().isWord("partition") {
			s.PartitionPos = p.pos(p.peek().pos)
			p.next()
			if err := p.expectWords("by"); err != nil {
				return nil, err
			}
			if err := p.expectPunct("("); err != nil {
				return nil, err
			}
			for {
				c, err := p.name()
				if err != nil {
					return nil, err
				}
				s.PartitionBy = append(s.PartitionBy, c)
				if !p.peek().isPunct(",") {
					break
				}
				p.next()
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
		}
		if s.With, err = p.withOptions(); err != nil {
			return nil, err
		}
		return s, nil
	case "table":
		p.next()
		ine := p.ifNotExists()
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if !p.peek().isPunct("(") {
			return nil, p.syntaxErrAt(p.i)
		}
		cols, pk, _, err := p.columns(false, true)
		if err != nil {
			return nil, err
		}
		return &CreateTable{Name: name, IfNotExists: ine, Columns: cols, PrimaryKey: pk}, nil
	case "sink":
		p.next()
		ine := p.ifNotExists()
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		s := &CreateSink{Name: name, IfNotExists: ine}
		if p.peek().isPunct("(") {
			if s.Columns, s.PrimaryKey, _, err = p.columns(false, true); err != nil {
				return nil, err
			}
		}
		if s.With, err = p.withOptions(); err != nil {
			return nil, err
		}
		return s, nil
	case "job":
		p.next()
		return p.createJob()
	case "template":
		p.next()
		return p.createTemplate()
	case "snapshot":
		p.next()
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if err := p.expectWords("for", "job"); err != nil {
			return nil, err
		}
		job, err := p.name()
		if err != nil {
			return nil, err
		}
		return &CreateSnapshot{Name: name, Job: job, WithSource: p.acceptWords("with", "source")}, nil
	}
	return nil, p.syntaxErrAt(p.i)
}

func (p *parser) createJob() (Statement, error) {
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	j := &CreateJob{Name: name}
	if p.peek().isWord("with") {
		if j.With, err = p.withOptions(); err != nil {
			return nil, err
		}
	}
	if p.acceptWords("from") {
		switch {
		case p.acceptWords("snapshot"):
			if j.FromSnapshot, err = p.name(); err != nil {
				return nil, err
			}
		case p.acceptWords("template"):
			if j.FromTemplate, err = p.name(); err != nil {
				return nil, err
			}
		default:
			return nil, p.syntaxErrAt(p.i)
		}
		if p.peek().isWord("with") && j.With == nil {
			if j.With, err = p.withOptions(); err != nil {
				return nil, err
			}
		}
		if j.FromTemplate != "" || p.atEnd() {
			return j, nil
		}
	}
	if err := p.expectWords("as"); err != nil {
		return nil, err
	}
	if j.Insert, err = p.insertRange(p.i, len(p.toks)); err != nil {
		return nil, err
	}
	p.i = len(p.toks)
	return j, nil
}

// insertRange parses toks[lo:hi] as an INSERT statement.
func (p *parser) insertRange(lo, hi int) (*Insert, error) {
	if !p.tok(lo).isWord("insert") {
		return nil, p.syntaxErrAt(lo)
	}
	s, err := p.dml(lo, hi)
	if err != nil {
		return nil, err
	}
	ins, ok := s.(*Insert)
	if !ok {
		return nil, p.syntaxErrAt(lo)
	}
	p.setSource(ins, lo, hi)
	return ins, nil
}

func (p *parser) createTemplate() (Statement, error) {
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	t := &CreateTemplate{Name: name}
	if p.peek().isPunct("(") {
		if t.Params, _, _, err = p.columns(false, false); err != nil {
			return nil, err
		}
	}
	if err := p.expectWords("as"); err != nil {
		return nil, err
	}
	if p.atEnd() {
		return nil, p.syntaxErrAt(p.i)
	}
	first := p.peek()
	last := p.toks[len(p.toks)-1]
	t.Body = p.src[first.pos:last.end]
	t.BodyPos = p.pos(first.pos)
	p.i = len(p.toks)
	return t, nil
}

// alterJobUpdate parses UPDATE [WITH (...)] AS INSERT ... [WITH MAPPING (...)]
// after ALTER JOB name (or EXPLAIN JOB name).
func (p *parser) alterJobUpdate(name string) (*AlterJob, error) {
	if err := p.expectWords("update"); err != nil {
		return nil, err
	}
	a := &AlterJob{Name: name}
	var err error
	if p.peek().isWord("with") && !p.peekN(1).isWord("mapping") {
		if a.With, err = p.withOptions(); err != nil {
			return nil, err
		}
	}
	if err := p.expectWords("as"); err != nil {
		return nil, err
	}
	// The INSERT runs up to a top-level WITH MAPPING, if any.
	end := len(p.toks)
	depth := 0
	for k := p.i; k < len(p.toks); k++ {
		t := p.toks[k]
		switch {
		case t.isPunct("("):
			depth++
		case t.isPunct(")"):
			depth--
		case depth == 0 && t.isWord("with") && p.tok(k+1).isWord("mapping"):
			end = k
		}
	}
	if a.Insert, err = p.insertRange(p.i, end); err != nil {
		return nil, err
	}
	p.i = end
	if p.acceptWords("with", "mapping") {
		if a.Mapping, err = p.optionList(false); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (p *parser) drop() (Statement, error) {
	p.next()
	kw := p.peek()
	switch {
	case kw.isWord("source"), kw.isWord("table"), kw.isWord("sink"), kw.isWord("job"),
		kw.isWord("snapshot"), kw.isWord("template"):
	default:
		return nil, p.syntaxErrAt(p.i)
	}
	p.next()
	d := &Drop{Kind: strings.ToUpper(kw.val)}
	d.IfExists = p.acceptWords("if", "exists")
	var err error
	if d.Name, err = p.name(); err != nil {
		return nil, err
	}
	return d, nil
}

func (p *parser) show() (Statement, error) {
	p.next()
	t := p.peek()
	if t.kind != tIdent && t.kind != tQIdent {
		return nil, p.syntaxErrAt(p.i)
	}
	if t.kind == tIdent {
		switch t.val {
		case "jobs", "tables", "sources", "sinks", "snapshots", "templates", "all":
			p.next()
			return &Show{What: strings.ToUpper(t.val)}, nil
		case "transaction":
			if p.acceptWords("transaction", "isolation", "level") {
				return &Show{What: "transaction_isolation"}, nil
			}
		case "time":
			if p.acceptWords("time", "zone") {
				return &Show{What: "timezone"}, nil
			}
		case "session":
			if p.acceptWords("session", "authorization") {
				return &Show{What: "session_authorization"}, nil
			}
		}
	}
	name, err := p.qualifiedName()
	if err != nil {
		return nil, err
	}
	return &Show{What: strings.ToLower(name)}, nil
}

func (p *parser) explain() (Statement, error) {
	p.next()
	e := &Explain{}
	if p.acceptWords("job") {
		t := p.peek()
		if (t.kind == tIdent || t.kind == tQIdent) && !isStatementStart(t) {
			name, _ := p.name()
			e.Job = name
			if p.atEnd() {
				return e, nil
			}
			lo := p.i - 2 // JOB name
			u, err := p.alterJobUpdate(name)
			if err != nil {
				return nil, err
			}
			p.setSource(u, lo, len(p.toks))
			e.Update = u
			return e, nil
		}
	}
	if p.atEnd() {
		return nil, p.syntaxErrAt(p.i)
	}
	lo := p.i
	saved := p.toks
	s, err := p.statement(lo, len(p.toks))
	p.toks = saved
	if err != nil {
		return nil, err
	}
	p.i = len(p.toks)
	e.Stmt = s
	return e, nil
}

func isStatementStart(t token) bool {
	if t.kind != tIdent {
		return false
	}
	switch t.val {
	case "create", "insert", "select", "with", "values", "update", "delete", "alter":
		return true
	}
	return false
}

func (p *parser) set() (Statement, error) {
	p.next()
	if p.acceptWords("session", "characteristics", "as", "transaction") || p.acceptWords("transaction") {
		s := &Set{Name: "transaction"}
		for !p.atEnd() {
			s.Values = append(s.Values, strings.ToLower(p.src[p.peek().pos:p.peek().end]))
			p.next()
		}
		return s, nil
	}
	if !p.acceptWords("session") {
		p.acceptWords("local")
	}
	s := &Set{}
	switch {
	case p.acceptWords("time", "zone"):
		s.Name = "timezone"
	case p.acceptWords("names"):
		s.Name = "client_encoding"
	default:
		name, err := p.qualifiedName()
		if err != nil {
			return nil, err
		}
		s.Name = strings.ToLower(name)
		if !p.acceptWords("to") {
			if !p.peek().is(tOp, "=") {
				return nil, p.syntaxErrAt(p.i)
			}
			p.next()
		}
	}
	for {
		v, err := p.optionValue()
		if err != nil {
			return nil, err
		}
		s.Values = append(s.Values, v)
		if !p.acceptPunct(",") {
			break
		}
	}
	return s, nil
}

func (p *parser) txn() (Statement, error) {
	t := p.next()
	action := "BEGIN"
	switch t.val {
	case "start":
		if err := p.expectWords("transaction"); err != nil {
			return nil, err
		}
	case "begin":
		if !p.acceptWords("work") {
			p.acceptWords("transaction")
		}
	case "commit", "end":
		action = "COMMIT"
		if !p.acceptWords("work") {
			p.acceptWords("transaction")
		}
	case "rollback", "abort":
		action = "ROLLBACK"
		if !p.acceptWords("work") {
			p.acceptWords("transaction")
		}
	}
	if action == "BEGIN" {
		// Transaction modes (ISOLATION LEVEL ..., READ ONLY, ...) are
		// accepted and ignored.
		for !p.atEnd() {
			t := p.peek()
			if t.kind != tIdent && !t.isPunct(",") {
				return nil, p.syntaxErrAt(p.i)
			}
			p.next()
		}
	}
	return &Txn{Action: action}, nil
}

func (p *parser) copyStmt() (Statement, error) {
	p.next()
	c := &Copy{}
	if p.acceptWords("binary") {
		c.Options = append(c.Options, Option{Key: "format", Value: "binary", Pos: p.pos(p.tok(p.i - 1).pos)})
	}
	if p.peek().isPunct("(") {
		// COPY (query) TO STDOUT
		lo := p.i + 1
		hi := p.matching(p.i)
		if hi < 0 {
			return nil, p.syntaxErrAt(len(p.toks))
		}
		s, err := p.dml(lo, hi)
		if err != nil {
			return nil, err
		}
		qs, ok := s.(*QueryStmt)
		if !ok {
			return nil, p.syntaxErrAt(lo)
		}
		sel, ok := qs.Query.(*Select)
		if !ok {
			return nil, p.errAt(p.tok(lo).pos, pgerr.FeatureNotSupported, "COPY of a set operation is not supported")
		}
		c.Query = sel
		p.i = hi + 1
	} else {
		name, err := p.qualifiedName()
		if err != nil {
			return nil, err
		}
		c.Table = name
		if p.peek().isPunct("(") {
			p.next()
			for {
				col, err := p.name()
				if err != nil {
					return nil, err
				}
				c.Columns = append(c.Columns, col)
				if !p.acceptPunct(",") {
					break
				}
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case p.acceptWords("from"):
		c.From = true
		if err := p.expectWords("stdin"); err != nil {
			return nil, err
		}
	case p.acceptWords("to"):
		if err := p.expectWords("stdout"); err != nil {
			return nil, err
		}
	default:
		return nil, p.syntaxErrAt(p.i)
	}
	if c.Query != nil && c.From {
		return nil, p.syntaxErrAt(p.i - 2)
	}
	p.acceptWords("with")
	if p.peek().isPunct("(") {
		p.next()
		for {
			kt := p.peek()
			if kt.kind != tIdent && kt.kind != tQIdent {
				return nil, p.syntaxErrAt(p.i)
			}
			p.next()
			o := Option{Key: strings.ToLower(kt.val), Pos: p.pos(kt.pos)}
			if t := p.peek(); !t.isPunct(",") && !t.isPunct(")") {
				v, err := p.optionValue()
				if err != nil {
					return nil, err
				}
				o.Value = v
			} else {
				o.Value = "true"
			}
			c.Options = append(c.Options, o)
			if !p.acceptPunct(",") {
				break
			}
		}
		return c, p.expectPunct(")")
	}
	// Old-style options: BINARY, CSV, HEADER, DELIMITER [AS] 'x', NULL [AS] 'x', ...
	for !p.atEnd() {
		kt := p.next()
		o := Option{Pos: p.pos(kt.pos)}
		switch {
		case kt.isWord("binary"), kt.isWord("csv"):
			o.Key, o.Value = "format", kt.val
		case kt.isWord("header"):
			o.Key, o.Value = "header", "true"
		case kt.isWord("delimiter"), kt.isWord("null"), kt.isWord("quote"), kt.isWord("escape"), kt.isWord("encoding"):
			p.acceptWords("as")
			if p.peek().kind != tString {
				return nil, p.syntaxErrAt(p.i)
			}
			o.Key, o.Value = kt.val, p.next().val
		default:
			return nil, p.syntaxErrAt(p.i - 1)
		}
		c.Options = append(c.Options, o)
	}
	return c, nil
}

// matching returns the index of the ')' closing the '(' at i, or -1.
func (p *parser) matching(i int) int {
	depth := 0
	for k := i; k < len(p.toks); k++ {
		switch {
		case p.toks[k].isPunct("(") || p.toks[k].isPunct("["):
			depth++
		case p.toks[k].isPunct(")") || p.toks[k].isPunct("]"):
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// withOptions parses an optional WITH (key = value, ...).
func (p *parser) withOptions() ([]Option, error) {
	if !p.acceptWords("with") {
		return nil, nil
	}
	return p.optionList(true)
}

// optionList parses (key = value, ...). Keys are identifiers (dotted
// allowed) or strings, lower-cased when lower is set (WITH options, not
// operator names of WITH MAPPING); values are literals as text.
func (p *parser) optionList(lower bool) ([]Option, error) {
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	var opts []Option
	if p.acceptPunct(")") {
		return []Option{}, nil
	}
	for {
		kt := p.peek()
		var key string
		switch kt.kind {
		case tString:
			p.next()
			key = kt.val
		case tIdent, tQIdent:
			k, err := p.qualifiedName()
			if err != nil {
				return nil, err
			}
			key = k
		default:
			return nil, p.syntaxErrAt(p.i)
		}
		if !p.peek().is(tOp, "=") {
			return nil, p.syntaxErrAt(p.i)
		}
		p.next()
		v, err := p.optionValue()
		if err != nil {
			return nil, err
		}
		if lower {
			key = strings.ToLower(key)
		}
		opts = append(opts, Option{Key: key, Value: v, Pos: p.pos(kt.pos)})
		if !p.acceptPunct(",") {
			break
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, err
	}
	return opts, nil
}

// optionValue reads a literal value: a string, a (signed) number, or a word.
func (p *parser) optionValue() (string, error) {
	t := p.peek()
	switch t.kind {
	case tString, tNumber:
		p.next()
		return t.val, nil
	case tIdent, tQIdent:
		p.next()
		return t.val, nil
	case tOp:
		if (t.val == "-" || t.val == "+") && p.peekN(1).kind == tNumber {
			p.next()
			n := p.next()
			if t.val == "-" {
				return "-" + n.val, nil
			}
			return n.val, nil
		}
	}
	return "", p.syntaxErrAt(p.i)
}

// columns parses ( coldef | WATERMARK FOR col AS expr | PRIMARY KEY (cols), ... ).
func (p *parser) columns(allowWatermark, allowPK bool) ([]ColumnDef, []string, *Watermark, error) {
	if err := p.expectPunct("("); err != nil {
		return nil, nil, nil, err
	}
	var cols []ColumnDef
	var pk []string
	var wm *Watermark
	for {
		t := p.peek()
		switch {
		case t.isWord("watermark") && p.peekN(1).isWord("for"):
			if !allowWatermark || wm != nil {
				return nil, nil, nil, p.syntaxErrAt(p.i)
			}
			p.i += 2
			ct := p.peek()
			col, err := p.name()
			if err != nil {
				return nil, nil, nil, err
			}
			_ = ct
			if err := p.expectWords("as"); err != nil {
				return nil, nil, nil, err
			}
			end := p.exprEnd(p.i)
			if end == p.i {
				return nil, nil, nil, p.syntaxErrAt(p.i)
			}
			e, err := p.parseExprRange(p.i, end)
			if err != nil {
				return nil, nil, nil, err
			}
			p.i = end
			wm = &Watermark{Column: col, Expr: e, Pos: p.pos(t.pos)}
		case t.isWord("primary") && p.peekN(1).isWord("key"):
			if !allowPK || pk != nil {
				return nil, nil, nil, p.syntaxErrAt(p.i)
			}
			p.i += 2
			if err := p.expectPunct("("); err != nil {
				return nil, nil, nil, err
			}
			for {
				c, err := p.name()
				if err != nil {
					return nil, nil, nil, err
				}
				pk = append(pk, c)
				if !p.acceptPunct(",") {
					break
				}
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, nil, nil, err
			}
		default:
			name, err := p.name()
			if err != nil {
				return nil, nil, nil, err
			}
			tn, typ, next, err := p.typeName(p.i)
			if err != nil {
				return nil, nil, nil, err
			}
			p.i = next
			cd := ColumnDef{Name: name, Type: typ, TypeName: tn, Pos: p.pos(t.pos)}
		constraints:
			for {
				switch {
				case p.acceptWords("not", "null"):
					cd.NotNull = true
				case p.acceptWords("null"):
				case p.peek().isWord("primary") && p.peekN(1).isWord("key"):
					if !allowPK || pk != nil {
						return nil, nil, nil, p.syntaxErrAt(p.i)
					}
					p.i += 2
					pk = []string{name}
					cd.NotNull = true
				default:
					break constraints
				}
			}
			cols = append(cols, cd)
		}
		if !p.acceptPunct(",") {
			break
		}
	}
	if err := p.expectPunct(")"); err != nil {
		return nil, nil, nil, err
	}
	return cols, pk, wm, nil
}

// exprEnd returns the index of the first ',' or ')' at depth 0 from i.
func (p *parser) exprEnd(i int) int {
	depth := 0
	for k := i; k < len(p.toks); k++ {
		t := p.toks[k]
		switch {
		case t.isPunct("(") || t.isPunct("["):
			depth++
		case t.isPunct(")") || t.isPunct("]"):
			if depth == 0 {
				return k
			}
			depth--
		case t.isPunct(",") && depth == 0:
			return k
		}
	}
	return len(p.toks)
}

// typeName reads a type name starting at token i: [schema.]name with
// PostgreSQL's multi-word forms (double precision, character varying,
// timestamp with time zone), an optional (n[, m]) modifier and [] array
// suffixes. It returns the name as written (whitespace collapsed), the
// datum.Type and the index after it.
func (p *parser) typeName(i int) (string, datum.Type, int, error) {
	start := i
	t := p.tok(i)
	if t.kind != tIdent && t.kind != tQIdent {
		return "", 0, i, p.syntaxErrAt(i)
	}
	words := []string{t.val}
	i++
	if p.tok(i).isPunct(".") && (p.tok(i+1).kind == tIdent || p.tok(i+1).kind == tQIdent) {
		// schema-qualified: only pg_catalog types are known.
		words = []string{p.tok(i + 1).val}
		i += 2
	}
	base := words[0]
	switch {
	case base == "double" && p.tok(i).isWord("precision"):
		words = append(words, "precision")
		i++
	case (base == "character" || base == "char" || base == "bit") && p.tok(i).isWord("varying"):
		words = append(words, "varying")
		i++
	}
	if p.tok(i).isPunct("(") {
		j := i + 1
		for p.tok(j).kind == tNumber || p.tok(j).isPunct(",") {
			j++
		}
		if !p.tok(j).isPunct(")") {
			return "", 0, i, p.syntaxErrAt(j)
		}
		i = j + 1
	}
	if (base == "timestamp" || base == "time") && (p.tok(i).isWord("with") || p.tok(i).isWord("without")) &&
		p.tok(i+1).isWord("time") && p.tok(i+2).isWord("zone") {
		words = append(words, p.tok(i).val, "time", "zone")
		i += 3
	}
	array := false
	for p.tok(i).isPunct("[") {
		j := i + 1
		if p.tok(j).kind == tNumber {
			j++
		}
		if !p.tok(j).isPunct("]") {
			return "", 0, i, p.syntaxErrAt(j)
		}
		i = j + 1
		array = true
	}
	if p.tok(i).isWord("array") {
		i++
		array = true
	}
	written := collapseSpace(p.src[p.tok(start).pos:p.tok(i-1).end])
	if array {
		return written, datum.TypeText, i, nil
	}
	typ, ok := lookupType(strings.Join(words, " "))
	if !ok {
		return "", 0, i, p.errAt(t.pos, pgerr.UndefinedObject, "type %q does not exist", strings.Join(words, " "))
	}
	return written, typ, i, nil
}

// lookupType maps a type name (lower-case, modifiers removed) to a Type:
// datum.ParseTypeName's names plus PostgreSQL catalog types that Weir shows
// as text or oid.
func lookupType(name string) (datum.Type, bool) {
	if t, ok := datum.ParseTypeName(name); ok {
		return t, true
	}
	switch name {
	case "regnamespace", "regprocedure", "regoper", "regoperator", "regrole", "regconfig",
		"regdictionary", "regcollation", "xid", "cid", "xid8":
		return datum.TypeOID, true
	case "char", "name", "tid", "int2vector", "oidvector", "pg_node_tree", "aclitem",
		"inet", "cidr", "macaddr", "money", "time", "timetz", "time with time zone",
		"time without time zone", "bit", "bit varying", "varbit", "xml", "tsvector",
		"citext", "pg_lsn", "anyarray", "record", "unknown", "cstring", "text[]":
		return datum.TypeText, true
	case "smallserial", "serial2":
		return datum.TypeInt2, true
	case "serial4":
		return datum.TypeInt4, true
	case "serial8":
		return datum.TypeInt8, true
	case "decimal", "dec":
		return datum.TypeNumeric, true
	case "float8":
		return datum.TypeFloat8, true
	case "timestamp with local time zone":
		return datum.TypeTimestampTZ, true
	}
	return 0, false
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
