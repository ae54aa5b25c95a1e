package sql

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/weir-sql/weir/datum"
)

// Tree prints an AST node (a Statement, Query, TableExpr or Expr) as an
// indented tree, one node per line with its scalar fields inline and its
// position as @line:col, for tests and debugging:
//
//	QueryStmt @1:1
//	  Query: Select @1:1
//	    Items[0]: SelectItem @1:8
//	      Expr: ColumnRef @1:8 Name="a"
//
// With positions false, positions are left out (to compare shapes).
func Tree(node any, positions bool) string {
	var b strings.Builder
	tp := treePrinter{b: &b, positions: positions}
	tp.node(reflect.ValueOf(node), "", 0)
	return b.String()
}

type treePrinter struct {
	b         *strings.Builder
	positions bool
}

var (
	posType    = reflect.TypeOf(Pos{})
	datumType  = reflect.TypeOf(datum.Datum{})
	dtypeType  = reflect.TypeOf(datum.Type(0))
	sourceType = reflect.TypeOf(StmtSource{})
)

func (tp *treePrinter) node(v reflect.Value, label string, depth int) {
	for v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		v = v.Elem()
	}
	indent := strings.Repeat("  ", depth)
	tp.b.WriteString(indent)
	if label != "" {
		tp.b.WriteString(label + ": ")
	}
	if v.Kind() != reflect.Struct {
		fmt.Fprintf(tp.b, "%v\n", v.Interface())
		return
	}
	t := v.Type()
	tp.b.WriteString(t.Name())
	type child struct {
		label string
		v     reflect.Value
	}
	var children []child
	var pos string
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		switch {
		case f.Type == sourceType:
			if p := fv.Interface().(StmtSource).Start; tp.positions && p.Line > 0 {
				pos = fmt.Sprintf(" @%d:%d", p.Line, p.Col)
			}
		case f.Type == posType:
			p := fv.Interface().(Pos)
			if !tp.positions || p.Line == 0 {
				continue
			}
			if f.Name == "Pos" {
				pos = fmt.Sprintf(" @%d:%d", p.Line, p.Col)
			} else {
				fmt.Fprintf(tp.b, " %s=@%d:%d", f.Name, p.Line, p.Col)
			}
		case f.Type == datumType:
			d := fv.Interface().(datum.Datum)
			switch {
			case d.IsNull():
				tp.b.WriteString(" Value=NULL")
			case d.Kind() == datum.KindInterval:
				fmt.Fprintf(tp.b, " Value=interval(%q)", FormatInterval(d.Months(), d.Micros()))
			default:
				fmt.Fprintf(tp.b, " Value=%s(%q)", d.Kind(), d.Format())
			}
		case f.Type == dtypeType:
			if typ := fv.Interface().(datum.Type); typ != datum.TypeUnknown {
				fmt.Fprintf(tp.b, " %s=%s", f.Name, typ)
			}
		case f.Type.Kind() == reflect.String:
			if s := fv.String(); s != "" {
				fmt.Fprintf(tp.b, " %s=%q", f.Name, s)
			}
		case f.Type.Kind() == reflect.Bool:
			if fv.Bool() {
				fmt.Fprintf(tp.b, " %s", f.Name)
			}
		case f.Type.Kind() == reflect.Int:
			if fv.Int() != 0 {
				fmt.Fprintf(tp.b, " %s=%d", f.Name, fv.Int())
			}
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Bool:
			if !fv.IsNil() {
				fmt.Fprintf(tp.b, " %s=%v", f.Name, fv.Elem().Bool())
			}
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.String:
			if !fv.IsNil() {
				fmt.Fprintf(tp.b, " %s=%q", f.Name, fv.Interface())
			}
		case f.Type.Kind() == reflect.Slice:
			for k := 0; k < fv.Len(); k++ {
				children = append(children, child{fmt.Sprintf("%s[%d]", f.Name, k), fv.Index(k)})
			}
		default:
			children = append(children, child{f.Name, fv})
		}
	}
	tp.b.WriteString(pos)
	tp.b.WriteByte('\n')
	for _, c := range children {
		if c.v.Kind() == reflect.Slice {
			// [][]Expr (VALUES rows)
			if c.v.Len() == 0 {
				continue
			}
			tp.b.WriteString(indent + "  " + c.label + ":\n")
			for k := 0; k < c.v.Len(); k++ {
				tp.node(c.v.Index(k), fmt.Sprintf("[%d]", k), depth+2)
			}
			continue
		}
		tp.node(c.v, c.label, depth+1)
	}
}
