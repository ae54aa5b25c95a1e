package render

import (
	"strings"
	"testing"

	"github.com/weir-sql/weir/datum"
)

func TestTableLikePsql(t *testing.T) {
	cols := []Column{{"device", datum.TypeVarchar}, {"n", datum.TypeInt8}, {"avg_temp", datum.TypeFloat8}}
	rows := []datum.Row{
		{datum.NewString("pump-01"), datum.NewInt(75), datum.NewFloat(64.5)},
		{datum.NewString("p2"), datum.NewInt(7), datum.Null},
	}
	var b strings.Builder
	if err := Table(&b, cols, rows, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "" +
		" device  | n  | avg_temp\n" +
		"---------+----+----------\n" +
		" pump-01 | 75 |     64.5\n" +
		" p2      |  7 |\n" +
		"(2 rows)\n\n"
	if b.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	_ = Table(&b, cols, rows[:1], Options{Expanded: true})
	if !strings.Contains(b.String(), "-[ RECORD 1 ]") || !strings.Contains(b.String(), "avg_temp | 64.5") {
		t.Fatalf("expanded:\n%s", b.String())
	}
}
