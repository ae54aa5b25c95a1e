package server

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file is a small lexical scanner over SQL text. The wire protocol
// needs to know where one statement of a simple query ends and the next
// begins (to run COPY FROM STDIN between them, to answer an empty query and
// to refuse statements in a failed transaction block) and what kind of
// statement each is, without depending on the parser's AST for anything but
// the statements it hands to the engine. The scanner follows PostgreSQL's
// lexical rules: '...' strings with '' quoting, E'...' strings with
// backslash escapes, "..." identifiers, $tag$...$tag$ strings, -- and
// nested /* */ comments.

// stmtPiece is one statement of a query string: its text without the
// terminating ';' and the 0-based byte offset where it starts in the query.
type stmtPiece struct {
	text   string
	offset int
}

// tokKind is the kind of a scanned token.
type tokKind uint8

const (
	tokWord   tokKind = iota // keyword or unquoted identifier (lower-cased in val)
	tokIdent                 // "quoted identifier" (val unquoted)
	tokString                // string literal (val unescaped)
	tokNumber                // numeric literal
	tokPunct                 // one punctuation character, or an operator run
	tokParam                 // $n
)

type token struct {
	kind tokKind
	val  string
	pos  int // byte offset of the token's first byte
	end  int // byte offset after the token
}

// scanner walks SQL text token by token.
type scanner struct {
	src string
	i   int
	// unterminated is set when a string, quoted identifier or comment runs
	// to the end of the text.
	unterminated bool
}

// skipSpace skips whitespace and comments.
func (s *scanner) skipSpace() {
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			s.i++
		case c == '-' && s.i+1 < len(s.src) && s.src[s.i+1] == '-':
			nl := strings.IndexByte(s.src[s.i:], '\n')
			if nl < 0 {
				s.i = len(s.src)
			} else {
				s.i += nl + 1
			}
		case c == '/' && s.i+1 < len(s.src) && s.src[s.i+1] == '*':
			depth := 0
			for s.i < len(s.src) {
				if strings.HasPrefix(s.src[s.i:], "/*") {
					depth++
					s.i += 2
				} else if strings.HasPrefix(s.src[s.i:], "*/") {
					depth--
					s.i += 2
					if depth == 0 {
						break
					}
				} else {
					s.i++
				}
			}
			if depth > 0 {
				s.unterminated = true
			}
		default:
			return
		}
	}
}

// next returns the next token; ok is false at the end of the text.
func (s *scanner) next() (token, bool) {
	s.skipSpace()
	if s.i >= len(s.src) {
		return token{}, false
	}
	start := s.i
	c := s.src[s.i]
	switch {
	case (c == 'e' || c == 'E') && s.i+1 < len(s.src) && s.src[s.i+1] == '\'':
		s.i++
		v := s.quoted('\'', true)
		return token{kind: tokString, val: v, pos: start, end: s.i}, true
	case c == '\'':
		v := s.quoted('\'', false)
		return token{kind: tokString, val: v, pos: start, end: s.i}, true
	case c == '"':
		v := s.quoted('"', false)
		return token{kind: tokIdent, val: v, pos: start, end: s.i}, true
	case c == '$':
		// $n parameter or $tag$ string.
		j := s.i + 1
		for j < len(s.src) && s.src[j] >= '0' && s.src[j] <= '9' {
			j++
		}
		if j > s.i+1 {
			s.i = j
			return token{kind: tokParam, val: s.src[start:j], pos: start, end: j}, true
		}
		j = s.i + 1
		for j < len(s.src) && isIdentByte(s.src[j]) {
			j++
		}
		if j < len(s.src) && s.src[j] == '$' {
			tag := s.src[s.i : j+1]
			body := j + 1
			k := strings.Index(s.src[body:], tag)
			if k < 0 {
				s.unterminated = true
				s.i = len(s.src)
				return token{kind: tokString, val: s.src[body:], pos: start, end: s.i}, true
			}
			s.i = body + k + len(tag)
			return token{kind: tokString, val: s.src[body : body+k], pos: start, end: s.i}, true
		}
		s.i++
		return token{kind: tokPunct, val: "$", pos: start, end: s.i}, true
	case c >= '0' && c <= '9' || c == '.' && s.i+1 < len(s.src) && s.src[s.i+1] >= '0' && s.src[s.i+1] <= '9':
		j := s.i
		for j < len(s.src) && (isIdentByte(s.src[j]) || s.src[j] == '.' ||
			(s.src[j] == '+' || s.src[j] == '-') && (s.src[j-1] == 'e' || s.src[j-1] == 'E')) {
			j++
		}
		s.i = j
		return token{kind: tokNumber, val: s.src[start:j], pos: start, end: j}, true
	case isIdentStart(s.src[s.i:]):
		j := s.i
		for j < len(s.src) {
			if isIdentByte(s.src[j]) {
				j++
				continue
			}
			r, n := utf8.DecodeRuneInString(s.src[j:])
			if r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
				j += n
				continue
			}
			break
		}
		s.i = j
		return token{kind: tokWord, val: strings.ToLower(s.src[start:j]), pos: start, end: j}, true
	}
	_, n := utf8.DecodeRuneInString(s.src[s.i:])
	s.i += n
	return token{kind: tokPunct, val: s.src[start:s.i], pos: start, end: s.i}, true
}

