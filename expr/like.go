package expr

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

const (
	codeInvalidEscapeSequence = "22025"
	codeInvalidRegex          = "2201B"
)

// likeAny is the rune standing for '_' in a compiled LIKE segment.
const likeAny = -1

// likeMatcher is a compiled LIKE pattern: segments separated by '%'. A
// segment is a sequence of literal runes and likeAny.
type likeMatcher struct {
	segs    [][]rune
	lits    []string // segment as a string when it has no '_', else ""
	plain   []bool   // segment has no '_'
	percent bool     // pattern has at least one '%'
	fold    bool     // ILIKE: input is lower-cased (the pattern already is)
}

// compileLike parses a LIKE pattern. esc is the escape character, or a
// negative value for none (ESCAPE ”).
func compileLike(pattern string, esc rune, fold bool) (*likeMatcher, error) {
	m := &likeMatcher{fold: fold}
	lit := func(r rune) rune {
		if fold {
			return unicode.ToLower(r)
		}
		return r
	}
	cur := []rune{}
	flush := func() {
		m.segs = append(m.segs, cur)
		cur = []rune{}
	}
	rs := []rune(pattern)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == esc:
			if i+1 >= len(rs) {
				return nil, pgerr.New(codeInvalidEscapeSequence, "LIKE pattern must not end with escape character")
			}
			i++
			cur = append(cur, lit(rs[i]))
		case r == '%':
			m.percent = true
			flush()
			for i+1 < len(rs) && rs[i+1] == '%' { // collapse %%
				i++
			}
		case r == '_':
			cur = append(cur, likeAny)
		default:
			cur = append(cur, lit(r))
		}
	}
	flush()
	for _, s := range m.segs {
		plain := true
		for _, r := range s {
			if r == likeAny {
				plain = false
			}
		}
		m.plain = append(m.plain, plain)
		if plain {
			m.lits = append(m.lits, string(s))
		} else {
			m.lits = append(m.lits, "")
		}
	}
	return m, nil
}

// matchAt matches segment seg at byte offset i of s and returns the end.
func matchAt(s string, i int, seg []rune) (int, bool) {
	for _, r := range seg {
		if i >= len(s) {
			return 0, false
		}
		c, w := utf8.DecodeRuneInString(s[i:])
		if r != likeAny && r != c {
			return 0, false
		}
		i += w
	}
	return i, true
}

// runeStartFromEnd returns the byte offset where the last n runes of s
// begin, or -1 if s has fewer.
func runeStartFromEnd(s string, n int) int {
	i := len(s)
	for ; n > 0; n-- {
		if i <= 0 {
			return -1
		}
		_, w := utf8.DecodeLastRuneInString(s[:i])
		i -= w
	}
	return i
}

