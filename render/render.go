package render

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
)

// Column is a result column to print.
type Column struct {
	Name string
	Type datum.Type
}

// Options control printing.
type Options struct {
	// Null is printed for NULL values (psql prints "").
	Null string
	// Expanded prints one "-[ RECORD n ]-" block per row (psql's \x).
	Expanded bool
	// NoFooter leaves out "(N rows)".
	NoFooter bool
}

// Cell formats one value as psql shows it.
func Cell(d datum.Datum, null string) string {
	if d.IsNull() {
		return null
	}
	return d.Format()
}

func width(s string) int { return utf8.RuneCountInString(s) }

func rightAligned(t datum.Type) bool { return t.IsNumeric() || t == datum.TypeOID }

// Table writes rows as an aligned table.
func Table(w io.Writer, cols []Column, rows []datum.Row, o Options) error {
	if o.Expanded {
		return expanded(w, cols, rows, o)
	}
	cells := make([][]string, len(rows))
	widths := make([]int, len(cols))
	for i, c := range cols {
		widths[i] = width(c.Name)
	}
	for r, row := range rows {
		cells[r] = make([]string, len(cols))
		for i := range cols {
			var s string
			if i < len(row) {
				s = Cell(row[i], o.Null)
			}
			cells[r][i] = s
			for _, line := range strings.Split(s, "\n") {
				if n := width(line); n > widths[i] {
					widths[i] = n
				}
			}
		}
	}
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString("|")
		}
		pad := widths[i] - width(c.Name)
		left := pad / 2
		b.WriteString(" " + strings.Repeat(" ", left) + c.Name + strings.Repeat(" ", pad-left))
		if i < len(cols)-1 {
			b.WriteString(" ")
		}
	}
	b.WriteString("\n")
	for i := range cols {
		if i > 0 {
			b.WriteString("+")
		}
		b.WriteString(strings.Repeat("-", widths[i]+2))
	}
	b.WriteString("\n")
	for _, row := range cells {
		lines := 1
		split := make([][]string, len(cols))
		for i, s := range row {
			split[i] = strings.Split(s, "\n")
			if len(split[i]) > lines {
				lines = len(split[i])
			}
		}
		for l := 0; l < lines; l++ {
			for i := range cols {
				if i > 0 {
					b.WriteString("|")
				}
				s := ""
				if l < len(split[i]) {
					s = split[i][l]
				}
				pad := strings.Repeat(" ", widths[i]-width(s))
				if rightAligned(cols[i].Type) {
					b.WriteString(" " + pad + s)
				} else {
					b.WriteString(" " + s + pad)
				}
				if i < len(cols)-1 {
					b.WriteString(" ")
				}
			}
			b.WriteString("\n")
		}
	}
	if !o.NoFooter {
		b.WriteString(footer(len(rows)))
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(w, strings.Join(lines, "\n"))
	return err
}

func footer(n int) string {
	if n == 1 {
		return "(1 row)\n\n"
	}
	return fmt.Sprintf("(%d rows)\n\n", n)
}

func expanded(w io.Writer, cols []Column, rows []datum.Row, o Options) error {
	nameW := 0
	for _, c := range cols {
		if n := width(c.Name); n > nameW {
			nameW = n
		}
	}
	var b strings.Builder
	if len(rows) == 0 {
		b.WriteString("(0 rows)\n\n")
	}
	for r, row := range rows {
		fmt.Fprintf(&b, "-[ RECORD %d ]%s\n", r+1, strings.Repeat("-", nameW))
		for i, c := range cols {
			v := ""
			if i < len(row) {
				v = Cell(row[i], o.Null)
			}
			fmt.Fprintf(&b, "%s%s | %s\n", c.Name, strings.Repeat(" ", nameW-width(c.Name)), v)
		}
	}
	if len(rows) > 0 {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
