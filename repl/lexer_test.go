package repl

import (
	"strings"
	"testing"

	"github.com/weir-sql/weir/sql"
)

func TestLexStatementEnds(t *testing.T) {
	cases := []struct {
		text   string
		stmts  []string // complete statements, trimmed
		prompt byte     // continuation prompt character for the rest
		meta   string   // meta-command, if any
	}{
		{text: "SELECT 1;", stmts: []string{"SELECT 1;"}},
		{text: "SELECT 1; SELECT 2", stmts: []string{"SELECT 1;"}, prompt: '-'},
		{text: "SELECT ';'", prompt: '-'},
		{text: "SELECT 'it''s; fine';", stmts: []string{"SELECT 'it''s; fine';"}},
		{text: "SELECT 'open;", prompt: '\''},
		{text: `SELECT E'a\';b';`, stmts: []string{`SELECT E'a\';b';`}},
		{text: `SELECT "a;b" FROM t;`, stmts: []string{`SELECT "a;b" FROM t;`}},
		{text: `SELECT "open;`, prompt: '"'},
		{text: "SELECT $$a;b$$;", stmts: []string{"SELECT $$a;b$$;"}},
		{text: "SELECT $fn$a;$$;b$fn$;", stmts: []string{"SELECT $fn$a;$$;b$fn$;"}},
		{text: "SELECT $tag$ open;", prompt: '$'},
		{text: "SELECT $1; SELECT a$b;", stmts: []string{"SELECT $1;", "SELECT a$b;"}},
		{text: "CREATE TEMPLATE t (x DOUBLE) AS INSERT INTO h SELECT * FROM r WHERE v > ${x};", stmts: []string{"CREATE TEMPLATE t (x DOUBLE) AS INSERT INTO h SELECT * FROM r WHERE v > ${x};"}},
		{text: "SELECT 1 -- no; end\n", prompt: '-'},
		{text: "SELECT /* a /* nested; */ still; */ 1;", stmts: []string{"SELECT /* a /* nested; */ still; */ 1;"}},
		{text: "SELECT /* open;", prompt: '*'},
		{text: "SELECT (1;", prompt: '('},
		{text: "SELECT 1 \\watch 2", prompt: '-', meta: `\watch 2`},
		{text: `SELECT '\x' \g`, prompt: '-', meta: `\g`},
		{text: "SELECT 1; \\x", stmts: []string{"SELECT 1;"}, meta: `\x`},
	}
	for _, c := range cases {
		s := lex(c.text)
		var got []string
		start := 0
		for _, end := range s.ends {
			got = append(got, strings.TrimSpace(c.text[start:end]))
			start = end
		}
		if strings.Join(got, "|") != strings.Join(c.stmts, "|") {
			t.Errorf("%q: statements %q, want %q", c.text, got, c.stmts)
		}
		meta := ""
		if s.meta >= 0 {
			meta = c.text[s.meta:]
		}
		if meta != c.meta {
			t.Errorf("%q: meta %q, want %q", c.text, meta, c.meta)
		}
		pending := s.pending(start, len(c.text))
		if want := c.prompt != 0; pending != want {
			t.Errorf("%q: pending = %v, want %v", c.text, pending, want)
		}
		if c.prompt != 0 && s.promptChar() != c.prompt {
			t.Errorf("%q: prompt %q, want %q", c.text, s.promptChar(), c.prompt)
		}
	}
}

// TestLexAgreesWithSQLSplit checks that the shell cuts a script into the
// same statements as the SQL package does.
func TestLexAgreesWithSQLSplit(t *testing.T) {
	scripts := []string{
		"SELECT 1; SELECT 2;",
		"CREATE SOURCE s (a INT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'log');\nINSERT INTO s VALUES (1, '2024-01-01');",
		"SELECT 'a;b', \"c;d\" FROM t; -- trailing; comment\nSELECT 3;",
		"/* lead; */ SELECT $$x;y$$; SELECT E'\\';';",
		"CREATE JOB j AS INSERT INTO t SELECT * FROM s WHERE (a > 1);",
	}
	for _, text := range scripts {
		s := lex(text)
		var ours []string
		start := 0
		for _, end := range s.ends {
			if s.hasTokens(start, end) {
				ours = append(ours, stripComments(text[start:end-1]))
			}
			start = end
		}
		if s.hasTokens(start, len(text)) {
			ours = append(ours, stripComments(text[start:]))
		}
		var theirs []string
		for _, st := range sql.Split(text) {
			theirs = append(theirs, stripComments(st.Text))
		}
		if strings.Join(ours, "|") != strings.Join(theirs, "|") {
			t.Errorf("%q:\nrepl: %q\nsql:  %q", text, ours, theirs)
		}
	}
}

// stripComments reduces a statement to its tokens' text, so that the
// comparison ignores where each splitter puts surrounding comments.
func stripComments(text string) string {
	var parts []string
	for _, tk := range lex(text).toks {
		parts = append(parts, text[tk.pos:tk.end])
	}
	return strings.Join(parts, " ")
}

func TestOneLine(t *testing.T) {
	got := oneLine([]string{"SELECT a, -- the a", "  'x -- y'  AS b", "", "FROM t; -- done"})
	if want := "SELECT a, 'x -- y'  AS b FROM t;"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
