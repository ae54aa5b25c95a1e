package sql

import (
	"strings"

	"github.com/weir-sql/weir/pgerr"
)

// ExpandParams replaces each ${NAME} in text by params[NAME]. It expands in
// code and inside quoted strings (so `path = '${DATA}/x.csv'` works), but not
// in comments, and it leaves alone the ${p} placeholders of a CREATE
// TEMPLATE statement's own parameters (they are expanded when a job is made
// from the template). A ${NAME} without a value is a 42P02 error positioned
// at its '$'.
func ExpandParams(text string, params map[string]string) (string, error) {
	out, _, err := expandParams(text, params)
	if err != nil {
		newSrcMap(text).fix(err)
		return "", err
	}
	return out, nil
}

// expandParams does ExpandParams and also returns where each substitution
// happened, so positions in the result can be mapped back to text. Errors
// carry Pos only (1-based, in text).
func expandParams(text string, params map[string]string) (string, []subst, *pgerr.Error) {
	if !strings.Contains(text, "${") {
		return text, nil, nil
	}
	keep := templateParams(text)
	var b strings.Builder
	var subs []subst
	i := 0
	quote := "" // the closing delimiter while inside '...', "..." or $tag$...$tag$
	for i < len(text) {
		c := text[i]
		switch {
		case quote != "" && strings.HasPrefix(text[i:], quote):
			b.WriteString(quote)
			i += len(quote)
			quote = ""
		case quote == "" && (c == '\'' || c == '"'):
			quote = string(c)
			b.WriteByte(c)
			i++
		case quote == "" && c == '$' && !strings.HasPrefix(text[i:], "${"):
			// $tag$ opens a dollar-quoted string; $1 is a parameter.
			j := i + 1
			for j < len(text) && isIdentCont(text[j]) && text[j] != '$' {
				j++
			}
			if j < len(text) && text[j] == '$' && (j == i+1 || isIdentStart(text[i+1])) {
				quote = text[i : j+1]
				b.WriteString(quote)
				i = j + 1
				continue
			}
			b.WriteByte(c)
			i++
		case quote == "" && c == '-' && strings.HasPrefix(text[i:], "--"):
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				j = len(text) - i
			}
			b.WriteString(text[i : i+j])
			i += j
		case quote == "" && c == '/' && strings.HasPrefix(text[i:], "/*"):
			j, depth := i, 0
			for j < len(text) {
				if strings.HasPrefix(text[j:], "/*") {
					depth++
					j += 2
				} else if strings.HasPrefix(text[j:], "*/") {
					depth--
					j += 2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			b.WriteString(text[i:j])
			i = j
		case c == '$' && strings.HasPrefix(text[i:], "${"):
			k := strings.IndexByte(text[i:], '}')
			if k < 0 {
				b.WriteByte(c)
				i++
				continue
			}
			name := text[i+2 : i+k]
			if keep(i, name) {
				b.WriteString(text[i : i+k+1])
				i += k + 1
				continue
			}
			v, ok := params[name]
			if !ok {
				e := pgerr.New(pgerr.UndefinedParameter, "parameter %q has no value", name)
				e.Pos = i + 1
				return "", nil, e
			}
			subs = append(subs, subst{exp: b.Len(), expEnd: b.Len() + len(v), origPos: i, origEnd: i + k + 1})
			b.WriteString(v)
			i += k + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String(), subs, nil
}

// templateParams finds CREATE TEMPLATE statements in text and returns a
// function reporting whether the ${name} at byte offset off is one of its
// statement's template parameters (to be left unexpanded).
func templateParams(text string) func(off int, name string) bool {
	toks, _ := lex(text)
	type tmpl struct {
		lo, hi int
		params map[string]bool
	}
	var ts []tmpl
	for _, r := range splitTokens(toks) {
		st := toks[r.lo:r.hi]
		if len(st) < 4 || !st[0].isWord("create") || !st[1].isWord("template") {
			continue
		}
		t := tmpl{lo: st[0].pos, hi: len(text), params: map[string]bool{}}
		if !r.open || r.hi < len(toks) {
			t.hi = st[len(st)-1].end
		}
		// CREATE TEMPLATE name ( p type, ... ) AS
		if st[3].isPunct("(") {
			depth := 0
			expectName := true
		scan:
			for _, tk := range st[3:] {
				switch {
				case tk.isPunct("("):
					depth++
					continue
				case tk.isPunct(")"):
					depth--
				case tk.isPunct(",") && depth == 1:
					expectName = true
					continue
				}
				if depth == 0 {
					break scan
				}
				if expectName && depth == 1 && (tk.kind == tIdent || tk.kind == tQIdent) {
					t.params[tk.val] = true
				}
				expectName = false
			}
		}
		ts = append(ts, t)
	}
	return func(off int, name string) bool {
		for _, t := range ts {
			if off >= t.lo && off < t.hi {
				return t.params[name] || t.params[strings.ToLower(name)]
			}
		}
		return false
	}
}
