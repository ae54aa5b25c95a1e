package server

import (
	"strings"

	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// copyFormat is a COPY data format.
type copyFormat uint8

const (
	copyText copyFormat = iota
	copyCSV
	copyBinary
)

func (f copyFormat) String() string {
	switch f {
	case copyCSV:
		return "csv"
	case copyBinary:
		return "binary"
	}
	return "text"
}

// copySpec is a parsed COPY statement. The wire layer parses COPY itself
// (rather than through the SQL parser) because COPY is a sub-protocol of
// the connection: its data format decides how CopyData messages are read,
// and clients spell it in several historical forms (pgx sends
// `copy "t" ( "a" ) from stdin binary;`, psql's \copy sends
// `COPY t FROM STDIN WITH CSV HEADER` or the parenthesized option list).
type copySpec struct {
	schema, table string
	columns       []string
	from          bool   // FROM STDIN; else TO STDOUT
	query         string // COPY (query) TO STDOUT
	format        copyFormat
	header        bool
	delimiter     string
	null          string
	nullSet       bool
	quote, escape string
	forceNotNull  []string
	// stmt is what the engine's BeginCopy receives.
	stmt *sql.Copy
}

// copyParser holds the scanner state while parsing a COPY statement.
type copyParser struct {
	s    *scanner
	text string
	tok  token
	ok   bool
}

func (p *copyParser) advance() {
	p.tok, p.ok = p.s.next()
}

func (p *copyParser) isWord(w string) bool { return p.ok && p.tok.kind == tokWord && p.tok.val == w }
func (p *copyParser) isPunct(c string) bool {
	return p.ok && p.tok.kind == tokPunct && p.tok.val == c
}

func (p *copyParser) errf(format string, args ...any) error {
	pos := len(p.text) + 1
	if p.ok {
		pos = p.tok.pos + 1
	}
	return pgerr.New(pgerr.SyntaxError, format, args...).WithPos(pos)
}

func (p *copyParser) syntaxErr() error {
	if !p.ok {
		return p.errf("syntax error at end of input")
	}
	return p.errf("syntax error at or near %q", p.text[p.tok.pos:p.tok.end])
}

// name reads an identifier (word or quoted).
func (p *copyParser) name() (string, error) {
	if !p.ok || (p.tok.kind != tokWord && p.tok.kind != tokIdent) {
		return "", p.syntaxErr()
	}
	v := p.tok.val
	p.advance()
	return v, nil
}

// nameList reads ( a, b, ... ).
func (p *copyParser) nameList() ([]string, error) {
	if !p.isPunct("(") {
		return nil, p.syntaxErr()
	}
	p.advance()
	var out []string
	for {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if p.isPunct(",") {
			p.advance()
			continue
		}
		if p.isPunct(")") {
			p.advance()
			return out, nil
		}
		return nil, p.syntaxErr()
	}
}

// parseCopy parses a COPY statement's text (positions in errors are
// relative to text).
func parseCopy(text string) (*copySpec, error) {
	p := &copyParser{s: &scanner{src: text}, text: text}
	p.advance()
	if !p.isWord("copy") {
		return nil, p.syntaxErr()
	}
	p.advance()
	c := &copySpec{}
	if p.isWord("binary") { // pre-7.3 syntax: COPY BINARY table
		c.format = copyBinary
		p.advance()
	}
	if p.isPunct("(") {
		// COPY (query) TO STDOUT: find the matching parenthesis.
		open := p.tok.end
		depth := 1
		for depth > 0 {
			p.advance()
			if !p.ok {
				return nil, p.syntaxErr()
			}
			switch {
			case p.isPunct("("):
				depth++
			case p.isPunct(")"):
				depth--
			}
		}
		c.query = strings.TrimSpace(text[open:p.tok.pos])
		p.advance()
	} else {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		c.table = n
		if p.isPunct(".") {
			p.advance()
			if c.table, err = p.name(); err != nil {
				return nil, err
			}
			c.schema = n
		}
		if p.isPunct("(") {
			if c.columns, err = p.nameList(); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case p.isWord("from"):
		c.from = true
		p.advance()
		if p.isWord("stdin") {
			p.advance()
		} else {
			return nil, p.notStdio()
		}
	case p.isWord("to"):
		p.advance()
		if p.isWord("stdout") {
			p.advance()
		} else {
			return nil, p.notStdio()
		}
	default:
		return nil, p.syntaxErr()
	}
	if c.query != "" && c.from {
		return nil, pgerr.New(pgerr.SyntaxError, "COPY (query) FROM is not supported")
	}
	if err := p.options(c); err != nil {
		return nil, err
	}
	if p.isPunct(";") {
		p.advance()
	}
	if p.ok {
		return nil, p.syntaxErr()
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	c.stmt = c.sqlCopy(text)
	return c, nil
}

func (p *copyParser) notStdio() error {
	if p.ok && (p.tok.kind == tokString || p.isWord("program")) {
		return pgerr.New(pgerr.FeatureNotSupported, "COPY to or from a file or program is not supported").
			WithHint("Use COPY ... FROM STDIN or TO STDOUT, or psql's \\copy.").WithPos(p.tok.pos + 1)
	}
	return p.syntaxErr()
}

// options parses [WITH] (opt [value], ...) or the legacy option words.
func (p *copyParser) options(c *copySpec) error {
	if p.isWord("with") {
		p.advance()
	}
	if p.isPunct("(") {
		p.advance()
		for {
			name, err := p.name()
			if err != nil {
				return err
			}
			var val string
			var list []string
			hasVal := false
			switch {
			case p.isPunct("("):
				if list, err = p.nameList(); err != nil {
					return err
				}
				hasVal = true
			case p.ok && (p.tok.kind == tokString || p.tok.kind == tokWord || p.tok.kind == tokNumber || p.tok.kind == tokIdent):
				val = p.tok.val
				hasVal = true
				p.advance()
			}
			if err := c.setOption(name, val, hasVal, list); err != nil {
				return err
			}
			if p.isPunct(",") {
				p.advance()
				continue
			}
			if p.isPunct(")") {
				p.advance()
				return nil
			}
			return p.syntaxErr()
		}
	}
	// Legacy: [BINARY] [DELIMITER [AS] 'c'] [NULL [AS] 's'] [CSV [HEADER]
	// [QUOTE [AS] 'q'] [ESCAPE [AS] 'e'] [FORCE NOT NULL cols] [FORCE QUOTE cols]]
	str := func() (string, error) {
		if p.isWord("as") {
			p.advance()
		}
		if !p.ok || p.tok.kind != tokString {
			return "", p.syntaxErr()
		}
		v := p.tok.val
		p.advance()
		return v, nil
	}
	for p.ok && p.tok.kind == tokWord {
		w := p.tok.val
		p.advance()
		var err error
		switch w {
		case "binary":
			c.format = copyBinary
		case "csv":
			c.format = copyCSV
		case "header":
			c.header = true
		case "delimiter":
			c.delimiter, err = str()
		case "null":
			c.null, err = str()
			c.nullSet = true
		case "quote":
			c.quote, err = str()
		case "escape":
			c.escape, err = str()
		case "force":
			if p.isWord("not") {
				p.advance()
				if !p.isWord("null") {
					return p.syntaxErr()
				}
				p.advance()
				for {
					var n string
					if n, err = p.name(); err != nil {
						return err
					}
					c.forceNotNull = append(c.forceNotNull, n)
					if !p.isPunct(",") {
						break
					}
					p.advance()
				}
			} else if p.isWord("quote") {
				p.advance()
				if p.isPunct("*") {
					p.advance()
				} else {
					for {
						if _, err = p.name(); err != nil {
							return err
						}
						if !p.isPunct(",") {
							break
						}
						p.advance()
					}
				}
			} else {
				return p.syntaxErr()
			}
		default:
			return pgerr.New(pgerr.SyntaxError, "syntax error at or near %q", w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *copySpec) setOption(name, val string, hasVal bool, list []string) error {
	boolVal := func() (bool, error) {
		if !hasVal {
			return true, nil
		}
		switch strings.ToLower(val) {
		case "true", "on", "1", "yes":
			return true, nil
		case "false", "off", "0", "no":
			return false, nil
		case "match":
			return true, nil
		}
		return false, pgerr.New(pgerr.InvalidParameterValue, "%s requires a Boolean value", name)
	}
	var err error
	switch name {
	case "format":
		switch strings.ToLower(val) {
		case "text":
			c.format = copyText
		case "csv":
			c.format = copyCSV
		case "binary":
			c.format = copyBinary
		default:
			return pgerr.New(pgerr.InvalidParameterValue, "COPY format \"%s\" not recognized", val)
		}
	case "header":
		c.header, err = boolVal()
	case "delimiter":
		c.delimiter = val
	case "null":
		c.null, c.nullSet = val, true
	case "quote":
		c.quote = val
	case "escape":
		c.escape = val
	case "encoding":
		switch strings.ToLower(strings.ReplaceAll(val, "-", "")) {
		case "utf8", "unicode", "sql_ascii":
		default:
			return pgerr.New(pgerr.FeatureNotSupported, "COPY encoding %q is not supported (only UTF8)", val)
		}
	case "force_not_null":
		c.forceNotNull = list
	case "freeze", "force_quote", "force_null":
		// Accepted and ignored: they change nothing Weir can observe.
	default:
		return pgerr.New(pgerr.SyntaxError, "option \"%s\" not recognized", name)
	}
	return err
}

// check validates option combinations the way PostgreSQL does.
func (c *copySpec) check() error {
	if c.format == copyBinary && (c.delimiter != "" || c.nullSet) {
		return pgerr.New(pgerr.SyntaxError, "cannot specify DELIMITER or NULL in BINARY mode")
	}
	if c.format == copyBinary && c.header {
		return pgerr.New(pgerr.FeatureNotSupported, "cannot specify HEADER in BINARY mode")
	}
	if c.format != copyCSV && (c.quote != "" || c.escape != "") {
		return pgerr.New(pgerr.FeatureNotSupported, "COPY quote and escape are available only in CSV mode")
	}
	if len(c.delimiter) > 1 || len(c.quote) > 1 || len(c.escape) > 1 {
		return pgerr.New(pgerr.FeatureNotSupported, "COPY delimiter, quote and escape must be a single one-byte character")
	}
	if c.delimiter == "\n" || c.delimiter == "\r" {
		return pgerr.New(pgerr.InvalidParameterValue, "COPY delimiter cannot be newline or carriage return")
	}
	return nil
}

// sqlCopy builds the AST node the engine's BeginCopy takes.
func (c *copySpec) sqlCopy(text string) *sql.Copy {
	st := &sql.Copy{Table: c.table, Columns: c.columns, From: c.from}
	st.Text = text
	st.Start = sql.Pos{Offset: 1, Line: 1, Col: 1}
	if c.schema != "" && c.schema != "public" {
		st.Table = c.schema + "." + c.table
	}
	add := func(k, v string) { st.Options = append(st.Options, sql.Option{Key: k, Value: v}) }
	add("format", c.format.String())
	if c.header {
		add("header", "true")
	}
	if c.delimiter != "" {
		add("delimiter", c.delimiter)
	}
	if c.nullSet {
		add("null", c.null)
	}
	if c.quote != "" {
		add("quote", c.quote)
	}
	if c.escape != "" {
		add("escape", c.escape)
	}
	return st
}
