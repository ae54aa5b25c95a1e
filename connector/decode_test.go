package connector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestDecodeDataDriven runs testdata/decode/*: each directive decodes its
// input with one decoder and prints every record (or error record).
//
//	csv|text|jsonl schema=(a INT, b TEXT NOT NULL) [header] [byname] [null=X]
//	    [emptynull] [delim=X] [quote=X] [escape=X] [noend] [nonl] [escapes]
//
// The input gets a final newline unless nonl is given; escapes turns \xHH,
// \r, \t, \n and \\ in the input into bytes.
func TestDecodeDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/decode", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			var schema []Column
			if a, ok := d.Arg("schema"); ok {
				schema = parseSchema(t, a.Vals)
			}
			input := d.Input
			if d.HasArg("escapes") {
				input = unescapeInput(input)
			}
			if !d.HasArg("nonl") {
				input += "\n"
			}
			char := func(key string) byte {
				if a, ok := d.Arg(key); ok {
					v := unescapeInput(a.Vals[0])
					return v[0]
				}
				return 0
			}
			null := ""
			if a, ok := d.Arg("null"); ok {
				null = a.Vals[0]
			}
			var next func() (Record, bool)
			var errf func() error
			switch d.Cmd {
			case "csv":
				dec := NewCSVDecoder(strings.NewReader(input), schema, CSVOptions{
					Delimiter: char("delim"), Quote: char("quote"), Escape: char("escape"), Null: null,
					Header: d.HasArg("header"), ByName: d.HasArg("byname"), NoEndMarker: d.HasArg("noend"),
				})
				next, errf = dec.Next, dec.Err
			case "text":
				dec := NewCopyTextDecoder(strings.NewReader(input), schema, CopyTextOptions{
					Delimiter: char("delim"), Null: null, EmptyNull: d.HasArg("emptynull"), Header: d.HasArg("header"),
				})
				next, errf = dec.Next, dec.Err
			case "jsonl":
				dec := NewJSONLDecoder(strings.NewReader(input), schema)
				next, errf = dec.Next, dec.Err
			default:
				t.Fatalf("unknown command %q", d.Cmd)
			}
			var out strings.Builder
			for {
				rec, ok := next()
				if !ok {
					break
				}
				out.WriteString(fmtRecord(rec))
				out.WriteByte('\n')
			}
			if err := errf(); err != nil {
				fmt.Fprintf(&out, "fatal: %v\n", err)
			}
			if out.Len() == 0 {
				return "(no records)\n"
			}
			return out.String()
		})
	})
}
