package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// A small SQL expression parser for tests. It plays the planner's binder:
// it resolves every node with ResolveCall/ResolveCast/ResolveCase as it
// parses, so the tests exercise resolution exactly as the binder will.

type testColumn struct {
	idx int
	typ datum.Type
}

type tok struct {
	kind byte // 'i' ident, 'n' number, 's' string, 'o' operator, 'p' param, 0 EOF
	text string
}

type exprParser struct {
	toks []tok
	pos  int
	cols map[string]testColumn
	reg  *Registry
}

func tokenize(s string) ([]tok, error) {
	var out []tok
	i := 0
	for i < len(s) {
		c := rune(s[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			out = append(out, tok{'s', b.String()})
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unterminated identifier")
			}
			out = append(out, tok{'i', s[i+1 : i+1+j]})
			i += j + 2
		case c == '$':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, tok{'p', s[i+1 : j]})
			i = j
		case unicode.IsDigit(c) || (c == '.' && i+1 < len(s) && unicode.IsDigit(rune(s[i+1]))):
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.' || s[j] == 'e' ||
				((s[j] == '-' || s[j] == '+') && j > i && s[j-1] == 'e')) {
				j++
			}
			out = append(out, tok{'n', s[i:j]})
			i = j
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			out = append(out, tok{'i', s[i:j]})
			i = j
		default:
			ops := []string{"!~*", "<>", "!=", "<=", ">=", "::", "||", "!~", "~*"}
			matched := false
			for _, op := range ops {
				if strings.HasPrefix(s[i:], op) {
					out = append(out, tok{'o', op})
					i += len(op)
					matched = true
					break
				}
			}
			if !matched {
				out = append(out, tok{'o', string(c)})
				i++
			}
		}
	}
	return out, nil
}

func parseTestExpr(s string, cols map[string]testColumn, reg *Registry) (Expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks, cols: cols, reg: reg}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != 0 {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return e, nil
}

func (p *exprParser) peek() tok {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return tok{}
}

func (p *exprParser) peekN(n int) tok {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return tok{}
}

func (p *exprParser) next() tok { t := p.peek(); p.pos++; return t }

// kw reports (and consumes) a keyword.
func (p *exprParser) kw(words ...string) bool {
	for i, w := range words {
		t := p.peekN(i)
		if t.kind != 'i' || !strings.EqualFold(t.text, w) {
			return false
		}
	}
	p.pos += len(words)
	return true
}

func (p *exprParser) op(o string) bool {
	if t := p.peek(); t.kind == 'o' && t.text == o {
		p.pos++
		return true
	}
	return false
}

func (p *exprParser) expect(o string) error {
	if !p.op(o) {
		return fmt.Errorf("expected %q at %q", o, p.peek().text)
	}
	return nil
}

func (p *exprParser) call(fn string, args ...Expr) (Expr, error) {
	return ResolveCallIn(p.reg, fn, args)
}

func (p *exprParser) expr() (Expr, error) { return p.or() }