// quoted reads a quoted string or identifier starting at the opening quote
// and returns its value.
func (s *scanner) quoted(q byte, backslash bool) string {
	s.i++ // opening quote
	var b strings.Builder
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == q:
			if s.i+1 < len(s.src) && s.src[s.i+1] == q {
				b.WriteByte(q)
				s.i += 2
				continue
			}
			s.i++
			return b.String()
		case backslash && c == '\\' && s.i+1 < len(s.src):
			s.i++
			switch e := s.src[s.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			default:
				b.WriteByte(e)
			}
			s.i++
		default:
			b.WriteByte(c)
			s.i++
		}
	}
	s.unterminated = true
	return b.String()
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isIdentStart(s string) bool {
	c := s[0]
	if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	if c < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

// splitStatements splits a simple query's text at ';' outside strings,
// quoted identifiers, comments and parentheses. Pieces with nothing but
// whitespace and comments are dropped, so a query of only comments or ';'
// gives none (an empty query).
func splitStatements(text string) []stmtPiece {
	var out []stmtPiece
	s := &scanner{src: text}
	start := 0
	depth := 0
	hasToken := false
	for {
		t, ok := s.next()
		if !ok {
			break
		}
		switch {
		case t.kind == tokPunct && t.val == "(":
			depth++
		case t.kind == tokPunct && t.val == ")":
			if depth > 0 {
				depth--
			}
		case t.kind == tokPunct && t.val == ";" && depth == 0:
			if hasToken {
				out = append(out, trimPiece(text, start, t.pos))
			}
			start = t.end
			hasToken = false
			continue
		}
		hasToken = true
	}
	if hasToken {
		out = append(out, trimPiece(text, start, len(text)))
	}
	return out
}

// trimPiece returns text[lo:hi] without leading whitespace (comments stay:
// they are harmless and keep positions simple).
func trimPiece(text string, lo, hi int) stmtPiece {
	for lo < hi && strings.IndexByte(" \t\n\r\f\v", text[lo]) >= 0 {
		lo++
	}
	return stmtPiece{text: text[lo:hi], offset: lo}
}

// isEmptyQuery reports whether text holds no statement (only whitespace,
// comments and ';').
func isEmptyQuery(text string) bool { return len(splitStatements(text)) == 0 }

// leadingWords returns up to n leading words of a statement, lower-cased
// (quoted identifiers and literals stop the scan).
func leadingWords(text string, n int) []string {
	s := &scanner{src: text}
	var words []string
	for len(words) < n {
		t, ok := s.next()
		if !ok || t.kind != tokWord {
			break
		}
		words = append(words, t.val)
	}
	return words
}

// stmtKind classifies a statement by its leading keywords, for what the
// connection must do around it.
type stmtKind uint8

const (
	kindOther      stmtKind = iota
	kindBegin               // BEGIN, START TRANSACTION
	kindCommit              // COMMIT, END
	kindRollback            // ROLLBACK, ABORT (not ROLLBACK TO SAVEPOINT)
	kindSavepoint           // SAVEPOINT, RELEASE, ROLLBACK TO
	kindCopy                // COPY
	kindSet                 // SET, RESET (may change reported parameters)
	kindDeallocate          // DEALLOCATE [PREPARE] name | ALL
	kindDiscard             // DISCARD ALL
	kindLock                // LOCK [TABLE] name [, ...] [IN mode MODE] [NOWAIT]
)

func classify(text string) stmtKind {
	w := leadingWords(text, 3)
	if len(w) == 0 {
		return kindOther
	}
	switch w[0] {
	case "begin":
		return kindBegin
	case "start":
		if len(w) > 1 && w[1] == "transaction" {
			return kindBegin
		}
	case "commit", "end":
		if len(w) > 1 && w[1] == "prepared" {
			return kindOther
		}
		return kindCommit
	case "rollback", "abort":
		if len(w) > 1 && (w[1] == "to" || len(w) > 2 && w[2] == "to") {
			return kindSavepoint
		}
		if len(w) > 1 && w[1] == "prepared" {
			return kindOther
		}
		return kindRollback
	case "savepoint", "release":
		return kindSavepoint
	case "copy":
		return kindCopy
	case "set", "reset":
		return kindSet
	case "deallocate":
		return kindDeallocate
	case "discard":
		return kindDiscard
	case "lock":
		return kindLock
	}
	return kindOther
}
