package connector

import (
	"bytes"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
)

var trickyStrings = []string{"", "plain", "a,b", `say "hi"`, "line\nbreak", "cr\rlf", "tab\there", `back\slash`,
	`\.`, `\N`, "NULL", "  spaced  ", "ünïcødé ✓", `"`, `""`, ",", "\\", "end\\"}

func randomRow(rng *rand.Rand) datum.Row {
	row := make(datum.Row, 5)
	row[0] = datum.NewInt(rng.Int63() - rng.Int63())
	row[1] = datum.NewString(trickyStrings[rng.Intn(len(trickyStrings))] + trickyStrings[rng.Intn(len(trickyStrings))])
	switch rng.Intn(4) {
	case 0:
		row[2] = datum.NewFloat(rng.NormFloat64() * 1e6)
	case 1:
		row[2] = datum.NewFloat(math.Inf(-1))
	default:
		row[2] = datum.NewFloat(float64(rng.Intn(100)) / 4)
	}
	row[3] = datum.NewTimestamp(1704067200_000000 + rng.Int63n(1e12))
	row[4] = datum.NewBool(rng.Intn(2) == 0)
	for i := range row {
		if rng.Intn(8) == 0 {
			row[i] = datum.Null
		}
	}
	return row
}

var roundTripSchema = []Column{{Name: "i", Type: datum.TypeInt8}, {Name: "s", Type: datum.TypeText},
	{Name: "f", Type: datum.TypeFloat8}, {Name: "t", Type: datum.TypeTimestamp}, {Name: "b", Type: datum.TypeBool}}

func TestEncodersRoundTrip(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	var rows []datum.Row
	for i := 0; i < 2000; i++ {
		rows = append(rows, randomRow(rng))
	}
	want := ""
	for _, r := range rows {
		want += fmtRow(r) + "\n"
	}
	check := func(name string, next func() (Record, bool), errf func() error) {
		t.Helper()
		got := ""
		for {
			rec, ok := next()
			if !ok {
				break
			}
			if rec.Err != nil {
				t.Fatalf("%s: %v raw=%q", name, rec.Err, rec.Raw)
			}
			got += fmtRow(rec.Row) + "\n"
		}
		if err := errf(); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s round trip differs", name)
		}
	}
	for _, opts := range []CSVOptions{{}, {Delimiter: '\t', Quote: '\'', Escape: '\\', Null: `\N`}} {
		var buf []byte
		buf = AppendCSVHeader(buf, roundTripSchema, opts)
		for _, r := range rows {
			buf = AppendCSV(buf, r, opts)
		}
		opts.Header, opts.ByName = true, true
		d := NewCSVDecoder(bytes.NewReader(buf), roundTripSchema, opts)
		check("csv", d.Next, d.Err)
	}
	var buf []byte
	for _, r := range rows {
		buf = AppendCopyText(buf, r)
	}
	buf = append(buf, "\\.\nignored\n"...)
	td := NewCopyTextDecoder(bytes.NewReader(buf), roundTripSchema, CopyTextOptions{})
	check("text", td.Next, td.Err)
	buf = buf[:0]
	for _, r := range rows {
		buf = AppendJSONL(buf, r, roundTripSchema)
	}
	jd := NewJSONLDecoder(bytes.NewReader(buf), roundTripSchema)
	check("jsonl", jd.Next, jd.Err)
}

func TestEncoderFormats(t *testing.T) {
	row := datum.Row{datum.NewInt(1), datum.NewString(""), datum.Null, datum.NewString("a\"b,c"), datum.NewTimestamp(1704067200_500000)}
	if got := string(AppendCSV(nil, row, CSVOptions{})); got != "1,\"\",,\"a\"\"b,c\",2024-01-01 00:00:00.5\n" {
		t.Errorf("csv: %q", got)
	}
	row2 := datum.Row{datum.NewInt(1), datum.NewString("a\tb\\c\nd"), datum.Null}
	if got := string(AppendCopyText(nil, row2)); got != "1\ta\\tb\\\\c\\nd\t\\N\n" {
		t.Errorf("text: %q", got)
	}
	schema := parseSchema(t, []string{"i INT", "s TEXT", "n TEXT", "q TEXT", "t TIMESTAMP"})
	if got := string(AppendJSONL(nil, row, schema)); got != `{"i":1,"s":"","n":null,"q":"a\"b,c","t":"2024-01-01T00:00:00.5"}`+"\n" {
		t.Errorf("jsonl: %q", got)
	}
}

