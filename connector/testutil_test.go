package connector

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// parseSchema parses "a INT, b TEXT NOT NULL" style column lists.
func parseSchema(t testing.TB, cols []string) []Column {
	t.Helper()
	var out []Column
	for _, c := range cols {
		f := strings.Fields(c)
		if len(f) < 2 {
			t.Fatalf("bad column %q", c)
		}
		col := Column{Name: f[0]}
		rest := strings.Join(f[1:], " ")
		if strings.HasSuffix(strings.ToUpper(rest), " NOT NULL") {
			col.NotNull = true
			rest = rest[:len(rest)-len(" NOT NULL")]
		}
		typ, ok := datum.ParseTypeName(rest)
		if !ok {
			t.Fatalf("bad type %q", rest)
		}
		col.Type = typ
		out = append(out, col)
	}
	return out
}

// fmtRow prints a row unambiguously: strings quoted, NULL bare.
func fmtRow(r datum.Row) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		switch d.Kind() {
		case datum.KindNull:
			b.WriteString("NULL")
		case datum.KindString:
			b.WriteString(strconv.Quote(d.Str()))
		default:
			b.WriteString(d.Format())
		}
	}
	b.WriteByte(')')
	return b.String()
}

// fmtRecord prints a record for golden files.
func fmtRecord(r Record) string {
	if r.Err != nil {
		return fmt.Sprintf("@%d error %s: %s | raw=%q", r.Offset, pgerr.Code(r.Err), r.Err.Error(), r.Raw)
	}
	return fmt.Sprintf("@%d %s", r.Offset, fmtRow(r.Row))
}

// unescapeInput turns \xHH, \r, \t, \n and \\ in test input into bytes.
func unescapeInput(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'x':
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func pgerrCode(err error) string { return pgerr.Code(err) }
