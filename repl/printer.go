package repl

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/render"
)

// ANSI styles, used only when the shell is interactive on a terminal (and
// NO_COLOR is unset): bold prompts, red errors. Nothing else is colored.
const (
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[1;31m"
	ansiReset = "\x1b[0m"
)

func (sh *shell) bold(s string) string {
	if !sh.color {
		return s
	}
	return ansiBold + s + ansiReset
}

func (sh *shell) red(s string) string {
	if !sh.color {
		return s
	}
	return ansiRed + s + ansiReset
}

func renderColumns(cols []engine.Column) []render.Column {
	out := make([]render.Column, len(cols))
	for i, c := range cols {
		out[i] = render.Column{Name: c.Name, Type: c.Type}
	}
	return out
}

func (sh *shell) renderOptions() render.Options {
	return render.Options{Null: sh.null, Expanded: sh.expanded, NoFooter: sh.noFooter}
}

// printResult prints one statement's notices, then its rows as a table or
// its command tag.
func (sh *shell) printResult(r *engine.Result) {
	for _, n := range r.Notices {
		fmt.Fprintf(sh.errw, "NOTICE:  %s\n", n)
	}
	if r.Columns != nil {
		_ = render.Table(sh.out, renderColumns(r.Columns), r.Rows, sh.renderOptions())
		if sh.noFooter && !sh.expanded {
			fmt.Fprintln(sh.out)
		}
		return
	}
	if r.Tag != "" {
		fmt.Fprintln(sh.out, r.Tag)
	}
}

// printTitled prints a table under a title centered over it, as psql does
// for \d.
func (sh *shell) printTitled(title string, cols []engine.Column, rows []datum.Row, footer bool) {
	var b bytes.Buffer
	o := sh.renderOptions()
	o.NoFooter = !footer
	_ = render.Table(&b, renderColumns(cols), rows, o)
	out := b.String()
	if !o.Expanded && title != "" {
		w := 0
		if i := strings.IndexByte(out, '\n'); i > 0 {
			w = utf8.RuneCountInString(out[:i])
		}
		if pad := (w - utf8.RuneCountInString(title)) / 2; pad > 0 {
			title = strings.Repeat(" ", pad) + title
		}
		fmt.Fprintln(sh.out, title)
	} else if title != "" {
		fmt.Fprintln(sh.out, title)
	}
	fmt.Fprint(sh.out, out)
	if !footer && !o.Expanded {
		// render leaves the blank line after a table to the footer.
		fmt.Fprintln(sh.out)
	}
}

// printTiming prints "Time: 1.234 ms", adding psql's clock form past a
// second.
func (sh *shell) printTiming(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	if d < time.Second {
		fmt.Fprintf(sh.out, "Time: %.3f ms\n", ms)
		return
	}
	s := d.Seconds()
	m := int(s) / 60
	fmt.Fprintf(sh.out, "Time: %.3f ms (%02d:%06.3f)\n", ms, m, s-float64(m*60))
}

// printError prints an error like psql: the SQLSTATE and message, then the
// statement line the error points at with a caret under the position, then
// DETAIL and HINT. In scripts (name != "") the first line is prefixed with
// "name:LINE: ", LINE being the input line of the error.
func (sh *shell) printError(err error, text, name string, line int) {
	pe := pgerr.Wrap(err)
	var b strings.Builder
	first := fmt.Sprintf("ERROR:  %s: %s", pe.Code, pe.Message)
	pos := pe.Pos
	if pos <= 0 && pe.Line > 0 {
		pos = offsetOf(text, pe.Line, pe.Col)
	}
	var lineNo, col int
	var lineText string
	if pos > 0 && pos <= len(text)+1 {
		lineNo, col = pgerr.LineCol(text, pos)
		lines := strings.Split(text, "\n")
		if lineNo-1 < len(lines) {
			lineText = lines[lineNo-1]
		}
	}
	if name != "" {
		at := line
		if lineNo > 0 {
			at += lineNo - 1
		}
		first = fmt.Sprintf("%s:%d: %s", name, at, first)
	}
	b.WriteString(sh.red(first))
	b.WriteByte('\n')
	if lineNo > 0 {
		label := fmt.Sprintf("LINE %d: ", lineNo)
		b.WriteString(label + lineText + "\n")
		b.WriteString(strings.Repeat(" ", len(label)))
		// Copy tabs so the caret lines up however the terminal expands them.
		for i, r := range []rune(lineText) {
			if i >= col-1 {
				break
			}
			if r == '\t' {
				b.WriteByte('\t')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString("^\n")
	}
	if pe.Detail != "" {
		b.WriteString("DETAIL:  " + pe.Detail + "\n")
	}
	if pe.Hint != "" {
		b.WriteString("HINT:  " + pe.Hint + "\n")
	}
	fmt.Fprint(sh.errw, b.String())
}

// offsetOf converts a 1-based line and column (in characters) of text into
// a 1-based byte offset, or 0.
func offsetOf(text string, line, col int) int {
	l, c := 1, 1
	for i, r := range text {
		if l == line && c == col {
			return i + 1
		}
		if r == '\n' {
			if l == line {
				return i + 1
			}
			l++
			c = 1
		} else {
			c++
		}
	}
	if l == line {
		return len(text) + 1
	}
	return 0
}

// complain prints a meta-command's error (psql style: "\cmd: message").
func (sh *shell) complain(format string, args ...any) error {
	fmt.Fprintln(sh.errw, sh.red(fmt.Sprintf(format, args...)))
	return errFailed
}
