package pgerr

import (
	"fmt"
	"testing"
)

func TestWrapKeepsCode(t *testing.T) {
	e := New(UndefinedTable, "relation %q does not exist", "x").WithPos(5)
	wrapped := fmt.Errorf("planning: %w", e)
	if got := Code(wrapped); got != UndefinedTable {
		t.Fatalf("Code = %s, want %s", got, UndefinedTable)
	}
	if Wrap(wrapped).Pos != 5 {
		t.Fatalf("position lost")
	}
	if Code(fmt.Errorf("boom")) != InternalError {
		t.Fatalf("plain error should be XX000")
	}
}

func TestLineCol(t *testing.T) {
	text := "SELECT 1;\nSELEC x;\n  FROM é y"
	cases := []struct{ pos, line, col int }{
		{1, 1, 1}, {10, 1, 10}, {11, 2, 1}, {17, 2, 7}, {22, 3, 3}, {30, 3, 10},
	}
	for _, c := range cases {
		l, col := LineCol(text, c.pos)
		if l != c.line || col != c.col {
			t.Errorf("LineCol(%d) = %d:%d, want %d:%d", c.pos, l, col, c.line, c.col)
		}
	}
}
