package pgcatalog

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// TestCatalog runs testdata/catalog: `exec` runs statements, `query`
// prints a query's rows (columns separated by |, NULL as NULL).
func TestCatalog(t *testing.T) {
	e, err := engine.Open(engine.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	Register(e)
	s := e.NewSession()
	defer s.Close()
	ctx := context.Background()
	datadriven.RunTest(t, "testdata/catalog", func(t *testing.T, td *datadriven.TestData) string {
		results, err := s.Exec(ctx, td.Input)
		if err != nil {
			pe := pgerr.Wrap(err)
			return fmt.Sprintf("error (%s): %s\n", pe.Code, pe.Message)
		}
		var b strings.Builder
		switch td.Cmd {
		case "exec":
			for _, r := range results {
				b.WriteString(r.Tag + "\n")
			}
		case "query":
			for _, r := range results {
				for _, row := range r.Rows {
					for i, d := range row {
						if i > 0 {
							b.WriteByte('|')
						}
						if d.IsNull() {
							b.WriteString("NULL")
						} else {
							b.WriteString(d.Format())
						}
					}
					b.WriteByte('\n')
				}
			}
		default:
			t.Fatalf("unknown command %s", td.Cmd)
		}
		return b.String()
	})
}

// TestTablesDefined checks every table's rows against its columns.
func TestTablesDefined(t *testing.T) {
	e, err := engine.Open(engine.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	Register(e)
	s := e.NewSession()
	ctx := context.Background()
	if _, err := s.Exec(ctx, "CREATE TABLE k (a BIGINT, b VARCHAR, PRIMARY KEY (a)); CREATE SOURCE src (ts TIMESTAMP, v DOUBLE, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)"); err != nil {
		t.Fatal(err)
	}
	for _, d := range tableDefs {
		vt := d.virtualTable()
		rows, err := vt.Rows(e)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		for _, r := range rows {
			for i, v := range r {
				if !v.IsNull() && v.Kind() != vt.Columns[i].Type.Kind() {
					t.Errorf("%s.%s: %s is %v, column type %v", d.schema, d.name, vt.Columns[i].Name, v.Kind(), vt.Columns[i].Type)
				}
			}
		}
		if _, err := s.Exec(ctx, "SELECT * FROM "+d.schema+"."+d.name); err != nil {
			t.Errorf("SELECT * FROM %s.%s: %v", d.schema, d.name, err)
		}
	}
}

func TestFormatType(t *testing.T) {
	for _, c := range []struct {
		oid  uint32
		mod  int64
		want string
	}{
		{20, -1, "bigint"}, {1043, -1, "character varying"}, {1043, 24, "character varying(20)"},
		{1114, -1, "timestamp without time zone"}, {1009, -1, "text[]"}, {1700, (10<<16 | 2) + 4, "numeric(10,2)"},
		{999999, -1, "???"},
	} {
		if got := formatType(c.oid, c.mod); got != c.want {
			t.Errorf("format_type(%d, %d) = %q, want %q", c.oid, c.mod, got, c.want)
		}
	}
}

func TestNames(t *testing.T) {
	if s, n := splitQualified(`Public."My Tab"`); s != "public" || n != "My Tab" {
		t.Errorf("got %q %q", s, n)
	}
	if quoteIdent("events") != "events" || quoteIdent("My") != `"My"` || quoteIdent("select") != `"select"` {
		t.Error("quoteIdent")
	}
}
