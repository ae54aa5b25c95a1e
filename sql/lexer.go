package sql

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/weir-sql/weir/pgerr"
)

// tokKind classifies a lexical token.
type tokKind uint8

const (
	tEOF     tokKind = iota
	tIdent           // unquoted word; val is lower-cased (PostgreSQL folding)
	tQIdent          // "quoted identifier"; val is the name as written
	tString          // 'string', E'string', $$string$$; val is the decoded value
	tNumber          // 42, 1.5, 1e3; val is the text as written
	tParam           // $1; val is the digits
	tOp              // operator (+, <=, ||, ~*, ...); val is the operator
	tPunct           // ( ) [ ] , ; . : :: ; val is the text
	tVar             // ${name} placeholder; val is the name
	tInvalid         // a character that starts no token
)

// token is one lexical token. pos and end are 0-based byte offsets into the
// text that was lexed: [pos, end).
type token struct {
	kind tokKind
	val  string
	pos  int
	end  int
}

func (t token) is(kind tokKind, val string) bool { return t.kind == kind && t.val == val }

// isWord reports whether t is the unquoted word w (lower-case).
func (t token) isWord(w string) bool { return t.kind == tIdent && t.val == w }

func (t token) isPunct(p string) bool { return t.kind == tPunct && t.val == p }

// lexer turns text into tokens following PostgreSQL's lexical rules.
// Comments and whitespace are skipped. Lexing stops at the first
// unterminated string, identifier or comment, which is reported as err.
type lexer struct {
	src  string
	i    int
	toks []token
}

