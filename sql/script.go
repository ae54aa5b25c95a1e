package sql

import (
	"sort"
	"unicode/utf8"

	"github.com/weir-sql/weir/pgerr"
)

// ParseScript splits text into statements (at ';' outside quotes, comments,
// $$-strings and parentheses) and parses each. A statement that fails gets
// its own error (Pos, Line and Col relative to text) and parsing continues
// with the next one, so a file of many malformed statements yields one error
// each. Statements that parsed are returned in order. A text without any
// statement (empty, only comments or ';') yields one *Empty.
func ParseScript(text string, opts ParseOptions) ([]Statement, []*pgerr.Error) {
	m := newSrcMap(text)
	src := text
	if opts.Params != nil {
		exp, subs, err := expandParams(text, opts.Params)
		if err != nil {
			m.fix(err)
			return nil, []*pgerr.Error{err}
		}
		src, m.subs = exp, subs
	}
	toks, lexErr := lex(src)
	var stmts []Statement
	var errs []*pgerr.Error
	ranges := splitTokens(toks)
	for _, r := range ranges {
		p := &parser{src: src, m: m, toks: toks[r.lo:r.hi]}
		var err error
		if r.open && lexErr != nil {
			err = lexErr
		} else if r.hi == r.lo {
			continue
		} else {
			var s Statement
			s, err = p.parseStatement()
			if err == nil {
				stmts = append(stmts, s)
				continue
			}
		}
		pe := pgerr.Wrap(err)
		m.fix(pe)
		errs = append(errs, pe)
	}
	if len(stmts) == 0 && len(errs) == 0 {
		stmts = append(stmts, &Empty{StmtSource{Start: Pos{Offset: 1, Line: 1, Col: 1}}})
	}
	return stmts, errs
}

// Parse is ParseScript returning only the first error.
func Parse(text string, opts ParseOptions) ([]Statement, error) {
	stmts, errs := ParseScript(text, opts)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return stmts, nil
}

// ParseOne parses text holding exactly one statement (an *Empty for "" or a
// comment-only text).
func ParseOne(text string) (Statement, error) {
	stmts, err := Parse(text, ParseOptions{})
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		e := pgerr.New(pgerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
		return nil, e
	}
	return stmts[0], nil
}

// ParseExpr parses one scalar expression, such as a watermark expression
// stored as text. Positions are relative to text.
func ParseExpr(text string) (Expr, error) {
	m := newSrcMap(text)
	toks, lexErr := lex(text)
	if lexErr != nil {
		m.fix(lexErr)
		return nil, lexErr
	}
	p := &parser{src: text, m: m, toks: toks}
	if len(toks) == 0 {
		return nil, p.fixed(p.syntaxErrAt(len(toks)))
	}
	e, err := p.parseExprRange(0, len(toks))
	if err != nil {
		return nil, p.fixed(err)
	}
	return e, nil
}

// Split returns the statements of text without parsing them: each one's text
// (without the terminating ';', from its first token to the end of its last)
// and start. Empty statements are left out. A statement cut short by an
// unterminated quote or comment runs to the end of text.
func Split(text string) []StmtSource {
	m := newSrcMap(text)
	toks, lexErr := lex(text)
	var out []StmtSource
	for _, r := range splitTokens(toks) {
		if r.hi == r.lo {
			continue
		}
		start := toks[r.lo].pos
		end := toks[r.hi-1].end
		if r.open && lexErr != nil {
			// A lexing error may have cut the last statement short.
			end = len(text)
			for end > start && isSpace(text[end-1]) {
				end--
			}
		}
		out = append(out, StmtSource{Text: text[start:end], Start: m.pos(start)})
	}
	return out
}

// stmtRange is a statement's tokens toks[lo:hi]; open is set for the last
// range when it is not terminated by ';'.
type stmtRange struct {
	lo, hi int
	open   bool
}

// splitTokens cuts toks at ';' outside parentheses. Ranges without tokens
// are dropped, except the unterminated tail, which is always the last range
// (it may be empty, and may carry a lexing error).
func splitTokens(toks []token) []stmtRange {
	var out []stmtRange
	depth, lo := 0, 0
	for i, t := range toks {
		switch {
		case t.isPunct("(") || t.isPunct("["):
			depth++
		case t.isPunct(")") || t.isPunct("]"):
			if depth > 0 {
				depth--
			}
		case t.isPunct(";") && (depth == 0 || startsStatement(toks, i+1)):
			// A ';' inside unbalanced parentheses still ends the statement
			// when a new statement clearly follows, so one missing ')' does
			// not swallow the rest of a script.
			depth = 0
			if i > lo {
				out = append(out, stmtRange{lo: lo, hi: i})
			}
			lo = i + 1
		}
	}
	return append(out, stmtRange{lo: lo, hi: len(toks), open: true})
}

// startsStatement reports whether toks[i] is a word that begins a statement.
func startsStatement(toks []token, i int) bool {
	if i >= len(toks) || toks[i].kind != tIdent {
		return false
	}
	switch toks[i].val {
	case "select", "insert", "update", "delete", "create", "drop", "alter", "show", "set",
		"explain", "copy", "begin", "commit", "rollback", "drain", "cancel", "values", "with":
		return true
	}
	return false
}

// srcMap converts byte offsets in the parsed text (which differs from the
// submitted text when ${NAME} parameters were expanded) into positions in the
// submitted text.
type srcMap struct {
	orig       string
	lineStarts []int
	subs       []subst
}

// subst records one ${NAME} expansion: orig[origPos:origEnd] became
// parsed[exp:expEnd].
type subst struct {
	exp, expEnd, origPos, origEnd int
}

func newSrcMap(text string) *srcMap {
	m := &srcMap{orig: text, lineStarts: []int{0}}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			m.lineStarts = append(m.lineStarts, i+1)
		}
	}
	return m
}

// origOffset maps a 0-based offset in the parsed text to one in the
// submitted text. Offsets inside an expanded value map to its ${.
func (m *srcMap) origOffset(off int) int {
	delta := 0
	for _, s := range m.subs {
		if off < s.exp {
			break
		}
		if off < s.expEnd {
			return s.origPos
		}
		delta = s.origEnd - s.expEnd
	}
	return off + delta
}

// pos returns the position of a 0-based offset of the parsed text.
func (m *srcMap) pos(off int) Pos {
	o := m.origOffset(off)
	if o > len(m.orig) {
		o = len(m.orig)
	}
	if o < 0 {
		o = 0
	}
	line := sort.Search(len(m.lineStarts), func(i int) bool { return m.lineStarts[i] > o }) - 1
	col := utf8.RuneCountInString(m.orig[m.lineStarts[line]:o]) + 1
	return Pos{Offset: o + 1, Line: line + 1, Col: col}
}

// fix rewrites an error's Pos (1-based, in the parsed text) to the submitted
// text and fills Line and Col.
func (m *srcMap) fix(e *pgerr.Error) {
	if e == nil || e.Pos <= 0 || e.Line > 0 {
		return
	}
	p := m.pos(e.Pos - 1)
	e.Pos, e.Line, e.Col = p.Offset, p.Line, p.Col
}