func (m *likeMatcher) match(s string) bool {
	if m.fold {
		s = strings.ToLower(s)
	}
	last := len(m.segs) - 1
	if !m.percent {
		if m.plain[0] {
			return s == m.lits[0]
		}
		end, ok := matchAt(s, 0, m.segs[0])
		return ok && end == len(s)
	}
	// Prefix.
	pos := 0
	if m.plain[0] {
		if !strings.HasPrefix(s, m.lits[0]) {
			return false
		}
		pos = len(m.lits[0])
	} else {
		end, ok := matchAt(s, 0, m.segs[0])
		if !ok {
			return false
		}
		pos = end
	}
	// Suffix.
	end := len(s)
	if m.plain[last] {
		if !strings.HasSuffix(s[pos:], m.lits[last]) {
			return false
		}
		end = len(s) - len(m.lits[last])
	} else {
		st := runeStartFromEnd(s, len(m.segs[last]))
		if st < pos {
			return false
		}
		if e, ok := matchAt(s, st, m.segs[last]); !ok || e != len(s) {
			return false
		}
		end = st
	}
	// Middle segments, leftmost first.
	for k := 1; k < last; k++ {
		if m.plain[k] {
			j := strings.Index(s[pos:end], m.lits[k])
			if j < 0 {
				return false
			}
			pos += j + len(m.lits[k])
			continue
		}
		found := false
		for i := pos; i <= end; {
			if e, ok := matchAt(s[:end], i, m.segs[k]); ok {
				pos, found = e, true
				break
			}
			if i == end {
				break
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
		if !found {
			return false
		}
	}
	return true
}

func likeEscape(d datum.Datum) (rune, error) {
	s := d.Str()
	switch utf8.RuneCountInString(s) {
	case 0:
		return -2, nil // no escape character
	case 1:
		r, _ := utf8.DecodeRuneInString(s)
		return r, nil
	}
	return 0, pgerr.New(codeInvalidEscapeSequence, "invalid escape string").
		WithHint("Escape string must be empty or one character.")
}

func (c *compiler) compileLike(x *Call) (boolEval, error) {
	if len(x.Args) != 2 && len(x.Args) != 3 {
		return nil, errNoOperator(x.Fn, argTypes(x.Args))
	}
	fold := x.Fn == opILike || x.Fn == opNotILike
	neg := x.Fn == opNotLike || x.Fn == opNotILike
	s, err := c.compile(x.Args[0])
	if err != nil {
		return nil, err
	}
	var escConst *Const
	if len(x.Args) == 3 {
		escConst, _ = x.Args[2].(*Const)
	}
	pc, constPat := x.Args[1].(*Const)
	if constPat && (len(x.Args) == 2 || escConst != nil) {
		if pc.Val.IsNull() || (escConst != nil && escConst.Val.IsNull()) {
			return constBool(false, true), nil
		}
		esc := rune('\\')
		if escConst != nil {
			if esc, err = likeEscape(escConst.Val); err != nil {
				return nil, err
			}
		}
		m, err := compileLike(pc.Val.Str(), esc, fold)
		if err != nil {
			return nil, err
		}
		return func(row datum.Row) (bool, bool, error) {
			d, err := s(row)
			if err != nil || d.IsNull() {
				return false, err == nil, err
			}
			return m.match(d.Str()) != neg, false, nil
		}, nil
	}
	rest, err := c.compileAll(x.Args[1:])
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (bool, bool, error) {
		d, err := s(row)
		if err != nil || d.IsNull() {
			return false, err == nil, err
		}
		p, err := rest[0](row)
		if err != nil || p.IsNull() {
			return false, err == nil, err
		}
		esc := rune('\\')
		if len(rest) == 2 {
			e, err := rest[1](row)
			if err != nil || e.IsNull() {
				return false, err == nil, err
			}
			if esc, err = likeEscape(e); err != nil {
				return false, false, err
			}
		}
		m, err := compileLike(p.Str(), esc, fold)
		if err != nil {
			return false, false, err
		}
		return m.match(d.Str()) != neg, false, nil
	}, nil
}

// compileRegex compiles a POSIX-style pattern with PostgreSQL's defaults
// (dot matches newline) using Go's RE2 syntax, which covers the common
// subset of PostgreSQL's ARE (no back-references or lookaround).
func compileRegex(pattern string, caseInsensitive bool) (*regexp.Regexp, error) {
	prefix := "(?s)"
	if caseInsensitive {
		prefix = "(?is)"
	}
	re, err := regexp.Compile(prefix + pattern)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		msg = strings.NewReplacer("`(?s)", "`", "`(?is)", "`").Replace(msg)
		return nil, pgerr.New(codeInvalidRegex, "invalid regular expression: %s", msg)
	}
	return re, nil
}

func (c *compiler) compileRegexMatch(x *Call) (boolEval, error) {
	if len(x.Args) != 2 {
		return nil, errNoOperator(x.Fn, argTypes(x.Args))
	}
	ci := x.Fn == opRegexI || x.Fn == opNotRegexI
	neg := x.Fn == opNotRegex || x.Fn == opNotRegexI
	s, err := c.compile(x.Args[0])
	if err != nil {
		return nil, err
	}
	if pc, ok := x.Args[1].(*Const); ok {
		if pc.Val.IsNull() {
			return constBool(false, true), nil
		}
		re, err := compileRegex(pc.Val.Str(), ci)
		if err != nil {
			return nil, err
		}
		return func(row datum.Row) (bool, bool, error) {
			d, err := s(row)
			if err != nil || d.IsNull() {
				return false, err == nil, err
			}
			return re.MatchString(d.Str()) != neg, false, nil
		}, nil
	}
	p, err := c.compile(x.Args[1])
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (bool, bool, error) {
		d, err := s(row)
		if err != nil || d.IsNull() {
			return false, err == nil, err
		}
		pd, err := p(row)
		if err != nil || pd.IsNull() {
			return false, err == nil, err
		}
		re, err := compileRegex(pd.Str(), ci)
		if err != nil {
			return false, false, err
		}
		return re.MatchString(d.Str()) != neg, false, nil
	}, nil
}

// regexpReplace implements regexp_replace(source, pattern, replacement
// [, flags]): flags g (all matches), i (case-insensitive), c (case-
// sensitive). The replacement may use \1..\9 and \& as in PostgreSQL.
type regexpReplacer struct {
	re     *regexp.Regexp
	tmpl   string
	global bool
}

func newRegexpReplacer(pattern, repl, flags string) (*regexpReplacer, error) {
	ci, global := false, false
	for _, f := range flags {
		switch f {
		case 'g':
			global = true
		case 'i':
			ci = true
		case 'c':
			ci = false
		default:
			return nil, pgerr.New(pgerr.InvalidParameterValue, "invalid regular expression option: %q", string(f))
		}
	}
	re, err := compileRegex(pattern, ci)
	if err != nil {
		return nil, err
	}
	return &regexpReplacer{re: re, tmpl: pgReplacement(repl), global: global}, nil
}

func (r *regexpReplacer) replace(s string) string {
	if r.global {
		return r.re.ReplaceAllString(s, r.tmpl)
	}
	loc := r.re.FindStringSubmatchIndex(s)
	if loc == nil {
		return s
	}
	out := r.re.ExpandString(nil, r.tmpl, s, loc)
	return s[:loc[0]] + string(out) + s[loc[1]:]
}

// pgReplacement converts a PostgreSQL replacement string to Go's template
// syntax.
func pgReplacement(repl string) string {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		ch := repl[i]
		switch {
		case ch == '$':
			b.WriteString("$$")
		case ch == '\\' && i+1 < len(repl):
			n := repl[i+1]
			switch {
			case n >= '1' && n <= '9':
				b.WriteString("${")
				b.WriteByte(n)
				b.WriteString("}")
				i++
			case n == '&':
				b.WriteString("${0}")
				i++
			case n == '\\':
				b.WriteByte('\\')
				i++
			default:
				b.WriteByte('\\')
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
