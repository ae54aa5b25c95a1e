package sql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/weir-sql/weir/pgerr"
)

// TestParse runs testdata/*: `parse` prints each statement's tree (or its
// error as `error (CODE) LINE:COL: message`); every parsed statement is also
// formatted and reparsed, which must give the same tree.
// `parse-expr` does the same for ParseExpr, `split` prints Split's result
// and `expand` runs ExpandParams with params given as args (name=value).
func TestParse(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "parse":
				var opts ParseOptions
				for _, a := range d.CmdArgs {
					if opts.Params == nil {
						opts.Params = map[string]string{}
					}
					if len(a.Vals) > 0 {
						opts.Params[a.Key] = a.Vals[0]
					}
				}
				stmts, errs := ParseScript(d.Input, opts)
				var b strings.Builder
				for _, s := range stmts {
					b.WriteString(Tree(s, true))
					checkRoundTrip(t, d.Pos, s)
				}
				for _, e := range errs {
					b.WriteString(errString(e))
				}
				return b.String()
			case "parse-expr":
				e, err := ParseExpr(d.Input)
				if err != nil {
					return errString(pgerr.Wrap(err))
				}
				out := Tree(e, true)
				back, err := ParseExpr(FormatExpr(e))
				if err != nil {
					t.Errorf("%s: reparsing %q: %v", d.Pos, FormatExpr(e), err)
				} else if Tree(back, false) != Tree(e, false) {
					t.Errorf("%s: round trip of %q differs:\n%s\nvs\n%s", d.Pos, FormatExpr(e), Tree(e, false), Tree(back, false))
				}
				return out + "format: " + FormatExpr(e) + "\n"
			case "format":
				stmts, errs := ParseScript(d.Input, ParseOptions{})
				var b strings.Builder
				for _, s := range stmts {
					b.WriteString(Format(s) + "\n")
				}
				for _, e := range errs {
					b.WriteString(errString(e))
				}
				return b.String()
			case "split":
				var b strings.Builder
				for _, s := range Split(d.Input) {
					fmt.Fprintf(&b, "%d:%d %q\n", s.Start.Line, s.Start.Col, s.Text)
				}
				return b.String()
			case "expand":
				params := map[string]string{}
				for _, a := range d.CmdArgs {
					if len(a.Vals) > 0 {
						params[a.Key] = a.Vals[0]
					}
				}
				out, err := ExpandParams(d.Input, params)
				if err != nil {
					return errString(pgerr.Wrap(err))
				}
				return out + "\n"
			}
			t.Fatalf("%s: unknown command %s", d.Pos, d.Cmd)
			return ""
		})
	})
}

func errString(e *pgerr.Error) string {
	return fmt.Sprintf("error (%s) %d:%d: %s\n", e.Code, e.Line, e.Col, e.Message)
}

// checkRoundTrip formats s, parses the text and compares the trees without
// positions.
func checkRoundTrip(t *testing.T, where string, s Statement) {
	t.Helper()
	text := Format(s)
	back, err := ParseOne(text)
	if err != nil {
		t.Errorf("%s: reparsing %q: %v", where, text, err)
		return
	}
	if a, b := Tree(s, false), Tree(back, false); a != b {
		t.Errorf("%s: round trip of %q differs:\n%s\nvs\n%s", where, text, a, b)
	}
}
