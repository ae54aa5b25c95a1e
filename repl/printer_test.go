package repl

import (
	"bytes"
	"testing"

	"github.com/weir-sql/weir/pgerr"
)

func TestPrintError(t *testing.T) {
	cases := []struct {
		err        *pgerr.Error
		text, name string
		line       int
		want       string
	}{
		{
			err:  pgerr.New(pgerr.UndefinedColumn, `column "x" does not exist`).WithPos(8),
			text: "SELECT x FROM t;",
			want: "ERROR:  42703: column \"x\" does not exist\nLINE 1: SELECT x FROM t;\n               ^\n",
		},
		{
			// Positions are bytes; the caret counts characters, and tabs are
			// copied so it lines up however the terminal expands them.
			err:  pgerr.New(pgerr.SyntaxError, `syntax error at or near "FORM"`).WithPos(len("SELECT 'é',\n\t1 ") + 1),
			text: "SELECT 'é',\n\t1 FORM t;",
			want: "ERROR:  42601: syntax error at or near \"FORM\"\nLINE 2: \t1 FORM t;\n        \t  ^\n",
		},
		{
			// Line and column without an offset are used too.
			err:  &pgerr.Error{Code: pgerr.SyntaxError, Message: "boom", Line: 2, Col: 3},
			text: "SELECT\n  boom;",
			want: "ERROR:  42601: boom\nLINE 2:   boom;\n          ^\n",
		},
		{
			err:  pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job j is not running").WithDetail("it is DRAINED").WithHint("start it again"),
			text: "DRAIN JOB j;", name: "jobs.sql", line: 7,
			want: "jobs.sql:7: ERROR:  55000: job j is not running\nDETAIL:  it is DRAINED\nHINT:  start it again\n",
		},
		{
			// In a script, the location is the input line of the error.
			err:  pgerr.New(pgerr.UndefinedTable, `relation "t" does not exist`).WithPos(len("SELECT *\n  FROM ") + 1),
			text: "SELECT *\n  FROM t;", name: "<stdin>", line: 10,
			want: "<stdin>:11: ERROR:  42P01: relation \"t\" does not exist\nLINE 2:   FROM t;\n               ^\n",
		},
	}
	for _, c := range cases {
		var b bytes.Buffer
		sh := &shell{errw: &b}
		sh.printError(c.err, c.text, c.name, c.line)
		if b.String() != c.want {
			t.Errorf("got:\n%s\nwant:\n%s", b.String(), c.want)
		}
	}
}