func (p *exprParser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.kw("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		if l, err = p.call("or", l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *exprParser) and() (Expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.kw("and") {
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		if l, err = p.call("and", l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *exprParser) not() (Expr, error) {
	if p.kw("not") {
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return p.call("not", x)
	}
	return p.is()
}

func (p *exprParser) is() (Expr, error) {
	l, err := p.cmp()
	if err != nil {
		return nil, err
	}
	for p.kw("is") {
		neg := p.kw("not")
		prefix := "is "
		if neg {
			prefix = "is not "
		}
		switch {
		case p.kw("null"):
			l, err = p.call(prefix+"null", l)
		case p.kw("true"):
			l, err = p.call(prefix+"true", l)
		case p.kw("false"):
			l, err = p.call(prefix+"false", l)
		case p.kw("unknown"):
			l, err = p.call(prefix+"unknown", l)
		case p.kw("distinct", "from"):
			var r Expr
			if r, err = p.cmp(); err == nil {
				l, err = p.call(prefix+"distinct from", l, r)
			}
		default:
			return nil, fmt.Errorf("bad IS")
		}
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *exprParser) cmp() (Expr, error) {
	l, err := p.like()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != 'o' {
			return l, nil
		}
		switch t.text {
		case "=", "<>", "!=", "<", "<=", ">", ">=":
			p.next()
			r, err := p.like()
			if err != nil {
				return nil, err
			}
			if l, err = p.call(t.text, l, r); err != nil {
				return nil, err
			}
		default:
			return l, nil
		}
	}
}

func (p *exprParser) like() (Expr, error) {
	l, err := p.other()
	if err != nil {
		return nil, err
	}
	neg := false
	if t := p.peek(); t.kind == 'i' && strings.EqualFold(t.text, "not") {
		if n := p.peekN(1); n.kind == 'i' && (strings.EqualFold(n.text, "like") || strings.EqualFold(n.text, "ilike") ||
			strings.EqualFold(n.text, "in") || strings.EqualFold(n.text, "between")) {
			p.next()
			neg = true
		}
	}
	notp := ""
	if neg {
		notp = "not "
	}
	switch {
	case p.kw("like"), p.kw("ilike"):
		fn := strings.ToLower(p.toks[p.pos-1].text)
		r, err := p.other()
		if err != nil {
			return nil, err
		}
		args := []Expr{l, r}
		if p.kw("escape") {
			e, err := p.other()
			if err != nil {
				return nil, err
			}
			args = append(args, e)
		}
		return p.call(notp+fn, args...)
	case p.kw("in"):
		if err := p.expect("("); err != nil {
			return nil, err
		}
		args := []Expr{l}
		for {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, e)
			if !p.op(",") {
				break
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return p.call(notp+"in", args...)
	case p.kw("between"):
		lo, err := p.other()
		if err != nil {
			return nil, err
		}
		if !p.kw("and") {
			return nil, fmt.Errorf("expected AND")
		}
		hi, err := p.other()
		if err != nil {
			return nil, err
		}
		ge, err := p.call(">=", l, lo)
		if err != nil {
			return nil, err
		}
		le, err := p.call("<=", l, hi)
		if err != nil {
			return nil, err
		}
		b, err := p.call("and", ge, le)
		if err != nil || !neg {
			return b, err
		}
		return p.call("not", b)
	}
	return l, nil
}

func (p *exprParser) other() (Expr, error) {
	l, err := p.add()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != 'o' {
			return l, nil
		}
		switch t.text {
		case "||", "~", "!~", "~*", "!~*":
			p.next()
			r, err := p.add()
			if err != nil {
				return nil, err
			}
			if l, err = p.call(t.text, l, r); err != nil {
				return nil, err
			}
		default:
			return l, nil
		}
	}
}

func (p *exprParser) add() (Expr, error) {
	l, err := p.mul()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != 'o' || (t.text != "+" && t.text != "-") {
			return l, nil
		}
		p.next()
		r, err := p.mul()
		if err != nil {
			return nil, err
		}
		if l, err = p.call(t.text, l, r); err != nil {
			return nil, err
		}
	}
}

func (p *exprParser) mul() (Expr, error) {
	l, err := p.pow()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != 'o' || (t.text != "*" && t.text != "/" && t.text != "%") {
			return l, nil
		}
		p.next()
		r, err := p.pow()
		if err != nil {
			return nil, err
		}
		if l, err = p.call(t.text, l, r); err != nil {
			return nil, err
		}
	}
}

