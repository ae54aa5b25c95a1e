package expr

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// The datadriven files under testdata/ hold one expression per input line.
// Commands:
//
//	schema          lines "name TYPE = value" (value in text form, or NULL)
//	                define the columns and the one row expressions see;
//	                without it a default schema is used (see defaultSchema)
//	eval [params=(v1, v2)]
//	                resolve, compile and evaluate; prints "expr => value (TYPE)"
//	resolve         print the resolved tree and its type
//	fold            print the tree after Fold
//
// eval cross-checks every result against the unspecialized (generic)
// compilation of the unfolded tree and, for booleans, CompilePredicate.
// Run with -rewrite to regenerate expected output.

const defaultSchema = `
i INTEGER = 7
b BIGINT = 9000000000
s2 SMALLINT = 300
f DOUBLE = 2.5
r REAL = 1.5
n NUMERIC = 12.345
t TEXT = Hello World
v VARCHAR = abc
ts TIMESTAMP = 2024-03-15 10:20:30.123456
tz TIMESTAMPTZ = 2024-03-15 10:20:30.123456
d DATE = 2024-02-29
iv INTERVAL = 1 day 02:03:04
bo BOOLEAN = true
bf BOOLEAN = false
by BYTEA = \x0102ff
u UUID = a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11
imax BIGINT = 9223372036854775807
imin BIGINT = -9223372036854775808
ni INTEGER = NULL
nb BIGINT = NULL
nf DOUBLE = NULL
nt TEXT = NULL
nbo BOOLEAN = NULL
nts TIMESTAMP = NULL
`

// testNow is the clock of eval: 2024-03-15 10:20:30.123456 UTC.
const testNow = int64(1710498030123456)

type ddState struct {
	cols map[string]testColumn
	row  datum.Row
	reg  *Registry
}

func newDDState(t *testing.T) *ddState {
	st := &ddState{reg: testRegistry()}
	if err := st.setSchema(defaultSchema); err != nil {
		t.Fatal(err)
	}
	return st
}

// testRegistry is the builtins plus a function registered from outside, as
// the server layer will.
func testRegistry() *Registry {
	r := Builtins().Clone()
	r.Register("version", FuncDef{Overloads: []Overload{{
		Result: datum.TypeText,
		Eval: func([]datum.Datum) (datum.Datum, error) {
			return datum.NewString("PostgreSQL 16.0 (Weir)"), nil
		},
	}}})
	r.Register("add3", FuncDef{Overloads: []Overload{{
		Args:   []datum.Type{datum.TypeInt8, datum.TypeInt8, datum.TypeInt8},
		Result: datum.TypeInt8,
		Eval: func(a []datum.Datum) (datum.Datum, error) {
			return datum.NewInt(a[0].Int() + a[1].Int() + a[2].Int()), nil
		},
	}}})
	return r
}

func (st *ddState) setSchema(text string) error {
	st.cols = map[string]testColumn{}
	st.row = nil
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		decl, val, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("bad schema line %q", line)
		}
		f := strings.Fields(decl)
		if len(f) != 2 {
			return fmt.Errorf("bad schema line %q", line)
		}
		typ, ok := datum.ParseTypeName(f[1])
		if !ok {
			return fmt.Errorf("bad type in %q", line)
		}
		val = strings.TrimSpace(val)
		d := datum.Null
		if val != "NULL" {
			var err error
			if d, err = datum.Parse(typ, val); err != nil {
				return fmt.Errorf("%q: %v", line, err)
			}
		}
		st.cols[strings.ToLower(f[0])] = testColumn{idx: len(st.row), typ: typ}
		st.row = append(st.row, d)
	}
	return nil
}

func fmtErr(err error) string {
	pe := pgerr.Wrap(err)
	return fmt.Sprintf("ERROR %s: %s", pe.Code, pe.Message)
}

func fmtValue(v datum.Datum) string {
	switch {
	case v.IsNull():
		return "NULL"
	case v.Kind() == datum.KindString:
		return quoteString(v.Str())
	case v.Kind() == datum.KindBool:
		if v.Bool() {
			return "true"
		}
		return "false"
	}
	return v.Format()
}

func sameResult(v1 datum.Datum, e1 error, v2 datum.Datum, e2 error) bool {
	if (e1 != nil) != (e2 != nil) {
		return false
	}
	if e1 != nil {
		return pgerr.Code(e1) == pgerr.Code(e2)
	}
	if v1.Kind() != v2.Kind() {
		return false
	}
	return datum.Compare(v1, v2) == 0 && v1.Format() == v2.Format()
}

func (st *ddState) eval(t *testing.T, line string, params []datum.Datum) string {
	e, err := parseTestExpr(line, st.cols, st.reg)
	if err != nil {
		return fmtErr(err)
	}
	if params != nil {
		e = BindParams(e, params)
	}
	env := &Env{Now: func() int64 { return testNow }}
	ev, err := CompileWith(e, env)
	if err != nil {
		return fmtErr(err)
	}
	v, err := ev(st.row)

	// Cross-check: the generic (unspecialized) compilation of the
	// unfolded tree, and the specialized one of the unfolded tree.
	for _, c := range []*compiler{{env: env, generic: true}, {env: env}} {
		gev, gerr := c.compile(e)
		if gerr != nil {
			t.Errorf("%s: generic=%v compile: %v (folded: %v)", line, c.generic, gerr, err)
			continue
		}
		gv, gerr := gev(st.row)
		if !sameResult(v, err, gv, gerr) {
			t.Errorf("%s: generic=%v gives %s/%v, folded compile %s/%v", line, c.generic, fmtValue(gv), gerr, fmtValue(v), err)
		}
	}
	if e.Type() == datum.TypeBool {
		p, perr := CompilePredicateWith(e, env)
		if perr != nil {
			t.Errorf("%s: CompilePredicate: %v", line, perr)
		} else if pv, perr := p(st.row); (perr != nil) != (err != nil) || (err == nil && pv != (!v.IsNull() && v.Bool())) {
			t.Errorf("%s: predicate gives %v/%v, evaluator %s/%v", line, pv, perr, fmtValue(v), err)
		}
	}
	if err != nil {
		return fmtErr(err)
	}
	if k := e.Type().Kind(); !v.IsNull() && k != v.Kind() && k != datum.KindNull {
		t.Errorf("%s: value kind %s does not match type %s", line, v.Kind(), e.Type())
	}
	return fmt.Sprintf("%s (%s)", fmtValue(v), e.Type())
}

func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		st := newDDState(t)
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			var out strings.Builder
			var params []datum.Datum
			if arg, ok := td.Arg("params"); ok {
				for _, v := range arg.Vals {
					if v == "NULL" {
						params = append(params, datum.Null)
					} else {
						params = append(params, datum.NewString(v))
					}
				}
			}
			if td.Cmd == "schema" {
				if err := st.setSchema(td.Input); err != nil {
					td.Fatalf(t, "%v", err)
				}
				return ""
			}
			for _, line := range strings.Split(td.Input, "\n") {
				if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
					continue
				}
				var res string
				switch td.Cmd {
				case "eval":
					res = st.eval(t, line, params)
				case "resolve", "fold":
					e, err := parseTestExpr(line, st.cols, st.reg)
					if err != nil {
						res = fmtErr(err)
						break
					}
					if td.Cmd == "fold" {
						e = Fold(e)
					}
					res = fmt.Sprintf("%s (%s)", e, e.Type())
				default:
					td.Fatalf(t, "unknown command %s", td.Cmd)
				}
				fmt.Fprintf(&out, "%s => %s\n", line, res)
			}
			return out.String()
		})
	})
}
