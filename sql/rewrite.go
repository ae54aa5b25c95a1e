package sql

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// The rewriter turns the PostgreSQL tokens of a SELECT/INSERT/UPDATE/
// DELETE/VALUES statement into text that TiDB's parser (in ANSI_QUOTES mode)
// reads with the same structure, keeping on the side everything TiDB would
// get wrong:
//
//   - every literal and $n parameter becomes a '?' marker whose value (a
//     *Literal or *Param, with its original position) is kept in slots;
//   - every identifier is emitted double-quoted, so MySQL's reserved words
//     never clash with PostgreSQL names;
//   - table names become placeholders (__weir_t_N), table functions
//     (__weir_f_N) and derived tables get placeholder aliases (__weir_a_N),
//     which carry positions, window TVF arguments and column alias lists;
//   - casts, subscripts, ARRAY[...], (x).field and = ANY(array) become calls
//     of placeholder functions (__weir_cast_N(x), __weir_sub(x, i), ...);
//   - PostgreSQL operators TiDB lacks (||, ~, !~, &, #, ...) are emitted as
//     '|' (same precedence class) with the real operator noted on the token;
//   - FILTER (WHERE ...), table function arguments and RETURNING lists are
//     parsed as extra "SELECT ..." statements appended after the main one.
//
// Every emitted token (otok) remembers the offset of the original construct
// it stands for, so TiDB's node offsets map back to the submitted text.

// otok is one token of the rewritten text.
type otok struct {
	text   string
	orig   int // byte offset in parser.src of the construct this token stands for
	off    int // byte offset in the rendered text
	op     string
	slot   int  // 1-based index into rewriter.slots for '?'
	nulls  int8 // on an ORDER BY item's first token: 1 NULLS FIRST, 2 NULLS LAST
	filter int  // on a function name: 1-based side statement of FILTER (WHERE ...)
	order  int  // on a function name: 1-based side statement "SELECT 1 ORDER BY ..." of an aggregate's ORDER BY
	sel    bool // a SELECT keyword
	eoi    bool // the separator after the main statement (end of input)
}

type castInfo struct {
	typ  datum.Type
	name string
}

type tableRef struct {
	schema, name string
	pos          int
	full         bool // right side of a FULL JOIN
}

type tfuncRef struct {
	name    string
	pos     int
	side    int // index into sides: SELECT arg, arg, ...
	alias   string
	cols    []string
	full    bool
	namePos int
	ord     bool // WITH ORDINALITY
}

type derivedRef struct {
	alias string
	cols  []string
	pos   int
	full  bool
}

// noLimit marks the slot of the LIMIT that the rewriter adds for an OFFSET
// without LIMIT (or drops for LIMIT ALL).
var noLimit = &Literal{}

type rewriter struct {
	p     *parser
	toks  []token
	match []int
	cur   *[]*otok
	main  []*otok
	sides [][]*otok
	all   []*otok // rendered order

	slots      []Expr
	casts      []castInfo
	tables     []tableRef
	tfuncs     []tfuncRef
	derived    []derivedRef
	onConflict *OnConflict
	returning  int // 1-based side index
	valuesPos  int // offset of INSERT's VALUES keyword, -1 if none
	endOff     int // end of the statement's last token
}

// frame is the rewriting state of one nesting level (a statement, a
// parenthesized query, a parenthesized expression list or OVER (...)).
type frame struct {
	kind      int
	top       bool   // the statement itself (not nested)
	stmt      string // "insert", "update", "delete" or "" (query)
	from      int    // 0: not in FROM; 1: a table expected; 2: after a table; 3: in a join condition
	sawSelect bool
	limit     bool
	inOrder   bool
	orderItem bool
	itemTok   *otok
	prim      int   // index in *cur where the latest primary expression starts; -1 none
	cases     []int // indexes of open CASE tokens
	full      bool  // a FULL JOIN awaits its right side
	lastCall  *otok // name token of the latest function call
	callEnd   int   // len(*cur) right after that call's ')'
}

const (
	fQuery = iota
	fExpr
	fWindow
)

func newRewriter(p *parser) *rewriter {
	r := &rewriter{p: p, toks: p.toks, valuesPos: -1}
	r.match = make([]int, len(p.toks))
	var stack []int
	for i, t := range p.toks {
		r.match[i] = -1
		switch {
		case t.isPunct("(") || t.isPunct("["):
			stack = append(stack, i)
		case t.isPunct(")") || t.isPunct("]"):
			if len(stack) > 0 {
				o := stack[len(stack)-1]
				want := "("
				if t.val == "]" {
					want = "["
				}
				if p.toks[o].val == want {
					stack = stack[:len(stack)-1]
					r.match[o] = i
					r.match[i] = o
				}
			}
		}
	}
	r.cur = &r.main
	return r
}

// keywords are the unquoted words the rewriter never treats as identifiers.
var keywords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`select from where group by having order limit offset fetch
		union intersect except all distinct as on using join inner left right full cross natural
		outer and or not is isnull notnull in between like ilike similar case when then else end
		exists true false null cast interval array collate any some current_date current_time
		current_timestamp localtime localtimestamp current_user session_user user current_role
		current_catalog current_schema values into with default asc desc lateral window returning
		for`) {
		keywords[w] = true
	}
}

// aggNames are functions TiDB parses with aggregate or window syntax
// (DISTINCT, *, OVER); they are emitted unquoted.
var aggNames = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`count sum avg min max row_number rank dense_rank percent_rank
		cume_dist ntile lead lag first_value last_value nth_value bit_and bit_or bit_xor
		stddev stddev_pop stddev_samp var_pop var_samp variance std`) {
		aggNames[w] = true
	}
}

