package server

import (
	"reflect"
	"testing"
)

func TestSplitStatements(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{";", nil},
		{"-- ping", nil},
		{" /* a /* nested */ comment */ ; ;", nil},
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1; SELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"SELECT ';' ; SELECT \"a;b\"", []string{"SELECT ';' ", "SELECT \"a;b\""}},
		{"SELECT E'\\';' ; x", []string{"SELECT E'\\';' ", "x"}},
		{"SELECT $$a;b$$; SELECT $x$;$x$", []string{"SELECT $$a;b$$", "SELECT $x$;$x$"}},
		{"SELECT (1;2); y", []string{"SELECT (1;2)", "y"}},
		{"SELECT 1 -- c;\n; z", []string{"SELECT 1 -- c;\n", "z"}},
		{"SELECT 'unterminated; x", []string{"SELECT 'unterminated; x"}},
	} {
		var got []string
		for _, p := range splitStatements(c.in) {
			got = append(got, p.text)
			if c.in[p.offset:p.offset+len(p.text)] != p.text {
				t.Errorf("%q: offset %d wrong for %q", c.in, p.offset, p.text)
			}
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestClassify(t *testing.T) {
	for in, want := range map[string]stmtKind{
		"BEGIN": kindBegin, "begin isolation level serializable": kindBegin, "START TRANSACTION": kindBegin,
		"commit": kindCommit, "END": kindCommit, "ROLLBACK": kindRollback, "abort": kindRollback,
		"ROLLBACK TO SAVEPOINT s": kindSavepoint, "rollback to s": kindSavepoint, "SAVEPOINT x": kindSavepoint,
		"RELEASE x": kindSavepoint, "COPY t FROM STDIN": kindCopy, "set x = 1": kindSet, "DEALLOCATE ALL": kindDeallocate,
		"DISCARD ALL": kindDiscard, "SELECT 1": kindOther, "-- c\ncommit": kindCommit, "COMMIT PREPARED 'x'": kindOther,
	} {
		if got := classify(in); got != want {
			t.Errorf("classify(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseCopy(t *testing.T) {
	for _, c := range []struct {
		in     string
		table  string
		cols   []string
		from   bool
		format copyFormat
		header bool
		delim  string
		query  string
		err    string
	}{
		{in: "COPY t FROM STDIN", table: "t", from: true},
		{in: `copy "events" ( "id", "name" ) from stdin binary;`, table: "events", cols: []string{"id", "name"}, from: true, format: copyBinary},
		{in: "COPY t (a) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';')", table: "t", cols: []string{"a"}, from: true, format: copyCSV, header: true, delim: ";"},
		{in: "COPY t FROM STDIN WITH CSV HEADER DELIMITER AS '|'", table: "t", from: true, format: copyCSV, header: true, delim: "|"},
		{in: "COPY public.T TO STDOUT", table: "t"},
		{in: "COPY (SELECT 1, (2)) TO STDOUT (FORMAT csv)", format: copyCSV, query: "SELECT 1, (2)"},
		{in: "COPY t FROM '/etc/passwd'", err: "0A000"},
		{in: "COPY t FROM STDIN (FORMAT xml)", err: "22023"},
		{in: "COPY t FROM STDIN (BOGUS 1)", err: "42601"},
		{in: "COPY t FROM STDIN (FORMAT binary, DELIMITER ',')", err: "42601"},
		{in: "COPY t", err: "42601"},
	} {
		spec, err := parseCopy(c.in)
		if c.err != "" {
			if pe := asPgErr(err); pe == nil || pe.Code != c.err {
				t.Errorf("%q: want error %s, got %v", c.in, c.err, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if spec.table != c.table || !reflect.DeepEqual(spec.columns, c.cols) || spec.from != c.from ||
			spec.format != c.format || spec.header != c.header || spec.delimiter != c.delim || spec.query != c.query {
			t.Errorf("%q: got %+v", c.in, spec)
		}
	}
}
