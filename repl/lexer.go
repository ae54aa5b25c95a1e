package repl

import "strings"

// lexState is where a scan of the input stopped: inside nothing, or inside a
// construct that continues on the next line. The shell shows it in the
// continuation prompt the way psql does (weir-> weir'> weir"> weir$> weir*>
// weir(>).
type lexState uint8

const (
	stNormal  lexState = iota
	stSingle           // '...' (or E'...')
	stDouble           // "..."
	stDollar           // $tag$...$tag$
	stComment          // /* ... */ (nested)
)

// tokKind classifies a token.
type tokKind uint8

const (
	tkWord   tokKind = iota // keyword or unquoted identifier
	tkIdent                 // "quoted identifier" (text without quotes)
	tkString                // 'string' or $$string$$ (text without quotes)
	tkNumber
	tkPunct // one character: ( ) , ; . = etc.
)

// token is one lexical token of shell input. pos and end are byte offsets
// into the scanned text.
type token struct {
	kind     tokKind
	text     string
	pos, end int
}

// scan is the result of lexing shell input. It is deliberately a small
// lexer of its own (not sql.Split): the shell must know, line by line,
// whether a statement is finished, what it is waiting for, and where an
// unquoted backslash starts a meta-command, and it must work the same for a
// remote server whose dialect it does not parse.
type scan struct {
	toks []token
	// ends are the byte offsets just past each ';' at parenthesis depth 0.
	ends []int
	// meta is the offset of the first backslash outside quotes and
	// comments (the start of a meta-command), or -1. Lexing stops there.
	meta int
	// state and depth describe the end of the text (or of text[:meta]).
	state lexState
	depth int
	// lineComments are the [start, end) spans of -- comments.
	lineComments [][2]int
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// dollarTag returns the $tag$ opening a dollar-quoted string at text[i], or
// "" (a parameter like $1 or ${name} is not one).
func dollarTag(text string, i int) string {
	j := i + 1
	if j < len(text) && text[j] == '$' {
		return "$$"
	}
	if j >= len(text) || !isIdentStart(text[j]) {
		return ""
	}
	for j < len(text) && (isIdentStart(text[j]) || isDigit(text[j])) {
		j++
	}
	if j < len(text) && text[j] == '$' {
		return text[i : j+1]
	}
	return ""
}

// lex scans text from the start. It tolerates anything: unterminated
// constructs simply leave state set.
func lex(text string) scan {
	s := scan{meta: -1}
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(text) && text[i+1] == '-':
			start := i
			for i < len(text) && text[i] != '\n' {
				i++
			}
			s.lineComments = append(s.lineComments, [2]int{start, i})
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			nest := 1
			i += 2
			for i < len(text) && nest > 0 {
				switch {
				case strings.HasPrefix(text[i:], "*/"):
					nest--
					i += 2
				case strings.HasPrefix(text[i:], "/*"):
					nest++
					i += 2
				default:
					i++
				}
			}
			if nest > 0 {
				s.state = stComment
				return s
			}
		case c == '\\':
			s.meta = i
			return s
		case c == '\'' || (c == 'e' || c == 'E') && i+1 < len(text) && text[i+1] == '\'':
			start := i
			escapes := c != '\''
			if escapes {
				i++
			}
			i++
			var b strings.Builder
			closed := false
			for i < len(text) {
				if escapes && text[i] == '\\' && i+1 < len(text) {
					b.WriteByte(text[i+1])
					i += 2
					continue
				}
				if text[i] == '\'' {
					if i+1 < len(text) && text[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(text[i])
				i++
			}
			if !closed {
				s.state = stSingle
				return s
			}
			s.toks = append(s.toks, token{kind: tkString, text: b.String(), pos: start, end: i})
		case c == '"':
			start := i
			i++
			var b strings.Builder
			closed := false
			for i < len(text) {
				if text[i] == '"' {
					if i+1 < len(text) && text[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(text[i])
				i++
			}
			if !closed {
				s.state = stDouble
				return s
			}
			s.toks = append(s.toks, token{kind: tkIdent, text: b.String(), pos: start, end: i})
		case c == '$' && dollarTag(text, i) != "":
			tag := dollarTag(text, i)
			start := i
			i += len(tag)
			k := strings.Index(text[i:], tag)
			if k < 0 {
				s.state = stDollar
				return s
			}
			s.toks = append(s.toks, token{kind: tkString, text: text[i : i+k], pos: start, end: i + k + len(tag)})
			i += k + len(tag)
		case isIdentStart(c):
			start := i
			for i < len(text) && isIdentChar(text[i]) {
				i++
			}
			s.toks = append(s.toks, token{kind: tkWord, text: text[start:i], pos: start, end: i})
		case isDigit(c) || c == '.' && i+1 < len(text) && isDigit(text[i+1]):
			start := i
			for i < len(text) && (isDigit(text[i]) || text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
				(text[i] == '-' || text[i] == '+') && (text[i-1] == 'e' || text[i-1] == 'E')) {
				i++
			}
			s.toks = append(s.toks, token{kind: tkNumber, text: text[start:i], pos: start, end: i})
		default:
			s.toks = append(s.toks, token{kind: tkPunct, text: text[i : i+1], pos: i, end: i + 1})
			switch c {
			case '(', '[':
				s.depth++
			case ')', ']':
				if s.depth > 0 {
					s.depth--
				}
			case ';':
				if s.depth == 0 {
					s.ends = append(s.ends, i+1)
				}
			}
			i++
		}
	}
	return s
}

// promptChar is the character psql puts in a continuation prompt for the
// state a scan ended in.
func (s scan) promptChar() byte {
	switch s.state {
	case stSingle:
		return '\''
	case stDouble:
		return '"'
	case stDollar:
		return '$'
	case stComment:
		return '*'
	}
	if s.depth > 0 {
		return '('
	}
	return '-'
}

// hasTokens reports whether text[from:to] holds any token (not only
// whitespace, comments and semicolons).
func (s scan) hasTokens(from, to int) bool {
	for _, t := range s.toks {
		if t.pos >= from && t.end <= to && !(t.kind == tkPunct && t.text == ";") {
			return true
		}
	}
	return false
}

// pending reports whether text[from:] (up to the meta-command, if any) is
// unfinished input: a token, or an open quote or comment.
func (s scan) pending(from, textLen int) bool {
	if s.state != stNormal {
		return true
	}
	to := textLen
	if s.meta >= 0 {
		to = s.meta
	}
	return s.hasTokens(from, to)
}

// unquote returns an identifier as the engine sees it: quoted identifiers
// as written, unquoted ones lower-cased.
func unquote(t token) string {
	if t.kind == tkIdent {
		return t.text
	}
	return strings.ToLower(t.text)
}

// oneLine joins the lines of a statement into one line for the history
// file (which holds one entry per line), dropping -- comments, which would
// otherwise swallow the rest.
func oneLine(lines []string) string {
	text := strings.Join(lines, "\n")
	var b strings.Builder
	prev := 0
	for _, c := range lex(text).lineComments {
		b.WriteString(text[prev:c[0]])
		prev = c[1]
	}
	b.WriteString(text[prev:])
	var parts []string
	for _, l := range strings.Split(b.String(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}