var niladic = map[string]bool{
	"current_date": true, "current_time": true, "current_timestamp": true, "localtime": true,
	"localtimestamp": true, "current_user": true, "session_user": true, "user": true,
	"current_role": true, "current_catalog": true, "current_schema": true,
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (r *rewriter) syntaxErr(i int) error { return r.p.syntaxErrAt(i) }

func (r *rewriter) emit(f *frame, text string, orig int) *otok {
	t := &otok{text: text, orig: orig}
	*r.cur = append(*r.cur, t)
	if f != nil && f.orderItem {
		f.itemTok = t
		f.orderItem = false
	}
	return t
}

// kw emits a keyword; what follows starts a new operand.
func (r *rewriter) kw(f *frame, text string, orig int) *otok {
	t := r.emit(f, text, orig)
	f.prim = -1
	return t
}

// insertAt inserts a token before index k of the current list (wrapping the
// primary expression that starts there).
func (r *rewriter) insertAt(f *frame, k int, text string) *otok {
	list := *r.cur
	t := &otok{text: text, orig: list[k].orig}
	list = append(list, nil)
	copy(list[k+1:], list[k:])
	list[k] = t
	*r.cur = list
	if f.itemTok == list[k+1] {
		f.itemTok = t
	}
	return t
}

func (r *rewriter) slot(f *frame, e Expr, orig int) {
	if f.prim < 0 {
		f.prim = len(*r.cur)
	}
	r.slots = append(r.slots, e)
	t := r.emit(f, "?", orig)
	t.slot = len(r.slots)
}

func (r *rewriter) beginPrimary(f *frame) { f.prim = len(*r.cur) }

// startsQuery reports whether tokens from i begin a query.
func (r *rewriter) startsQuery(i int) bool {
	t := r.p.tok(i)
	if t.isWord("select") || t.isWord("with") || t.isWord("values") {
		return true
	}
	if t.isPunct("(") {
		return r.startsQuery(i + 1)
	}
	return false
}

// side rewrites toks[lo:hi] as the select list of an extra statement and
// returns its index in r.sides.
func (r *rewriter) side(lo, hi int, each func(f *frame, lo, hi int) error) (int, error) {
	saved := r.cur
	var list []*otok
	r.cur = &list
	f := &frame{kind: fExpr, prim: -1}
	orig := r.p.tok(lo).pos
	t := r.emit(f, "SELECT", orig)
	t.sel = true
	var err error
	if each != nil {
		err = each(f, lo, hi)
	} else {
		err = r.seq(lo, hi, f)
	}
	r.cur = saved
	if err != nil {
		return 0, err
	}
	r.sides = append(r.sides, list)
	return len(r.sides) - 1, nil
}

// findTop returns the first index in [lo, hi) at paren depth 0 whose token
// satisfies pred, or -1.
func (r *rewriter) findTop(lo, hi int, pred func(token) bool) int {
	for k := lo; k < hi; k++ {
		t := r.toks[k]
		if (t.isPunct("(") || t.isPunct("[")) && r.match[k] > k {
			k = r.match[k]
			continue
		}
		if pred(t) {
			return k
		}
	}
	return -1
}

// splitArgs splits [lo, hi) at top-level commas.
func (r *rewriter) splitArgs(lo, hi int) [][2]int {
	var out [][2]int
	if lo >= hi {
		return out
	}
	start := lo
	for {
		k := r.findTop(start, hi, func(t token) bool { return t.isPunct(",") })
		if k < 0 {
			return append(out, [2]int{start, hi})
		}
		out = append(out, [2]int{start, k})
		start = k + 1
	}
}

// seq rewrites toks[lo:hi] at one nesting level.
func (r *rewriter) seq(lo, hi int, f *frame) error {
	i := lo
	for i < hi {
		t := r.toks[i]
		var err error
		switch t.kind {
		case tString:
			r.slot(f, &Literal{Value: datum.NewString(t.val), Type: datum.TypeUnknown}, t.pos)
			i++
		case tNumber:
			lit, perr := numberLiteral(t.val)
			if perr != nil {
				return r.p.errAt(t.pos, pgerr.SyntaxError, "invalid number %q", t.val)
			}
			r.slot(f, lit, t.pos)
			i++
		case tParam:
			n, perr := strconv.Atoi(t.val)
			if perr != nil || n <= 0 {
				return r.p.errAt(t.pos, pgerr.UndefinedParameter, "there is no parameter $%s", t.val)
			}
			r.slot(f, &Param{N: n}, t.pos)
			i++
		case tOp:
			i, err = r.operator(i, t.val, t.pos, f)
		case tPunct:
			i, err = r.punct(i, hi, f)
		case tIdent:
			i, err = r.word(i, hi, f)
		case tQIdent:
			i, err = r.ident(i, hi, f)
		default:
			return r.syntaxErr(i)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// operator emits the operator op (token i, or OPERATOR(...) ending at i-1).
func (r *rewriter) operator(i int, op string, orig int, f *frame) (int, error) {
	unary := f.prim < 0
	switch op {
	case "=", "<", ">", "<=", ">=", "<>", "+", "-", "*", "/", "%":
		r.kw(f, op, orig)
		return i + 1, nil
	case "!=":
		r.kw(f, "<>", orig).op = "<>"
		return i + 1, nil
	case "?", "`":
		return i, r.syntaxErr(i)
	}
	text := "|"
	switch {
	case unary:
		text = "~"
	case op == "^":
		text = "^"
	}
	r.kw(f, text, orig).op = op
	return i + 1, nil
}

func (r *rewriter) punct(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	switch t.val {
	case "(":
		j := r.match[i]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		isQuery := r.startsQuery(i + 1)
		if f.from == 1 {
			if isQuery {
				return r.derivedTable(i, j, hi, f)
			}
			// A parenthesized join.
			r.emit(f, "(", t.pos)
			if err := r.seq(i+1, j, &frame{kind: fQuery, from: 1, prim: -1, sawSelect: true}); err != nil {
				return i, err
			}
			r.emit(f, ")", r.toks[j].pos)
			f.from = 2
			return j + 1, nil
		}
		r.beginPrimary(f)
		start := f.prim
		r.emit(f, "(", t.pos)
		inner := &frame{kind: fExpr, prim: -1}
		if isQuery {
			inner.kind = fQuery
		} else if f.kind == fWindow {
			inner.kind = fWindow
		}
		if err := r.seq(i+1, j, inner); err != nil {
			return i, err
		}
		r.emit(f, ")", r.toks[j].pos)
		f.prim = start
		return j + 1, nil
	case "[":
		j := r.match[i]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		if f.prim < 0 || i+1 == j {
			return i, r.syntaxErr(i)
		}
		if k := r.findTop(i+1, j, func(t token) bool { return t.isPunct(":") }); k >= 0 {
			return i, r.p.errAt(r.toks[k].pos, pgerr.FeatureNotSupported, "array slices are not supported")
		}
		r.insertAt(f, f.prim, `"__weir_sub"`)
		r.insertAt(f, f.prim+1, "(")
		start := f.prim
		r.emit(f, ",", t.pos)
		if err := r.seq(i+1, j, &frame{kind: fExpr, prim: -1}); err != nil {
			return i, err
		}
		r.emit(f, ")", r.toks[j].pos)
		f.prim = start
		return j + 1, nil
	case "::":
		if f.prim < 0 {
			return i, r.syntaxErr(i)
		}
		name, typ, next, err := r.p.typeName(i + 1)
		if err != nil {
			return i, err
		}
		if next > hi {
			return i, r.syntaxErr(hi)
		}
		r.casts = append(r.casts, castInfo{typ: typ, name: name})
		start := f.prim
		r.insertAt(f, start, quoteIdent(fmt.Sprintf("__weir_cast_%d", len(r.casts)-1)))
		r.insertAt(f, start+1, "(")
		r.emit(f, ")", t.pos)
		f.prim = start
		return next, nil
	case ".":
		// (expr).field
		prev := *r.cur
		if f.prim < 0 || len(prev) == 0 || prev[len(prev)-1].text != ")" {
			return i, r.syntaxErr(i)
		}
		ft := r.p.tok(i + 1)
		if ft.kind != tIdent && ft.kind != tQIdent {
			return i, r.syntaxErr(i + 1)
		}
		start := f.prim
		r.insertAt(f, start, `"__weir_field"`)
		r.insertAt(f, start+1, "(")
		r.emit(f, ",", t.pos)
		saved := f.prim
		r.slot(f, &Literal{Value: datum.NewString(ft.val), Type: datum.TypeUnknown}, ft.pos)
		f.prim = saved
		r.emit(f, ")", ft.pos)
		f.prim = start
		return i + 2, nil
	case ",":
		r.kw(f, ",", t.pos)
		if f.from >= 2 {
			f.from = 1
		}
		if f.inOrder {
			f.orderItem = true
		}
		return i + 1, nil
	}
	return i, r.syntaxErr(i)
}

// word handles an unquoted word.
func (r *rewriter) word(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	w := t.val
	next := r.p.tok(i + 1)
	if i+1 >= hi {
		next = token{kind: tEOF}
	}
	// Words that are keywords only in context.
	switch {
	case f.kind == fWindow && isWindowWord(w):
		if w == "order" && next.isWord("by") {
			r.kw(f, "ORDER BY", t.pos)
			f.inOrder, f.orderItem = true, true
			return i + 2, nil
		}
		if w == "partition" {
			f.inOrder = false
		}
		r.kw(f, strings.ToUpper(w), t.pos)
		return i + 1, nil
	case w == "filter" && next.isPunct("(") && r.p.tok(i+2).isWord("where") && f.lastCall != nil && f.callEnd == len(*r.cur):
		j := r.match[i+1]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		k, err := r.side(i+3, j, nil)
		if err != nil {
			return i, err
		}
		f.lastCall.filter = k + 1
		f.callEnd = len(*r.cur)
		return j + 1, nil
	case w == "over" && f.lastCall != nil && f.callEnd == len(*r.cur):
		if !next.isPunct("(") {
			return i, r.p.errAt(next.pos, pgerr.FeatureNotSupported, "named windows are not supported")
		}
		j := r.match[i+1]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		r.emit(f, "OVER", t.pos)
		r.emit(f, "(", next.pos)
		if err := r.seq(i+2, j, &frame{kind: fWindow, prim: -1}); err != nil {
			return i, err
		}
		r.emit(f, ")", r.toks[j].pos)
		f.callEnd = len(*r.cur)
		return j + 1, nil
	case w == "nulls" && (next.isWord("first") || next.isWord("last")) && f.inOrder:
		if f.itemTok == nil {
			return i, r.syntaxErr(i)
		}
		f.itemTok.nulls = 1
		if next.isWord("last") {
			f.itemTok.nulls = 2
		}
		return i + 2, nil
	case w == "operator" && next.isPunct("("):
		// OPERATOR(schema.op)
		j := r.match[i+1]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		k := i + 2
		if r.p.tok(k).kind == tIdent || r.p.tok(k).kind == tQIdent {
			if !r.p.tok(k + 1).isPunct(".") {
				return i, r.syntaxErr(k + 1)
			}
			k += 2
		}
		if r.p.tok(k).kind != tOp || k+1 != j {
			return i, r.syntaxErr(k)
		}
		if _, err := r.operator(k, r.toks[k].val, t.pos, f); err != nil {
			return i, err
		}
		return j + 1, nil
	case f.top && i == 0 && (w == "insert" || w == "update" || w == "delete"):
		return r.dmlStart(i, hi, f)
	case w == "set" && f.top && f.stmt == "update":
		r.kw(f, "SET", t.pos)
		f.from = 0
		return i + 1, nil
	case w == "recursive" && len(*r.cur) > 0 && (*r.cur)[len(*r.cur)-1].text == "WITH":
		r.kw(f, "RECURSIVE", t.pos)
		return i + 1, nil
	}
	if !keywords[w] {
		return r.ident(i, hi, f)
	}
	switch w {
	case "select":
		f.sawSelect, f.from, f.limit, f.inOrder = true, 0, false, false
		r.kw(f, "SELECT", t.pos).sel = true
		if next.isWord("distinct") && r.p.tok(i+2).isWord("on") {
			return i, r.p.errAt(r.p.tok(i+2).pos, pgerr.FeatureNotSupported, "SELECT DISTINCT ON is not supported")
		}
	case "from":
		if f.sawSelect || f.stmt == "delete" {
			f.from = 1
		}
		r.kw(f, "FROM", t.pos)
	case "where", "group", "having", "window", "for":
		f.from, f.inOrder = 0, false
		r.kw(f, strings.ToUpper(w), t.pos)
	case "union", "intersect", "except":
		f.from, f.sawSelect, f.limit, f.inOrder = 0, false, false, false
		r.kw(f, strings.ToUpper(w), t.pos)
	case "order":
		f.from = 0
		r.kw(f, "ORDER", t.pos)
		if next.isWord("by") {
			r.kw(f, "BY", next.pos)
			f.inOrder, f.orderItem = true, true
			return i + 2, nil
		}
	case "limit":
		f.from, f.inOrder = 0, false
		if next.isWord("all") {
			return i + 2, nil
		}
		f.limit = true
		r.kw(f, "LIMIT", t.pos)
	case "offset":
		f.from, f.inOrder = 0, false
		if !f.limit {
			r.kw(f, "LIMIT", t.pos)
			r.slots = append(r.slots, noLimit)
			r.emit(f, "?", t.pos).slot = len(r.slots)
			f.limit = true
		}
		r.kw(f, "OFFSET", t.pos)
		if (next.kind == tNumber || next.kind == tParam) && (r.p.tok(i+2).isWord("row") || r.p.tok(i+2).isWord("rows")) && i+2 < hi {
			if err := r.seq(i+1, i+2, f); err != nil {
				return i, err
			}
			return i + 3, nil
		}
	case "fetch":
		// FETCH {FIRST|NEXT} [n] {ROW|ROWS} ONLY
		k := i + 1
		if !r.p.tok(k).isWord("first") && !r.p.tok(k).isWord("next") {
			return i, r.syntaxErr(k)
		}
		k++
		f.from, f.inOrder = 0, false
		r.kw(f, "LIMIT", t.pos)
		if r.p.tok(k).kind == tNumber || r.p.tok(k).kind == tParam {
			if err := r.seq(k, k+1, f); err != nil {
				return i, err
			}
			k++
		} else {
			r.slot(f, &Literal{Value: datum.NewInt(1), Type: datum.TypeInt4}, t.pos)
		}
		if !r.p.tok(k).isWord("row") && !r.p.tok(k).isWord("rows") {
			return i, r.syntaxErr(k)
		}
		if !r.p.tok(k + 1).isWord("only") {
			return i, r.syntaxErr(k + 1)
		}
		return k + 2, nil
	case "join":
		f.from = 1
		r.kw(f, "JOIN", t.pos)
	case "full":
		f.full = true
		r.kw(f, "LEFT", t.pos)
	case "left", "right":
		if next.isPunct("(") {
			return r.ident(i, hi, f)
		}
		r.kw(f, strings.ToUpper(w), t.pos)
	case "on":
		if next.isWord("conflict") && f.top && f.stmt == "insert" {
			return r.conflictClause(i, hi, f)
		}
		if f.from >= 2 {
			f.from = 3
		}
		r.kw(f, "ON", t.pos)
	case "using":
		if f.from >= 2 {
			f.from = 3
		}
		r.kw(f, "USING", t.pos)
	case "as":
		r.kw(f, "AS", t.pos)
		if next.isWord("materialized") || (next.isWord("not") && r.p.tok(i+2).isWord("materialized")) {
			if next.isWord("not") {
				return i + 3, nil
			}
			return i + 2, nil
		}
		if (next.kind == tIdent || next.kind == tQIdent) && i+1 < hi {
			r.emit(f, quoteIdent(next.val), next.pos)
			return i + 2, nil
		}
	case "is":
		k := i + 1
		not := false
		if r.p.tok(k).isWord("not") {
			not = true
			k++
		}
		if r.p.tok(k).isWord("distinct") && r.p.tok(k+1).isWord("from") {
			op := "IS DISTINCT FROM"
			if not {
				op = "IS NOT DISTINCT FROM"
			}
			r.kw(f, "<=>", t.pos).op = op
			return k + 2, nil
		}
		r.kw(f, "IS", t.pos)
		if not {
			r.kw(f, "NOT", r.toks[i+1].pos)
		}
		if r.p.tok(k).isWord("unknown") {
			r.kw(f, "NULL", r.toks[k].pos)
			return k + 1, nil
		}
		return k, nil
	case "isnull":
		r.kw(f, "IS NULL", t.pos)
	case "notnull":
		r.kw(f, "IS NOT NULL", t.pos)
	case "true", "false", "null":
		if r.afterIs() {
			r.emit(f, strings.ToUpper(w), t.pos)
			return i + 1, nil
		}
		var lit *Literal
		switch w {
		case "true":
			lit = &Literal{Value: datum.NewBool(true), Type: datum.TypeBool}
		case "false":
			lit = &Literal{Value: datum.NewBool(false), Type: datum.TypeBool}
		default:
			lit = &Literal{Value: datum.Null, Type: datum.TypeUnknown}
		}
		r.slot(f, lit, t.pos)
	case "case":
		r.beginPrimary(f)
		f.cases = append(f.cases, len(*r.cur))
		r.kw(f, "CASE", t.pos)
	case "end":
		if len(f.cases) == 0 {
			return i, r.syntaxErr(i)
		}
		start := f.cases[len(f.cases)-1]
		f.cases = f.cases[:len(f.cases)-1]
		r.emit(f, "END", t.pos)
		f.prim = start
	case "cast":
		if !next.isPunct("(") {
			return i, r.syntaxErr(i + 1)
		}
		return r.cast(i, hi, f)
	case "interval":
		return r.interval(i, hi, f)
	case "array":
		return r.array(i, hi, f)
	case "any", "some", "all":
		if next.isPunct("(") && !r.startsQuery(i+2) && r.afterComparison() {
			j := r.match[i+1]
			if j < 0 || j >= hi {
				return i, r.syntaxErr(hi)
			}
			name := `"__weir_any"`
			if w == "all" {
				name = `"__weir_all"`
			}
			r.beginPrimary(f)
			start := f.prim
			r.emit(f, name, t.pos)
			r.emit(f, "(", next.pos)
			if err := r.seq(i+2, j, &frame{kind: fExpr, prim: -1}); err != nil {
				return i, err
			}
			r.emit(f, ")", r.toks[j].pos)
			f.prim = start
			return j + 1, nil
		}
		if w == "some" {
			w = "any"
		}
		r.kw(f, strings.ToUpper(w), t.pos)
	case "collate":
		k := i + 1
		if r.p.tok(k).kind != tIdent && r.p.tok(k).kind != tQIdent {
			return i, r.syntaxErr(k)
		}
		k++
		for r.p.tok(k).isPunct(".") && (r.p.tok(k+1).kind == tIdent || r.p.tok(k+1).kind == tQIdent) {
			k += 2
		}
		return k, nil
	case "values":
		return r.values(i, hi, f)
	case "into":
		r.kw(f, "INTO", t.pos)
		if f.top && f.stmt == "insert" {
			return r.tableName(i+1, hi, f, false)
		}
	case "returning":
		if !f.top || f.stmt == "" {
			return i, r.syntaxErr(i)
		}
		k, err := r.side(i+1, hi, nil)
		if err != nil {
			return i, err
		}
		r.returning = k + 1
		return hi, nil
	case "lateral":
		// LATERAL before a function call in FROM changes nothing: functions
		// in FROM may read the FROM items before them anyway.
		if f.from == 1 && (next.kind == tIdent || next.kind == tQIdent) {
			k := i + 2
			if r.p.tok(k).isPunct(".") {
				k += 2
			}
			if r.p.tok(k).isPunct("(") && k < hi {
				return i + 1, nil
			}
		}
		return i, r.p.errAt(t.pos, pgerr.FeatureNotSupported, "LATERAL subqueries are not supported (LATERAL functions are)")
	case "similar", "natural":
		return i, r.p.errAt(t.pos, pgerr.FeatureNotSupported, "%s is not supported", strings.ToUpper(w))
	default:
		if niladic[w] {
			if next.isPunct("(") {
				return r.ident(i, hi, f)
			}
			r.beginPrimary(f)
			start := f.prim
			r.emit(f, quoteIdent(w), t.pos)
			r.emit(f, "(", t.pos)
			r.emit(f, ")", t.pos)
			f.prim = start
			return i + 1, nil
		}
		r.kw(f, strings.ToUpper(w), t.pos)
	}
	return i + 1, nil
}

func isWindowWord(w string) bool {
	switch w {
	case "partition", "order", "by", "rows", "range", "groups", "between", "unbounded",
		"preceding", "following", "current", "row", "and", "asc", "desc":
		return true
	}
	return false
}

// afterComparison reports whether the last emitted token is a comparison
// operator (so ANY/ALL (...) is an array comparison).
func (r *rewriter) afterComparison() bool {
	l := *r.cur
	if len(l) == 0 {
		return false
	}
	switch l[len(l)-1].text {
	case "=", "<>", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// afterIs reports whether the last emitted tokens are IS or IS NOT.
func (r *rewriter) afterIs() bool {
	l := *r.cur
	n := len(l)
	return n > 0 && (l[n-1].text == "IS" || (l[n-1].text == "NOT" && n > 1 && l[n-2].text == "IS"))
}

// dmlStart handles INSERT INTO t, UPDATE t, DELETE FROM t at a statement's start.
func (r *rewriter) dmlStart(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	f.stmt = t.val
	r.kw(f, strings.ToUpper(t.val), t.pos)
	switch t.val {
	case "insert":
		if !r.p.tok(i + 1).isWord("into") {
			return i, r.syntaxErr(i + 1)
		}
		return i + 1, nil
	case "update":
		k, err := r.tableName(i+1, hi, f, false)
		if err != nil {
			return i, err
		}
		if r.p.tok(k).isWord("as") {
			return k, r.p.errAt(r.toks[k].pos, pgerr.FeatureNotSupported, "UPDATE with a table alias is not supported")
		}
		return k, nil
	}
	return i + 1, nil
}

// tableName emits the table name at i as a placeholder. With alias it also
// handles an alias (FROM items).
func (r *rewriter) tableName(i, hi int, f *frame, alias bool) (int, error) {
	t := r.p.tok(i)
	if i >= hi || (t.kind != tIdent && t.kind != tQIdent) || (t.kind == tIdent && keywords[t.val]) {
		return i, r.syntaxErr(i)
	}
	ref := tableRef{name: t.val, pos: t.pos, full: f.full}
	f.full = false
	k := i + 1
	if r.p.tok(k).isPunct(".") && k+1 < hi && (r.p.tok(k+1).kind == tIdent || r.p.tok(k+1).kind == tQIdent) {
		ref.schema, ref.name = ref.name, r.toks[k+1].val
		k += 2
		if r.p.tok(k).isPunct(".") {
			return i, r.syntaxErr(k)
		}
	}
	r.tables = append(r.tables, ref)
	r.emit(f, quoteIdent(fmt.Sprintf("__weir_t_%d", len(r.tables)-1)), t.pos)
	if !alias {
		return k, nil
	}
	name, cols, k, err := r.alias(k, hi)
	if err != nil {
		return i, err
	}
	if cols != nil {
		return i, r.p.errAt(t.pos, pgerr.FeatureNotSupported, "column aliases on a table are not supported")
	}
	if name != "" {
		r.emit(f, "AS", t.pos)
		r.emit(f, quoteIdent(name), t.pos)
	}
	f.from = 2
	return k, nil
}

// alias reads [AS] name [(col, ...)] after a FROM item.
func (r *rewriter) alias(k, hi int) (string, []string, int, error) {
	t := r.p.tok(k)
	if k >= hi {
		return "", nil, k, nil
	}
	var name string
	switch {
	case t.isWord("as"):
		n := r.p.tok(k + 1)
		if k+1 >= hi || (n.kind != tIdent && n.kind != tQIdent) {
			return "", nil, k, r.syntaxErr(k + 1)
		}
		name = n.val
		k += 2
	case t.kind == tQIdent || (t.kind == tIdent && !keywords[t.val] && t.val != "set"):
		name = t.val
		k++
	default:
		return "", nil, k, nil
	}
	var cols []string
	if r.p.tok(k).isPunct("(") && k < hi {
		j := r.match[k]
		if j < 0 || j >= hi {
			return "", nil, k, r.syntaxErr(hi)
		}
		for _, a := range r.splitArgs(k+1, j) {
			if a[1]-a[0] != 1 || (r.toks[a[0]].kind != tIdent && r.toks[a[0]].kind != tQIdent) {
				return "", nil, k, r.syntaxErr(a[0])
			}
			cols = append(cols, r.toks[a[0]].val)
		}
		if cols == nil {
			return "", nil, k, r.syntaxErr(j)
		}
		k = j + 1
	}
	return name, cols, k, nil
}

func (r *rewriter) derivedTable(i, j, hi int, f *frame) (int, error) {
	ref := derivedRef{pos: r.toks[i].pos, full: f.full}
	f.full = false
	r.emit(f, "(", r.toks[i].pos)
	if err := r.seq(i+1, j, &frame{kind: fQuery, prim: -1}); err != nil {
		return i, err
	}
	r.emit(f, ")", r.toks[j].pos)
	name, cols, k, err := r.alias(j+1, hi)
	if err != nil {
		return i, err
	}
	ref.alias, ref.cols = name, cols
	r.derived = append(r.derived, ref)
	r.emit(f, "AS", r.toks[j].pos)
	r.emit(f, quoteIdent(fmt.Sprintf("__weir_a_%d", len(r.derived)-1)), r.toks[j].pos)
	f.from = 2
	return k, nil
}

// ident handles an identifier (quoted, or an unquoted non-keyword word):
// a FROM item, a typed literal, a function call or a column reference.
func (r *rewriter) ident(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	if f.from == 1 {
		// A table, or a table function.
		k := i + 1
		if r.p.tok(k).isPunct(".") && (r.p.tok(k+1).kind == tIdent || r.p.tok(k+1).kind == tQIdent) {
			k += 2
		}
		if r.p.tok(k).isPunct("(") && k < hi {
			return r.tableFunc(i, k, hi, f)
		}
		return r.tableName(i, hi, f, true)
	}
	// Typed literal: DATE '...', TIMESTAMP '...', TIMESTAMP WITH TIME ZONE '...'.
	if t.kind == tIdent && isTypeWord(t.val) {
		if name, typ, k, err := r.p.typeName(i); err == nil && k < hi && r.p.tok(k).kind == tString {
			s := r.toks[k]
			v, perr := datum.Parse(typ, s.val)
			if perr != nil {
				e := pgerr.Wrap(perr)
				e.Pos = s.pos + 1
				return i, e
			}
			_ = name
			r.slot(f, &Literal{Value: v, Type: typ}, t.pos)
			return k + 1, nil
		}
	}
	parts := []string{t.val}
	k := i + 1
	for r.p.tok(k).isPunct(".") && k+1 < hi {
		n := r.toks[k+1]
		if n.kind == tIdent || n.kind == tQIdent {
			parts = append(parts, n.val)
			k += 2
			continue
		}
		if n.is(tOp, "*") {
			// t.* in a select list.
			var b strings.Builder
			for _, p := range parts {
				b.WriteString(quoteIdent(p))
				b.WriteByte('.')
			}
			b.WriteByte('*')
			r.beginPrimary(f)
			r.emit(f, b.String(), t.pos)
			return k + 2, nil
		}
		break
	}
	if r.p.tok(k).isPunct("(") && k < hi {
		return r.call(i, parts, k, hi, f)
	}
	if len(parts) > 3 {
		return i, r.syntaxErr(i)
	}
	quoted := make([]string, len(parts))
	for n, p := range parts {
		quoted[n] = quoteIdent(p)
	}
	r.beginPrimary(f)
	r.emit(f, strings.Join(quoted, "."), t.pos)
	return k, nil
}

func isTypeWord(w string) bool {
	switch w {
	case "date", "timestamp", "timestamptz", "time", "timetz", "bool", "boolean", "int", "integer",
		"int2", "int4", "int8", "smallint", "bigint", "real", "float", "float4", "float8",
		"double", "numeric", "decimal", "text", "varchar", "char", "character", "bytea", "json",
		"jsonb", "uuid":
		return true
	}
	return false
}

// call handles a function call name(...) whose '(' is at token k.
func (r *rewriter) call(i int, parts []string, k, hi int, f *frame) (int, error) {
	t := r.toks[i]
	j := r.match[k]
	if j < 0 || j >= hi {
		return i, r.syntaxErr(hi)
	}
	if len(parts) > 2 {
		return i, r.syntaxErr(i)
	}
	base := parts[len(parts)-1]
	special := (len(parts) == 1 || parts[0] == "pg_catalog") && t.kind == tIdent
	r.beginPrimary(f)
	start := f.prim
	var nameTok *otok
	var err error
	switch {
	case special && base == "extract" && r.p.tok(k+2).isWord("from"):
		ft := r.toks[k+1]
		if ft.kind != tIdent && ft.kind != tString && ft.kind != tQIdent {
			return i, r.syntaxErr(k + 1)
		}
		nameTok = r.emit(f, `"extract"`, t.pos)
		r.emit(f, "(", r.toks[k].pos)
		r.slot(f, &Literal{Value: datum.NewString(strings.ToLower(ft.val)), Type: datum.TypeUnknown}, ft.pos)
		r.emit(f, ",", ft.pos)
		err = r.seq(k+3, j, &frame{kind: fExpr, prim: -1})
	case special && base == "position" && r.findTop(k+1, j, func(t token) bool { return t.isWord("in") }) > 0:
		in := r.findTop(k+1, j, func(t token) bool { return t.isWord("in") })
		nameTok = r.emit(f, `"position"`, t.pos)
		r.emit(f, "(", r.toks[k].pos)
		if err = r.seq(k+1, in, &frame{kind: fExpr, prim: -1}); err == nil {
			r.emit(f, ",", r.toks[in].pos)
			err = r.seq(in+1, j, &frame{kind: fExpr, prim: -1})
		}
	case special && base == "substring" && r.findTop(k+1, j, func(t token) bool { return t.isWord("from") || t.isWord("for") }) > 0:
		from := r.findTop(k+1, j, func(t token) bool { return t.isWord("from") })
		forK := r.findTop(k+1, j, func(t token) bool { return t.isWord("for") })
		nameTok = r.emit(f, `"substring"`, t.pos)
		r.emit(f, "(", r.toks[k].pos)
		sEnd := j
		if from > 0 {
			sEnd = from
		} else if forK > 0 {
			sEnd = forK
		}
		err = r.seq(k+1, sEnd, &frame{kind: fExpr, prim: -1})
		if err == nil {
			r.emit(f, ",", r.toks[sEnd].pos)
			if from > 0 {
				end := j
				if forK > from {
					end = forK
				}
				err = r.seq(from+1, end, &frame{kind: fExpr, prim: -1})
			} else {
				r.slot(f, &Literal{Value: datum.NewInt(1), Type: datum.TypeInt4}, r.toks[sEnd].pos)
			}
		}
		if err == nil && forK > 0 {
			r.emit(f, ",", r.toks[forK].pos)
			err = r.seq(forK+1, j, &frame{kind: fExpr, prim: -1})
		}
	case special && base == "trim":
		fn := "btrim"
		a := k + 1
		switch {
		case r.p.tok(a).isWord("both"):
			a++
		case r.p.tok(a).isWord("leading"):
			fn = "ltrim"
			a++
		case r.p.tok(a).isWord("trailing"):
			fn = "rtrim"
			a++
		}
		from := r.findTop(a, j, func(t token) bool { return t.isWord("from") })
		nameTok = r.emit(f, quoteIdent(fn), t.pos)
		r.emit(f, "(", r.toks[k].pos)
		if from < 0 {
			err = r.seq(a, j, &frame{kind: fExpr, prim: -1})
		} else {
			err = r.seq(from+1, j, &frame{kind: fExpr, prim: -1})
			if err == nil && from > a {
				r.emit(f, ",", r.toks[from].pos)
				err = r.seq(a, from, &frame{kind: fExpr, prim: -1})
			}
		}
	default:
		name := quoteIdent(base)
		if len(parts) == 2 {
			name = quoteIdent(parts[0]) + "." + name
		} else if t.kind == tIdent && aggNames[base] {
			name = base
		}
		// An aggregate's ORDER BY (array_agg(x ORDER BY y DESC)) goes to a
		// side statement SELECT 1 ORDER BY y DESC.
		end, order := j, 0
		if o := r.findTop(k+1, j, func(t token) bool { return t.isWord("order") }); o > k+1 && r.p.tok(o+1).isWord("by") {
			side, serr := r.side(o, j, func(sf *frame, lo, hi int) error {
				r.emit(sf, "1", r.toks[lo].pos)
				sf.kind = fQuery
				return r.seq(lo, hi, sf)
			})
			if serr != nil {
				return i, serr
			}
			end, order = o, side+1
		}
		nameTok = r.emit(f, name, t.pos)
		nameTok.order = order
		r.emit(f, "(", r.toks[k].pos)
		err = r.seq(k+1, end, &frame{kind: fExpr, prim: -1})
	}
	if err != nil {
		return i, err
	}
	r.emit(f, ")", r.toks[j].pos)
	f.prim = start
	f.lastCall = nameTok
	f.callEnd = len(*r.cur)
	return j + 1, nil
}

// cast handles CAST(expr AS type).
func (r *rewriter) cast(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	j := r.match[i+1]
	if j < 0 || j >= hi {
		return i, r.syntaxErr(hi)
	}
	as := r.findTop(i+2, j, func(t token) bool { return t.isWord("as") })
	if as < 0 {
		return i, r.syntaxErr(j)
	}
	name, typ, next, err := r.p.typeName(as + 1)
	if err != nil {
		return i, err
	}
	if next != j {
		return i, r.syntaxErr(next)
	}
	r.casts = append(r.casts, castInfo{typ: typ, name: name})
	r.beginPrimary(f)
	start := f.prim
	r.emit(f, quoteIdent(fmt.Sprintf("__weir_cast_%d", len(r.casts)-1)), t.pos)
	r.emit(f, "(", r.toks[i+1].pos)
	if err := r.seq(i+2, as, &frame{kind: fExpr, prim: -1}); err != nil {
		return i, err
	}
	r.emit(f, ")", r.toks[j].pos)
	f.prim = start
	return j + 1, nil
}

// array handles ARRAY[...] and ARRAY(subquery).
func (r *rewriter) array(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	next := r.p.tok(i + 1)
	if !next.isPunct("[") && !next.isPunct("(") {
		return i, r.syntaxErr(i + 1)
	}
	j := r.match[i+1]
	if j < 0 || j >= hi {
		return i, r.syntaxErr(hi)
	}
	r.beginPrimary(f)
	start := f.prim
	if next.isPunct("[") {
		r.emit(f, `"__weir_array"`, t.pos)
		r.emit(f, "(", next.pos)
		if err := r.seq(i+2, j, &frame{kind: fExpr, prim: -1}); err != nil {
			return i, err
		}
		r.emit(f, ")", r.toks[j].pos)
	} else {
		if !r.startsQuery(i + 2) {
			return i, r.syntaxErr(i + 2)
		}
		r.emit(f, `"__weir_arraysub"`, t.pos)
		r.emit(f, "(", next.pos)
		r.emit(f, "(", next.pos)
		if err := r.seq(i+2, j, &frame{kind: fQuery, prim: -1}); err != nil {
			return i, err
		}
		r.emit(f, ")", r.toks[j].pos)
		r.emit(f, ")", r.toks[j].pos)
	}
	f.prim = start
	return j + 1, nil
}

// values handles VALUES: INSERT's VALUES lists go to TiDB as they are; a
// VALUES query elsewhere becomes SELECT __weir_values(__weir_row(...), ...).
func (r *rewriter) values(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	if f.top && f.stmt == "insert" && !f.sawSelect {
		r.valuesPos = t.pos
		r.kw(f, "VALUES", t.pos)
		return i + 1, nil
	}
	f.sawSelect = true
	r.kw(f, "SELECT", t.pos).sel = true
	r.emit(f, `"__weir_values"`, t.pos)
	r.emit(f, "(", t.pos)
	k := i + 1
	for {
		if !r.p.tok(k).isPunct("(") || k >= hi {
			return i, r.syntaxErr(k)
		}
		j := r.match[k]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		r.emit(f, `"__weir_row"`, r.toks[k].pos)
		r.emit(f, "(", r.toks[k].pos)
		if err := r.seq(k+1, j, &frame{kind: fExpr, prim: -1}); err != nil {
			return i, err
		}
		r.emit(f, ")", r.toks[j].pos)
		k = j + 1
		if k < hi && r.toks[k].isPunct(",") {
			r.emit(f, ",", r.toks[k].pos)
			k++
			continue
		}
		break
	}
	r.kw(f, ")", t.pos)
	return k, nil
}

// tableFunc handles name(args) [AS alias [(cols)]] in FROM; '(' is at k.
func (r *rewriter) tableFunc(i, k, hi int, f *frame) (int, error) {
	t := r.toks[i]
	j := r.match[k]
	if j < 0 || j >= hi {
		return i, r.syntaxErr(hi)
	}
	name := t.val
	if k == i+3 {
		name = t.val + "." + r.toks[i+2].val
	}
	ref := tfuncRef{name: name, pos: t.pos, full: f.full, namePos: t.pos}
	f.full = false
	tvf := k == i+1 && t.kind == tIdent && (t.val == "tumble" || t.val == "hop")
	side, err := r.side(k+1, j, func(sf *frame, lo, hi int) error {
		for n, a := range r.splitArgs(lo, hi) {
			if n > 0 {
				r.kw(sf, ",", r.toks[a[0]-1].pos)
			}
			if a[0] == a[1] {
				return r.syntaxErr(a[0])
			}
			from := a[0]
			if tvf && n == 0 && r.toks[from].isWord("table") {
				from++
			}
			if err := r.seq(from, a[1], sf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return i, err
	}
	ref.side = side
	if r.p.tok(j+1).isWord("with") && r.p.tok(j+2).isWord("ordinality") && j+2 < hi {
		ref.ord = true
		j += 2
	}
	alias, cols, next, err := r.alias(j+1, hi)
	if err != nil {
		return i, err
	}
	ref.alias, ref.cols = alias, cols
	r.tfuncs = append(r.tfuncs, ref)
	r.emit(f, quoteIdent(fmt.Sprintf("__weir_f_%d", len(r.tfuncs)-1)), t.pos)
	f.from = 2
	return next, nil
}

// onConflict handles ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ...
func (r *rewriter) conflictClause(i, hi int, f *frame) (int, error) {
	oc := &OnConflict{}
	k := i + 2
	if r.p.tok(k).isPunct("(") {
		j := r.match[k]
		if j < 0 || j >= hi {
			return i, r.syntaxErr(hi)
		}
		for _, a := range r.splitArgs(k+1, j) {
			if a[1]-a[0] != 1 || (r.toks[a[0]].kind != tIdent && r.toks[a[0]].kind != tQIdent) {
				return i, r.syntaxErr(a[0])
			}
			oc.Columns = append(oc.Columns, r.toks[a[0]].val)
		}
		k = j + 1
	}
	if !r.p.tok(k).isWord("do") {
		return i, r.syntaxErr(k)
	}
	r.onConflict = oc
	switch {
	case r.p.tok(k + 1).isWord("nothing"):
		oc.DoNothing = true
		return k + 2, nil
	case r.p.tok(k+1).isWord("update") && r.p.tok(k+2).isWord("set"):
		r.kw(f, "ON DUPLICATE KEY UPDATE", r.toks[i].pos)
		return k + 3, nil
	}
	return i, r.syntaxErr(k + 1)
}

// interval handles INTERVAL '1' MINUTE, INTERVAL '1 minute',
// INTERVAL '1:30' MINUTE TO SECOND and INTERVAL 5 SECOND.
func (r *rewriter) interval(i, hi int, f *frame) (int, error) {
	t := r.toks[i]
	v := r.p.tok(i + 1)
	if i+1 >= hi || (v.kind != tString && v.kind != tNumber) {
		return i, r.syntaxErr(i + 1)
	}
	k := i + 2
	unit, to := "", ""
	if k < hi && r.p.tok(k).kind == tIdent && intervalUnit(r.toks[k].val) != "" {
		unit = intervalUnit(r.toks[k].val)
		k++
		if r.p.tok(k).isPunct("(") && r.p.tok(k+1).kind == tNumber && r.p.tok(k+2).isPunct(")") {
			k += 3
		}
		if r.p.tok(k).isWord("to") && intervalUnit(r.p.tok(k+1).val) != "" && k+1 < hi {
			to = intervalUnit(r.toks[k+1].val)
			k += 2
			if r.p.tok(k).isPunct("(") && r.p.tok(k+1).kind == tNumber && r.p.tok(k+2).isPunct(")") {
				k += 3
			}
		}
	}
	months, us, err := intervalValue(v.val, unit, to)
	if err != nil {
		e := pgerr.New(pgerr.InvalidDatetimeFormat, "invalid input syntax for type interval: %q", v.val)
		e.Pos = v.pos + 1
		return i, e
	}
	r.slot(f, &Literal{Value: datum.NewInterval(months, us), Type: datum.TypeInterval}, t.pos)
	return k, nil
}

func intervalUnit(w string) string {
	switch strings.ToLower(w) {
	case "year", "years":
		return "year"
	case "month", "months":
		return "month"
	case "week", "weeks":
		return "week"
	case "day", "days":
		return "day"
	case "hour", "hours":
		return "hour"
	case "minute", "minutes":
		return "minute"
	case "second", "seconds":
		return "second"
	case "millisecond", "milliseconds":
		return "millisecond"
	case "microsecond", "microseconds":
		return "microsecond"
	}
	return ""
}

// intervalValue computes an interval from its string and optional unit
// qualifier ('1' MINUTE, '1:30' MINUTE TO SECOND).
func intervalValue(s, unit, to string) (int32, int64, error) {
	str := strings.TrimSpace(s)
	if unit == "" {
		return datum.ParseInterval(str)
	}
	if to == "" {
		if v, err := strconv.ParseFloat(str, 64); err == nil {
			switch unit {
			case "year":
				return int32(v * 12), 0, nil
			case "month":
				return int32(v), 0, nil
			}
			mul := map[string]float64{"week": 7 * 86400e6, "day": 86400e6, "hour": 3600e6,
				"minute": 60e6, "second": 1e6, "millisecond": 1e3, "microsecond": 1}[unit]
			return 0, int64(math.Round(v * mul)), nil
		}
		return datum.ParseInterval(str)
	}
	switch {
	case unit == "year" && to == "month":
		neg := strings.HasPrefix(str, "-")
		parts := strings.SplitN(strings.TrimPrefix(str, "-"), "-", 2)
		y, err := strconv.Atoi(parts[0])
		if err != nil {
			return 0, 0, err
		}
		m := 0
		if len(parts) == 2 {
			if m, err = strconv.Atoi(parts[1]); err != nil {
				return 0, 0, err
			}
		}
		total := int32(y*12 + m)
		if neg {
			total = -total
		}
		return total, 0, nil
	case unit == "minute" && to == "second" && strings.Count(str, ":") == 1:
		neg := strings.HasPrefix(str, "-")
		str = "0:" + strings.TrimPrefix(str, "-")
		if neg {
			str = "-" + str
		}
		return datum.ParseInterval(str)
	case unit == "day":
		fields := strings.Fields(str)
		if len(fields) == 2 {
			return datum.ParseInterval(fields[0] + " days " + fields[1])
		}
	}
	return datum.ParseInterval(str)
}

// numberLiteral converts a numeric token: integers that fit int4 are
// INTEGER, int8 BIGINT, anything else NUMERIC.
func numberLiteral(s string) (*Literal, error) {
	if !strings.ContainsAny(s, ".eE") {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			if v >= math.MinInt32 && v <= math.MaxInt32 {
				return &Literal{Value: datum.NewInt(v), Type: datum.TypeInt4}, nil
			}
			return &Literal{Value: datum.NewInt(v), Type: datum.TypeInt8}, nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return nil, err
		}
	}
	return &Literal{Value: datum.NewFloat(v), Type: datum.TypeNumeric}, nil
}

// render lays out the main statement and the side statements as one text
// and records each token's offset.
func (r *rewriter) render() string {
	var b strings.Builder
	r.all = r.all[:0]
	write := func(list []*otok) {
		for k, t := range list {
			if k > 0 {
				b.WriteByte(' ')
			}
			t.off = b.Len()
			b.WriteString(t.text)
			r.all = append(r.all, t)
		}
	}
	write(r.main)
	for _, s := range r.sides {
		sep := &otok{text: ";", orig: r.endOff, eoi: true}
		b.WriteByte(' ')
		sep.off = b.Len()
		b.WriteByte(';')
		r.all = append(r.all, sep)
		b.WriteByte(' ')
		write(s)
	}
	return b.String()
}

// at returns the rendered token containing byte offset off.
func (r *rewriter) at(off int) (*otok, int) {
	lo, hi := 0, len(r.all)
	for lo < hi {
		m := (lo + hi) / 2
		if r.all[m].off <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		if len(r.all) == 0 {
			return &otok{orig: r.endOff, eoi: true}, -1
		}
		return r.all[0], 0
	}
	return r.all[lo-1], lo - 1
}
