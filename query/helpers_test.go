package query

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/planner"
)

var seedFlag = flag.Uint64("seed", 0, "seed of the randomized tests (0: from the clock)")

// newRand returns the randomized tests' generator, logging its seed.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x5eed))
}

// db is an in-memory set of relations for Env.Scan.
type db struct {
	rels map[string]*catalog.Relation
	rows map[string][]datum.Row
	// scans counts Scan calls per relation.
	scans map[string]int
}

func newDB() *db {
	return &db{rels: map[string]*catalog.Relation{}, rows: map[string][]datum.Row{}, scans: map[string]int{}}
}

// table defines a table: cols are "name type" pairs.
func (d *db) table(name string, cols ...string) *catalog.Relation {
	rel := &catalog.Relation{Kind: catalog.RelTable, Name: name, ID: uint64(len(d.rels) + 1)}
	for _, c := range cols {
		f := strings.Fields(c)
		typ, ok := datum.ParseTypeName(strings.Join(f[1:], " "))
		if !ok {
			panic("bad type in " + c)
		}
		rel.Columns = append(rel.Columns, catalog.Column{Name: f[0], Type: typ})
	}
	d.rels[name] = rel
	return rel
}

func (d *db) env() *Env {
	return &Env{Scan: d.scan}
}

func (d *db) scan(ctx context.Context, rel *catalog.Relation) ([]datum.Row, error) {
	d.scans[rel.Name]++
	rows, ok := d.rows[rel.Name]
	if !ok {
		if _, ok := d.rels[rel.Name]; !ok {
			return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", rel.Name)
		}
	}
	return rows, nil
}

// LookupRelation makes db a planner.Resolver.
func (d *db) LookupRelation(schema, name string) (*catalog.Relation, error) {
	if r, ok := d.rels[name]; ok && schema == "" {
		return r, nil
	}
	return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name)
}

func schemaOf(rel *catalog.Relation) plan.Schema {
	s := make(plan.Schema, len(rel.Columns))
	for i, c := range rel.Columns {
		s[i] = plan.Column{Name: c.Name, Type: c.Type}
	}
	return s
}

func scanOf(rel *catalog.Relation) *planner.Scan {
	return &planner.Scan{Rel: rel, Cols: schemaOf(rel)}
}

// Expression builders.

func col(s plan.Schema, i int) *expr.Col {
	return &expr.Col{Idx: i, Typ: s[i].Type, Name: s[i].Name}
}

func call(fn string, typ datum.Type, args ...expr.Expr) *expr.Call {
	return &expr.Call{Fn: fn, Args: args, Typ: typ}
}

func cmp(op string, a, b expr.Expr) expr.Expr { return call(op, datum.TypeBool, a, b) }

func and(a, b expr.Expr) expr.Expr { return call("and", datum.TypeBool, a, b) }

func or(a, b expr.Expr) expr.Expr { return call("or", datum.TypeBool, a, b) }

func intc(v int64) *expr.Const { return &expr.Const{Val: datum.NewInt(v), Typ: datum.TypeInt8} }

func boolc(v bool) *expr.Const { return &expr.Const{Val: datum.NewBool(v), Typ: datum.TypeBool} }

func nullc(t datum.Type) *expr.Const { return &expr.Const{Val: datum.Null, Typ: t} }

// project keeps columns idx of in.
func project(in planner.Node, idx ...int) *planner.Project {
	s := in.Schema()
	p := &planner.Project{Input: in}
	for _, i := range idx {
		p.Exprs = append(p.Exprs, col(s, i))
		p.Cols = append(p.Cols, s[i])
	}
	return p
}

func concat(a, b plan.Schema) plan.Schema {
	return append(append(plan.Schema(nil), a...), b...)
}

// run runs plan and fails the test on error.
func run(t *testing.T, jplan planner.Node, env *Env) []datum.Row {
	t.Helper()
	rows, err := Run(context.Background(), jplan, env)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rows
}

// runErr runs plan and returns its error's SQLSTATE ("" if none).
func runErr(jplan planner.Node, env *Env) string {
	_, err := Run(context.Background(), jplan, env)
	if err == nil {
		return ""
	}
	return pgerr.Code(err)
}

// Row helpers.

func i64(v int64) datum.Datum  { return datum.NewInt(v) }
func str(s string) datum.Datum { return datum.NewString(s) }

var null = datum.Null

