package sql

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	tidb "github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values for TiDB's AST

	"github.com/weir-sql/weir/pgerr"
)

// tidbParsers pools TiDB parsers: a parser is not safe for concurrent use,
// and making one costs more than parsing a short statement.
var tidbParsers = sync.Pool{New: func() any {
	p := tidb.New()
	p.SetSQLMode(mysql.ModeANSIQuotes | mysql.ModePipesAsConcat | mysql.ModeIgnoreSpace | mysql.ModeNoBackslashEscapes)
	p.EnableWindowFunc(true)
	return p
}}

// dml parses toks[lo:hi] (a SELECT, VALUES, INSERT, UPDATE or DELETE)
// through the rewriter and TiDB.
func (p *parser) dml(lo, hi int) (Statement, error) {
	sub := &parser{src: p.src, m: p.m, toks: p.toks[lo:hi]}
	r := newRewriter(sub)
	r.endOff = sub.eof().pos
	f := &frame{kind: fQuery, top: true, prim: -1}
	if err := r.seq(0, len(sub.toks), f); err != nil {
		return nil, err
	}
	nodes, release, err := r.parse()
	if err != nil {
		return nil, err
	}
	defer release()
	c := &converter{r: r, p: sub, sides: nodes[1:]}
	s, err := c.statement(nodes[0])
	if err != nil {
		return nil, err
	}
	p.setSource(s, lo, hi)
	p.i = hi
	return s, nil
}

// parseExprRange parses toks[lo:hi] as one scalar expression.
func (p *parser) parseExprRange(lo, hi int) (Expr, error) {
	sub := &parser{src: p.src, m: p.m, toks: p.toks[lo:hi]}
	r := newRewriter(sub)
	r.endOff = sub.eof().pos
	if len(sub.toks) == 0 {
		return nil, sub.syntaxErrAt(0)
	}
	// A top-level word that only a query could hold ends the expression.
	if k := r.findTop(0, len(sub.toks), func(t token) bool {
		if t.isPunct(",") {
			return true
		}
		switch {
		case t.kind == tIdent:
			switch t.val {
			case "from", "where", "group", "having", "order", "limit", "offset", "union",
				"intersect", "except", "as", "select", "into", "returning", "window", "fetch", "for":
				return true
			}
		}
		return false
	}); k >= 0 {
		return nil, sub.syntaxErrAt(k)
	}
	f := &frame{kind: fExpr, prim: -1}
	r.emit(f, "SELECT", sub.toks[0].pos)
	if err := r.seq(0, len(sub.toks), f); err != nil {
		return nil, err
	}
	nodes, release, err := r.parse()
	if err != nil {
		return nil, err
	}
	defer release()
	c := &converter{r: r, p: sub, sides: nodes[1:]}
	sel, ok := nodes[0].(*ast.SelectStmt)
	if !ok || sel.Fields == nil || len(sel.Fields.Fields) != 1 || sel.Fields.Fields[0].Expr == nil ||
		sel.From != nil || sel.Fields.Fields[0].AsName.O != "" {
		return nil, sub.syntaxErrAt(0)
	}
	return c.expr(sel.Fields.Fields[0].Expr)
}

var tidbErrPos = regexp.MustCompile(`line (\d+) column (\d+) near "`)

// parse renders the rewritten statement, parses it with TiDB and maps a
// syntax error back to the original token.
//
// The parser reuses its allocations (result slice, node arenas) on its next
// call, so it goes back to the pool only when the caller has finished
// converting the nodes: the caller must call release.
func (r *rewriter) parse() ([]ast.StmtNode, func(), error) {
	text := r.render()
	tp := tidbParsers.Get().(*tidb.Parser)
	release := func() { tidbParsers.Put(tp) }
	nodes, _, err := tp.ParseSQL(text)
	if err != nil {
		release()
		return nil, nil, r.tidbError(text, err)
	}
	if len(nodes) != 1+len(r.sides) {
		release()
		return nil, nil, r.p.syntaxErrAt(0)
	}
	return nodes, release, nil
}

func (r *rewriter) tidbError(text string, err error) error {
	msg := err.Error()
	m := tidbErrPos.FindStringSubmatchIndex(msg)
	if m == nil {
		e := pgerr.New(pgerr.SyntaxError, "syntax error at or near \"%s\"", r.p.src[r.p.tok(0).pos:r.p.tok(0).end])
		e.Pos = r.p.tok(0).pos + 1
		e.Detail = msg
		return e
	}
	line, _ := strconv.Atoi(msg[m[2]:m[3]])
	col, _ := strconv.Atoi(msg[m[4]:m[5]])
	near := msg[m[1]:]
	off := 0
	for l := 1; l < line; l++ {
		k := strings.IndexByte(text[off:], '\n')
		if k < 0 {
			break
		}
		off += k + 1
	}
	off += col - 1
	if strings.TrimSpace(near) == `"` || off >= len(text) {
		// near "" : the end of the text.
		return r.p.syntaxErrAt(len(r.p.toks))
	}
	t, _ := r.at(off)
	if t.eoi {
		return r.p.syntaxErrAt(len(r.p.toks))
	}
	return r.p.syntaxErrAt(r.p.tokenAt(t.orig))
}

// tokenAt returns the index of the token starting at byte offset off (or
// the last one starting before it).
func (p *parser) tokenAt(off int) int {
	k := sort.Search(len(p.toks), func(i int) bool { return p.toks[i].pos > off })
	if k == 0 {
		return 0
	}
	return k - 1
}