func (p *exprParser) pow() (Expr, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.op("^") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		if l, err = p.call("^", l, r); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (p *exprParser) unary() (Expr, error) {
	if p.op("-") {
		// A negative number literal is one constant, as in PostgreSQL.
		if t := p.peek(); t.kind == 'n' {
			if nt := p.peekN(1); !(nt.kind == 'o' && nt.text == "::") {
				p.next()
				return numberConst("-" + t.text)
			}
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return p.call("neg", x)
	}
	if p.op("+") {
		return p.unary()
	}
	return p.postfix()
}

func (p *exprParser) typeName() (datum.Type, error) {
	t := p.next()
	if t.kind != 'i' {
		return 0, fmt.Errorf("expected type name")
	}
	name := t.text
	if strings.EqualFold(name, "double") && p.kw("precision") {
		name = "double precision"
	}
	typ, ok := datum.ParseTypeName(name)
	if !ok {
		return 0, pgerr.New(pgerr.UndefinedObject, "type %q does not exist", name)
	}
	return typ, nil
}

func (p *exprParser) postfix() (Expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.op("::") {
		t, err := p.typeName()
		if err != nil {
			return nil, err
		}
		if x, err = ResolveCast(x, t); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func numberConst(s string) (Expr, error) {
	if !strings.ContainsAny(s, ".e") {
		v, err := strconv.ParseInt(s, 10, 64)
		if err == nil {
			if v >= -1<<31 && v < 1<<31 {
				return &Const{Val: datum.NewInt(v), Typ: datum.TypeInt4}, nil
			}
			return &Const{Val: datum.NewInt(v), Typ: datum.TypeInt8}, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("bad number %q", s)
	}
	return &Const{Val: datum.NewFloat(f), Typ: datum.TypeNumeric}, nil
}

func (p *exprParser) args() ([]Expr, error) {
	var args []Expr
	if p.op(")") {
		return nil, nil
	}
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, e)
		if p.op(")") {
			return args, nil
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
	}
}

func (p *exprParser) primary() (Expr, error) {
	t := p.next()
	switch t.kind {
	case 'n':
		return numberConst(t.text)
	case 's':
		return &Const{Val: datum.NewString(t.text), Typ: datum.TypeUnknown}, nil
	case 'p':
		n, _ := strconv.Atoi(t.text)
		return &Param{Index: n, Typ: datum.TypeUnknown}, nil
	case 'o':
		if t.text == "(" {
			e, err := p.expr()
			if err != nil {
				return nil, err
			}
			return e, p.expect(")")
		}
		return nil, fmt.Errorf("unexpected %q", t.text)
	case 0:
		return nil, fmt.Errorf("unexpected end of expression")
	}
	word := strings.ToLower(t.text)
	switch word {
	case "null":
		return &Const{Val: datum.Null, Typ: datum.TypeUnknown}, nil
	case "true", "false":
		return &Const{Val: datum.NewBool(word == "true"), Typ: datum.TypeBool}, nil
	case "timestamp", "timestamptz", "date", "interval":
		if s := p.peek(); s.kind == 's' {
			p.next()
			typ, _ := datum.ParseTypeName(word)
			return ResolveCast(&Const{Val: datum.NewString(s.text), Typ: datum.TypeUnknown}, typ)
		}
	case "current_timestamp", "current_date", "localtimestamp":
		if !(p.peek().kind == 'o' && p.peek().text == "(") {
			return p.call(word)
		}
	case "cast":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.kw("as") {
			return nil, fmt.Errorf("expected AS")
		}
		typ, err := p.typeName()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return ResolveCast(x, typ)
	case "case":
		return p.caseExpr()
	case "extract":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		f := p.next()
		if !p.kw("from") {
			return nil, fmt.Errorf("expected FROM")
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return p.call("extract", &Const{Val: datum.NewString(f.text), Typ: datum.TypeUnknown}, x)
	case "position":
		if err := p.expect("("); err != nil {
			return nil, err
		}
		sub, err := p.other()
		if err != nil {
			return nil, err
		}
		if !p.kw("in") {
			return nil, fmt.Errorf("expected IN")
		}
		s, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return p.call("position", sub, s)
	}
	if p.op("(") {
		args, err := p.args()
		if err != nil {
			return nil, err
		}
		return p.call(word, args...)
	}
	c, ok := p.cols[word]
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedColumn, "column %q does not exist", word)
	}
	return &Col{Idx: c.idx, Typ: c.typ, Name: word}, nil
}

func (p *exprParser) caseExpr() (Expr, error) {
	var operand Expr
	var err error
	if !(p.peek().kind == 'i' && strings.EqualFold(p.peek().text, "when")) {
		if operand, err = p.expr(); err != nil {
			return nil, err
		}
	}
	var whens []When
	for p.kw("when") {
		c, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.kw("then") {
			return nil, fmt.Errorf("expected THEN")
		}
		th, err := p.expr()
		if err != nil {
			return nil, err
		}
		whens = append(whens, When{Cond: c, Then: th})
	}
	var els Expr
	if p.kw("else") {
		if els, err = p.expr(); err != nil {
			return nil, err
		}
	}
	if !p.kw("end") {
		return nil, fmt.Errorf("expected END")
	}
	return ResolveCase(operand, whens, els)
}