func rowsString(rows []datum.Row) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// sortedRows returns rows in a canonical order (datum.CompareRows).
func sortedRows(rows []datum.Row) []datum.Row {
	s := slices.Clone(rows)
	slices.SortStableFunc(s, func(a, b datum.Row) int { return datum.CompareRows(a, b) })
	return s
}

// sameRows reports whether got and want are the same sequence (NULLs equal,
// numbers by value).
func sameRows(got, want []datum.Row) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if len(got[i]) != len(want[i]) {
			return false
		}
		for j := range got[i] {
			if datum.Compare(got[i][j], want[i][j]) != 0 {
				return false
			}
		}
	}
	return true
}

// checkBag fails unless got and want hold the same rows, in any order.
func checkBag(t *testing.T, what string, got, want []datum.Row) {
	t.Helper()
	g, w := sortedRows(got), sortedRows(want)
	if !sameRows(g, w) {
		t.Fatalf("%s: got %d rows:\n%swant %d rows:\n%s", what, len(got), rowsString(g), len(want), rowsString(w))
	}
}

// checkSeq fails unless got and want hold the same rows in the same order.
func checkSeq(t *testing.T, what string, got, want []datum.Row) {
	t.Helper()
	if !sameRows(got, want) {
		t.Fatalf("%s: got %d rows:\n%swant %d rows:\n%s", what, len(got), rowsString(got), len(want), rowsString(want))
	}
}

// rowKey is a string identity of a row for reference implementations
// (NULLs equal).
func rowKey(r datum.Row) string {
	var b strings.Builder
	for _, d := range r {
		if d.IsNull() {
			b.WriteString("\x00N|")
			continue
		}
		fmt.Fprintf(&b, "%d:%s|", d.Kind(), d.Format())
	}
	return b.String()
}

// Random data.

// randInt returns NULL with probability pNull, else a value in [0, n).
func randInt(rng *rand.Rand, n int, pNull float64) datum.Datum {
	if rng.Float64() < pNull {
		return null
	}
	return i64(int64(rng.IntN(n)))
}

func randStr(rng *rand.Rand, pNull float64) datum.Datum {
	if rng.Float64() < pNull {
		return null
	}
	return str([]string{"x", "y", "z"}[rng.IntN(3)])
}

// randRows makes n rows of (int, int, text).
func randRows(rng *rand.Rand, n, domain int) []datum.Row {
	rows := make([]datum.Row, n)
	pNull := rng.Float64() * 0.4
	for i := range rows {
		rows[i] = datum.Row{randInt(rng, domain, pNull), randInt(rng, domain+1, pNull), randStr(rng, pNull)}
	}
	return rows
}

// tri is SQL's three-valued truth: 1 true, 0 false, -1 unknown.
type tri int

const (
	triFalse tri = 0
	triTrue  tri = 1
	triNull  tri = -1
)

func triAnd(a, b tri) tri {
	if a == triFalse || b == triFalse {
		return triFalse
	}
	if a == triNull || b == triNull {
		return triNull
	}
	return triTrue
}

func triOr(a, b tri) tri {
	if a == triTrue || b == triTrue {
		return triTrue
	}
	if a == triNull || b == triNull {
		return triNull
	}
	return triFalse
}

// triCmp compares two datums with SQL semantics.
func triCmp(op string, a, b datum.Datum) tri {
	if a.IsNull() || b.IsNull() {
		return triNull
	}
	c := datum.Compare(a, b)
	var ok bool
	switch op {
	case "=":
		ok = c == 0
	case "<>":
		ok = c != 0
	case "<":
		ok = c < 0
	case "<=":
		ok = c <= 0
	case ">":
		ok = c > 0
	case ">=":
		ok = c >= 0
	default:
		panic(op)
	}
	if ok {
		return triTrue
	}
	return triFalse
}

func nan() float64     { return math.NaN() }
func negZero() float64 { return math.Copysign(0, -1) }

// pgText formats a row as psql prints it.
func pgText(r datum.Row) string {
	parts := make([]string, len(r))
	for i, d := range r {
		switch {
		case d.IsNull():
			parts[i] = "NULL"
		case d.Kind() == datum.KindBool:
			parts[i] = map[bool]string{true: "t", false: "f"}[d.Bool()]
		default:
			parts[i] = d.Format()
		}
	}
	return strings.Join(parts, "\t")
}