const opChars = "+-*/<>=~!@#%^&|`?"

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func isIdentCont(c byte) bool {
	return isIdentStart(c) || (c >= '0' && c <= '9') || c == '$'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// lex tokenizes src. On an unterminated construct it returns the tokens
// before it and a 42601 error whose Pos is the 1-based offset of the
// construct in src.
func lex(src string) ([]token, *pgerr.Error) {
	l := &lexer{src: src}
	for {
		if err := l.skipSpaceAndComments(); err != nil {
			return l.toks, err
		}
		if l.i >= len(src) {
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return l.toks, err
		}
	}
}

func lexErr(pos int, format string, args ...any) *pgerr.Error {
	e := pgerr.New(pgerr.SyntaxError, format, args...)
	e.Pos = pos + 1
	return e
}

// nearText is the text PostgreSQL quotes in "at or near" for an
// unterminated construct: the rest of the input from its start.
func nearText(s string) string {
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func (l *lexer) skipSpaceAndComments() *pgerr.Error {
	src := l.src
	for l.i < len(src) {
		c := src[l.i]
		switch {
		case isSpace(c):
			l.i++
		case c == '-' && l.i+1 < len(src) && src[l.i+1] == '-':
			for l.i < len(src) && src[l.i] != '\n' {
				l.i++
			}
		case c == '/' && l.i+1 < len(src) && src[l.i+1] == '*':
			start := l.i
			depth := 0
			for {
				if l.i+1 >= len(src) {
					l.i = len(src)
					return lexErr(start, "unterminated /* comment at or near \"%s\"", nearText(src[start:]))
				}
				if src[l.i] == '/' && src[l.i+1] == '*' {
					depth++
					l.i += 2
				} else if src[l.i] == '*' && src[l.i+1] == '/' {
					depth--
					l.i += 2
					if depth == 0 {
						break
					}
				} else {
					l.i++
				}
			}
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) emit(kind tokKind, val string, pos int) {
	l.toks = append(l.toks, token{kind: kind, val: val, pos: pos, end: l.i})
}

func (l *lexer) next() *pgerr.Error {
	src := l.src
	start := l.i
	c := src[l.i]
	switch {
	case (c == 'e' || c == 'E') && l.i+1 < len(src) && src[l.i+1] == '\'':
		l.i++
		s, err := l.quoted(start, true)
		if err != nil {
			return err
		}
		l.emit(tString, s, start)
	case (c == 'n' || c == 'N') && l.i+1 < len(src) && src[l.i+1] == '\'':
		l.i++
		s, err := l.quoted(start, false)
		if err != nil {
			return err
		}
		l.emit(tString, s, start)
	case isIdentStart(c):
		for l.i < len(src) && isIdentCont(src[l.i]) {
			l.i++
		}
		l.emit(tIdent, lowerASCII(src[start:l.i]), start)
	case c == '"':
		var b strings.Builder
		l.i++
		for {
			if l.i >= len(src) {
				return lexErr(start, "unterminated quoted identifier at or near \"%s\"", nearText(src[start:]))
			}
			if src[l.i] == '"' {
				if l.i+1 < len(src) && src[l.i+1] == '"' {
					b.WriteByte('"')
					l.i += 2
					continue
				}
				l.i++
				break
			}
			b.WriteByte(src[l.i])
			l.i++
		}
		if b.Len() == 0 {
			return lexErr(start, "zero-length delimited identifier at or near \"\"\"\"")
		}
		l.emit(tQIdent, b.String(), start)
	case c == '\'':
		s, err := l.quoted(start, false)
		if err != nil {
			return err
		}
		l.emit(tString, s, start)
	case isDigit(c) || (c == '.' && l.i+1 < len(src) && isDigit(src[l.i+1])):
		for l.i < len(src) && isDigit(src[l.i]) {
			l.i++
		}
		if l.i < len(src) && src[l.i] == '.' && !(l.i+1 < len(src) && src[l.i+1] == '.') {
			l.i++
			for l.i < len(src) && isDigit(src[l.i]) {
				l.i++
			}
		}
		if l.i < len(src) && (src[l.i] == 'e' || src[l.i] == 'E') {
			j := l.i + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			if j < len(src) && isDigit(src[j]) {
				for j < len(src) && isDigit(src[j]) {
					j++
				}
				l.i = j
			}
		}
		l.emit(tNumber, src[start:l.i], start)
	case c == '$':
		return l.dollar(start)
	case c == ':':
		if l.i+1 < len(src) && src[l.i+1] == ':' {
			l.i += 2
			l.emit(tPunct, "::", start)
		} else {
			l.i++
			l.emit(tPunct, ":", start)
		}
	case strings.IndexByte("()[],;.", c) >= 0:
		l.i++
		l.emit(tPunct, string(c), start)
	case strings.IndexByte(opChars, c) >= 0:
		l.operator(start)
	default:
		_, size := utf8.DecodeRuneInString(src[l.i:])
		l.i += size
		l.emit(tInvalid, src[start:l.i], start)
	}
	return nil
}

// operator reads an operator with PostgreSQL's rules: the longest run of
// operator characters, not crossing a comment start, and a multi-character
// operator may end in + or - only if it contains one of ~ ! @ # % ^ & | ` ?.
func (l *lexer) operator(start int) {
	src := l.src
	j := l.i + 1
	for j < len(src) && strings.IndexByte(opChars, src[j]) >= 0 {
		if j+1 < len(src) && ((src[j] == '-' && src[j+1] == '-') || (src[j] == '/' && src[j+1] == '*')) {
			break
		}
		j++
	}
	op := src[start:j]
	if len(op) > 1 && !strings.ContainsAny(op, "~!@#%^&|`?") {
		for len(op) > 1 && (op[len(op)-1] == '+' || op[len(op)-1] == '-') {
			op = op[:len(op)-1]
		}
	}
	l.i = start + len(op)
	l.emit(tOp, op, start)
}

// dollar reads $n, $tag$...$tag$ and ${name}.
func (l *lexer) dollar(start int) *pgerr.Error {
	src := l.src
	j := l.i + 1
	if j < len(src) && isDigit(src[j]) {
		for j < len(src) && isDigit(src[j]) {
			j++
		}
		l.i = j
		l.emit(tParam, src[start+1:j], start)
		return nil
	}
	if j < len(src) && src[j] == '{' {
		k := strings.IndexByte(src[j:], '}')
		if k > 0 {
			l.i = j + k + 1
			l.emit(tVar, src[j+1:j+k], start)
			return nil
		}
	}
	// $tag$ where tag is empty or an identifier without '$'.
	k := j
	if k < len(src) && isIdentStart(src[k]) {
		for k < len(src) && isIdentCont(src[k]) && src[k] != '$' {
			k++
		}
	}
	if k < len(src) && src[k] == '$' {
		delim := src[start : k+1]
		body := k + 1
		end := strings.Index(src[body:], delim)
		if end < 0 {
			l.i = len(src)
			return lexErr(start, "unterminated dollar-quoted string at or near \"%s\"", nearText(src[start:]))
		}
		l.i = body + end + len(delim)
		l.emit(tString, src[body:body+end], start)
		return nil
	}
	l.i++
	l.emit(tInvalid, "$", start)
	return nil
}

// quoted reads a '...' string starting at l.i (the opening quote). With
// escapes it decodes backslash escapes (E'...'). Strings separated only by
// whitespace containing a newline are concatenated, as in PostgreSQL.
func (l *lexer) quoted(start int, escapes bool) (string, *pgerr.Error) {
	src := l.src
	var b strings.Builder
	for {
		l.i++ // opening quote
		for {
			if l.i >= len(src) {
				return "", lexErr(start, "unterminated quoted string at or near \"%s\"", nearText(src[start:]))
			}
			c := src[l.i]
			if c == '\'' {
				if l.i+1 < len(src) && src[l.i+1] == '\'' {
					b.WriteByte('\'')
					l.i += 2
					continue
				}
				l.i++
				break
			}
			if c == '\\' && escapes && l.i+1 < len(src) {
				l.i++
				l.escape(&b)
				continue
			}
			b.WriteByte(c)
			l.i++
		}
		// Continuation: 'a'\n'b' is 'ab'.
		j := l.i
		newline := false
		for j < len(src) && isSpace(src[j]) {
			if src[j] == '\n' {
				newline = true
			}
			j++
		}
		if !newline || j >= len(src) || src[j] != '\'' {
			return b.String(), nil
		}
		l.i = j
	}
}

// escape decodes one backslash escape of an E” string; l.i is just past
// the backslash.
func (l *lexer) escape(b *strings.Builder) {
	src := l.src
	c := src[l.i]
	l.i++
	switch c {
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'x':
		j := l.i
		for j < len(src) && j < l.i+2 && isHex(src[j]) {
			j++
		}
		if j == l.i {
			b.WriteByte('x')
			return
		}
		v, _ := strconv.ParseUint(src[l.i:j], 16, 8)
		b.WriteByte(byte(v))
		l.i = j
	case 'u', 'U':
		n := 4
		if c == 'U' {
			n = 8
		}
		if l.i+n <= len(src) {
			if v, err := strconv.ParseUint(src[l.i:l.i+n], 16, 32); err == nil {
				b.WriteRune(rune(v))
				l.i += n
				return
			}
		}
		b.WriteByte(c)
	default:
		if c >= '0' && c <= '7' {
			j := l.i - 1
			k := j
			for k < len(src) && k < j+3 && src[k] >= '0' && src[k] <= '7' {
				k++
			}
			v, _ := strconv.ParseUint(src[j:k], 8, 16)
			b.WriteByte(byte(v))
			l.i = k
			return
		}
		b.WriteByte(c)
	}
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
