package planner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/sql"
)

// TestDataDriven runs the scripts in testdata/. Each file starts with an
// empty in-memory catalog. Verbs:
//
//	catalog       input: CREATE SOURCE/TABLE/SINK/TEMPLATE statements; stores them
//	ddl           input: one CREATE statement; prints the catalog object (not stored)
//	plan          input: a SELECT, INSERT, UPDATE or DELETE; prints the logical plan
//	insert-values input: INSERT ... VALUES; prints the typed rows
//	job [names]   input: CREATE JOB ... AS INSERT ...; prints ExplainJob (names:
//	              only each operator's name, stage and whether it is stateful)
//	update        input: CREATE JOB ...; ALTER JOB ... UPDATE AS ... [WITH MAPPING];
//	              prints CheckUpdate's matches or its error
//
// Errors print as `error (42703) 1:8: column "x" does not exist`.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		c := catalog.NewMemory()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runCmd(t, c, d)
		})
	})
}

func formatErr(err error) string {
	e := pgerr.Wrap(err)
	s := "error (" + e.Code + ")"
	if e.Line > 0 {
		s += fmt.Sprintf(" %d:%d", e.Line, e.Col)
	}
	s += ": " + e.Message
	if e.Detail != "" {
		s += "\nDETAIL: " + e.Detail
	}
	if e.Hint != "" {
		s += "\nHINT: " + e.Hint
	}
	return s + "\n"
}

func runCmd(t *testing.T, c *catalog.Catalog, d *datadriven.TestData) string {
	stmts, err := sql.Parse(d.Input, sql.ParseOptions{})
	if err != nil {
		return formatErr(err)
	}
	switch d.Cmd {
	case "catalog":
		var b strings.Builder
		for _, s := range stmts {
			if err := define(c, s); err != nil {
				b.WriteString(formatErr(err))
			}
		}
		if b.Len() == 0 {
			return "ok\n"
		}
		return b.String()
	case "ddl":
		obj, err := bindDDL(stmts[0])
		if err != nil {
			return formatErr(err)
		}
		return describeObject(obj)
	case "plan":
		n, err := BindStatement(c, stmts[0])
		if err != nil {
			return formatErr(err)
		}
		return ExplainLogical(n)
	case "insert-values":
		ins, ok := stmts[0].(*sql.Insert)
		if !ok {
			t.Fatalf("%s: insert-values needs an INSERT", d.Pos)
		}
		v, err := BindInsertValues(c, ins)
		if err != nil {
			return formatErr(err)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "into %s %s\n", v.Target.Kind, v.Target.Name)
		for _, r := range v.Rows {
			parts := make([]string, len(r))
			for i, e := range r {
				parts[i] = fmt.Sprintf("%s:%s", e.String(), e.Type())
			}
			b.WriteString("(" + strings.Join(parts, ", ") + ")\n")
		}
		return b.String()
	case "job":
		cj, ok := stmts[0].(*sql.CreateJob)
		if !ok {
			t.Fatalf("%s: job needs a CREATE JOB", d.Pos)
		}
		p, err := PlanCreateJob(c, cj)
		if err != nil {
			return formatErr(err)
		}
		if d.HasArg("names") {
			return opNames(p)
		}
		return ExplainJob(p)
	case "update":
		cj, ok1 := stmts[0].(*sql.CreateJob)
		aj, ok2 := stmts[len(stmts)-1].(*sql.AlterJob)
		if !ok1 || !ok2 {
			t.Fatalf("%s: update needs CREATE JOB then ALTER JOB", d.Pos)
		}
		old, err := PlanCreateJob(c, cj)
		if err != nil {
			return formatErr(err)
		}
		with := aj.With
		if len(with) == 0 {
			with = cj.With
		}
		nw, err := PlanJob(c, aj.Name, aj.Insert, with)
		if err != nil {
			return formatErr(err)
		}
		matches, err := CheckUpdate(old, nw, optionMap(aj.Mapping))
		if err != nil {
			return formatErr(err)
		}
		var b strings.Builder
		for _, k := range sortedKeys(matches) {
			fmt.Fprintf(&b, "%s -> %s\n", k, matches[k])
		}
		return b.String()
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

// opNames lists a job's operators: stage, name, and [stateful].
func opNames(p *plan.JobPlan) string {
	var b strings.Builder
	for _, st := range p.Stages {
		if st.Source != nil {
			fmt.Fprintf(&b, "%s %s\n", st.Name, st.Source.OpName)
		}
		for _, op := range st.Ops {
			fmt.Fprintf(&b, "%s %s", st.Name, op.OpName())
			if op.Stateful() {
				b.WriteString(" [stateful]")
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func bindDDL(s sql.Statement) (any, error) {
	switch s := s.(type) {
	case *sql.CreateSource:
		return BindCreateSource(s)
	case *sql.CreateTable:
		return BindCreateTable(s)
	case *sql.CreateSink:
		return BindCreateSink(s)
	case *sql.CreateTemplate:
		return BindCreateTemplate(s)
	}
	return nil, pgerr.New(pgerr.InternalError, "not a definition: %T", s)
}

func define(c *catalog.Catalog, s sql.Statement) error {
	obj, err := bindDDL(s)
	if err != nil {
		return err
	}
	switch o := obj.(type) {
	case *catalog.Source:
		return c.CreateSource(o)
	case *catalog.Table:
		return c.CreateTable(o)
	case *catalog.Sink:
		return c.CreateSink(o)
	case *catalog.Template:
		return c.CreateTemplate(o)
	}
	return nil
}

func describeObject(obj any) string {
	var b strings.Builder
	cols := func(cs []catalog.Column) {
		for _, c := range cs {
			fmt.Fprintf(&b, "  %s %s", c.Name, c.Type)
			if c.NotNull {
				b.WriteString(" NOT NULL")
			}
			b.WriteString("\n")
		}
	}
	opts := func(m map[string]string) {
		if len(m) == 0 {
			return
		}
		var kv []string
		for k, v := range m {
			kv = append(kv, k+"="+v)
		}
		sortStrings(kv)
		b.WriteString("  with " + strings.Join(kv, ", ") + "\n")
	}
	switch o := obj.(type) {
	case *catalog.Source:
		fmt.Fprintf(&b, "source %s connector=%s\n", o.Name, o.Connector())
		cols(o.Columns)
		if o.WatermarkColumn != "" {
			fmt.Fprintf(&b, "  watermark for %s as %s (delay %s)\n", o.WatermarkColumn, o.WatermarkSQL, formatMicros(o.WatermarkDelay))
		}
		opts(o.Options)
	case *catalog.Table:
		fmt.Fprintf(&b, "table %s primary key %v\n", o.Name, o.PrimaryKey)
		cols(o.Columns)
	case *catalog.Sink:
		fmt.Fprintf(&b, "sink %s connector=%s\n", o.Name, o.Connector())
		cols(o.Columns)
		opts(o.Options)
	case *catalog.Template:
		fmt.Fprintf(&b, "template %s\n", o.Name)
		cols(o.Params)
		fmt.Fprintf(&b, "  body: %s\n", o.Body)
	}
	return b.String()
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
