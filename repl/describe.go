package repl

import (
	"context"
	"fmt"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
)

var (
	listColumns = []engine.Column{{Name: "name", Type: datum.TypeText}, {Name: "kind", Type: datum.TypeText}, {Name: "details", Type: datum.TypeText}}
	descColumns = []engine.Column{{Name: "column", Type: datum.TypeText}, {Name: "type", Type: datum.TypeText}, {Name: "nullable", Type: datum.TypeText}}
)

// details is \d's one-line summary of an object.
func (o object) details() string {
	switch o.kind {
	case "job":
		return fmt.Sprintf("%s, job id %s", o.state, o.jobID)
	case "table":
		if o.def != nil && len(o.def.primaryKey) > 0 {
			return "primary key (" + strings.Join(o.def.primaryKey, ", ") + ")"
		}
		return "append-only"
	case "source":
		c := "log"
		if o.def != nil && o.def.connector != "" {
			c = o.def.connector
		}
		return "connector " + c
	case "sink":
		if o.def != nil && o.def.connector != "" {
			return "connector " + o.def.connector
		}
	}
	return ""
}

// listObjects is \d without arguments.
func (sh *shell) listObjects(ctx context.Context) error {
	objs := sh.objects.get(ctx, true)
	if len(objs) == 0 {
		fmt.Fprintln(sh.out, "Did not find any tables, sources, sinks or jobs.")
		return nil
	}
	rows := make([]datum.Row, len(objs))
	for i, o := range objs {
		rows[i] = datum.Row{datum.NewString(o.name), datum.NewString(o.kind), datum.NewString(o.details())}
	}
	sh.printTitled("List of objects", listColumns, rows, true)
	return nil
}

// quoteIdent quotes name for SQL when it is not a plain lower-case
// identifier.
func quoteIdent(name string) string {
	plain := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			plain = false
		}
	}
	if plain {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// describe is \d NAME.
func (sh *shell) describe(ctx context.Context, arg string) error {
	name, exact := arg, false
	if strings.HasPrefix(arg, `"`) && strings.HasSuffix(arg, `"`) && len(arg) >= 2 {
		name, exact = strings.ReplaceAll(arg[1:len(arg)-1], `""`, `"`), true
	}
	var found *object
	objs := sh.objects.get(ctx, true)
	for i := range objs {
		if objs[i].name == name || !exact && objs[i].name == strings.ToLower(name) {
			found = &objs[i]
			break
		}
	}
	if !exact {
		name = strings.ToLower(name)
	}
	if found == nil {
		return sh.describeRelation(ctx, name)
	}
	o := *found
	if o.kind == "job" {
		return sh.describeJob(ctx, o)
	}
	d := o.def
	if d == nil {
		d = &definition{}
	}
	rows := make([]datum.Row, len(d.columns))
	for i, c := range d.columns {
		null := ""
		if c.notNull {
			null = "not null"
		}
		rows[i] = datum.Row{datum.NewString(c.name), datum.NewString(c.typ), datum.NewString(null)}
	}
	title := strings.ToUpper(o.kind[:1]) + o.kind[1:] + ` "` + o.name + `"`
	var notes []string
	switch o.kind {
	case "table":
		if len(d.primaryKey) > 0 {
			notes = append(notes, "Primary key: ("+strings.Join(d.primaryKey, ", ")+")")
		} else {
			notes = append(notes, "Append-only (no primary key)")
		}
	case "source":
		if d.watermark != "" {
			notes = append(notes, "Watermark: "+d.watermark)
		} else {
			notes = append(notes, "Watermark: none")
		}
		notes = append(notes, sh.liveWatermarks(ctx, o.name)...)
	}
	if len(d.options) > 0 {
		notes = append(notes, "Options: "+strings.Join(d.options, ", "))
	}
	sh.printTitled(title, descColumns, rows, false)
	if len(notes) > 0 {
		fmt.Fprintln(sh.out, strings.Join(notes, "\n"))
		fmt.Fprintln(sh.out)
	}
	return nil
}

// describeJob prints a job's state and its plan (EXPLAIN JOB): fused
// stages and operator names.
func (sh *shell) describeJob(ctx context.Context, o object) error {
	fmt.Fprintf(sh.out, "Job %q: %s, job id %s\n\n", o.name, o.state, o.jobID)
	text := "EXPLAIN JOB " + quoteIdent(o.name)
	r, err := sh.query(ctx, text)
	if err != nil {
		sh.printError(err, text, "", 0)
		return errFailed
	}
	sh.printTitled("", r.Columns, r.Rows, false)
	return nil
}

// describeRelation describes anything else SELECT can read (system tables,
// pg_catalog) from its result columns.
func (sh *shell) describeRelation(ctx context.Context, name string) error {
	r, err := sh.query(ctx, "SELECT * FROM "+quoteIdent(name)+" LIMIT 0")
	if err != nil {
		return sh.complain("Did not find any table, source, sink or job named %q.", name)
	}
	rows := make([]datum.Row, len(r.Columns))
	for i, c := range r.Columns {
		rows[i] = datum.Row{datum.NewString(c.Name), datum.NewString(c.Type.String()), datum.NewString("")}
	}
	sh.printTitled(`Relation "`+name+`"`, descColumns, rows, false)
	return nil
}

// liveWatermarks reports where the jobs reading a source have its
// watermark, from the source operators ("source_NAME") in weir_operators.
func (sh *shell) liveWatermarks(ctx context.Context, source string) []string {
	r, err := sh.query(ctx, "SELECT job, stage, operator, watermark FROM weir_operators")
	if err != nil || len(r.Columns) != 4 {
		return nil
	}
	var out []string
	for _, row := range r.Rows {
		if row[2].Format() == "source_"+source {
			out = append(out, fmt.Sprintf("  in job %s (stage %s): %s", row[0].Format(), row[1].Format(), row[3].Format()))
		}
	}
	if len(out) > 0 {
		out = append([]string{"Current watermark:"}, out...)
	}
	return out
}