func TestSinks(t *testing.T) {
	rows := []datum.Row{{datum.NewInt(1), datum.NewString("a b")}, {datum.NewInt(2), datum.Null}}
	schema := []Column{{Name: "k", Type: datum.TypeInt8}, {Name: "v", Type: datum.TypeText}}

	bh, err := OpenSink(SinkConfig{Name: "b", Connector: "blackhole", Schema: schema}, Env{})
	if err != nil {
		t.Fatal(err)
	}
	bh.Write(rows)
	bh.Write(rows[:1])
	if bh.Count() != 3 || bh.Close() != nil {
		t.Fatalf("blackhole count %d", bh.Count())
	}

	var out bytes.Buffer
	so, err := OpenSink(SinkConfig{Name: "o", Connector: "stdout", Schema: schema}, Env{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if err := so.Write(rows); err != nil {
		t.Fatal(err)
	}
	if out.String() != "1\ta b\n2\t\\N\n" || so.Count() != 2 {
		t.Fatalf("stdout: %q", out.String())
	}

	dir := t.TempDir()
	for _, format := range []string{"csv", "jsonl"} {
		name := "out." + format
		for round := 0; round < 2; round++ { // reopening appends; the CSV header is written once
			fs, err := OpenSink(SinkConfig{Name: "f", Connector: "file", Schema: schema,
				Options: map[string]string{"connector": "file", "path": name, "format": format}}, Env{BaseDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if err := fs.Write(rows); err != nil {
				t.Fatal(err)
			}
			if err := fs.Close(); err != nil {
				t.Fatal(err)
			}
		}
		data, _ := os.ReadFile(filepath.Join(dir, name))
		if format == "csv" && string(data) != "k,v\n1,a b\n2,\n1,a b\n2,\n" {
			t.Fatalf("csv file: %q", data)
		}
		// The sink's output reads back through the file source.
		src, err := OpenSource(SourceConfig{Name: "r", Connector: "file", Schema: schema,
			Options: map[string]string{"path": name, "format": format}}, Env{BaseDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := src.Open(0, 1, 0)
		recs := readAll(t, r, rand.New(rand.NewSource(1)))
		var got []string
		for _, rec := range recs {
			got = append(got, fmtRow(rec.Row))
		}
		if strings.Join(got, " ") != `(1, "a b") (2, NULL) (1, "a b") (2, NULL)` {
			t.Fatalf("%s read back: %v", format, got)
		}
	}
	if _, err := OpenSink(SinkConfig{Connector: "file", Options: map[string]string{"path": "x", "format": "xml"}}, Env{BaseDir: dir}); pgerrCode(err) != "22023" {
		t.Fatalf("bad format: %v", err)
	}
	if _, err := OpenSink(SinkConfig{Connector: "blackhole", Options: map[string]string{"path": "x"}}, Env{}); pgerrCode(err) != "42601" {
		t.Fatalf("blackhole option: %v", err)
	}
}

func TestManualClock(t *testing.T) {
	c := NewManualClock(time.Unix(100, 0))
	a := c.After(time.Second)
	b := c.After(3 * time.Second)
	c.Advance(time.Second)
	select {
	case <-a:
	default:
		t.Fatal("a not fired")
	}
	select {
	case <-b:
		t.Fatal("b fired early")
	default:
	}
	if c.Waiters() != 1 || !c.Now().Equal(time.Unix(101, 0)) {
		t.Fatal("state")
	}
	c.Advance(5 * time.Second)
	<-b
}
