package connector

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weir-sql/weir/datum"
)

var fileSchema = []Column{
	{Name: "id", Type: datum.TypeInt8, NotNull: true},
	{Name: "note", Type: datum.TypeText},
	{Name: "temp", Type: datum.TypeFloat8},
	{Name: "ts", Type: datum.TypeTimestamp},
}

// randomCSV writes a CSV file with a header, quoted fields with delimiters,
// quotes and newlines, NULLs, empty strings and some malformed records.
func randomCSV(rng *rand.Rand, rows int) (string, int) {
	var b strings.Builder
	b.WriteString("id,note,temp,ts\n")
	bad := 0
	for i := 0; i < rows; i++ {
		switch rng.Intn(25) {
		case 0:
			fmt.Fprintf(&b, "notanint,x,1,2024-01-01\n")
			bad++
			continue
		case 1:
			fmt.Fprintf(&b, "%d,too,many,fields,here\n", i)
			bad++
			continue
		case 2:
			fmt.Fprintf(&b, "%d,x,1,2024-99-01\n", i)
			bad++
			continue
		}
		note := ""
		switch rng.Intn(6) {
		case 0:
			note = "" // NULL
		case 1:
			note = `""` // empty string
		case 2:
			note = fmt.Sprintf("\"multi\nline %d, with \"\"quotes\"\"\"", i)
		case 3:
			note = fmt.Sprintf("\"a,b\n\n%d\"", i)
		default:
			note = fmt.Sprintf("plain%d", rng.Intn(1000))
		}
		temp := ""
		if rng.Intn(5) > 0 {
			temp = fmt.Sprintf("%.2f", rng.Float64()*100)
		}
		ts := time.Unix(1704067200+int64(i), 0).UTC().Format("2006-01-02 15:04:05")
		fmt.Fprintf(&b, "%d,%s,%s,%s\n", i, note, temp, ts)
	}
	return b.String(), bad
}

func randomJSONL(rng *rand.Rand, rows int) string {
	var b strings.Builder
	for i := 0; i < rows; i++ {
		switch rng.Intn(20) {
		case 0:
			b.WriteString("{\"id\": \"broken\n")
			continue
		case 1:
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "{\"id\": %d, \"note\": %q, \"temp\": %.3f, \"ts\": %d}\n", i, fmt.Sprintf("n\t%d", rng.Intn(50)), rng.Float64(), 1704067200000+int64(i))
	}
	return b.String()
}

func writeTemp(t testing.TB, name, content string) (dir string) {
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openFile(t testing.TB, dir, name, format string) Source {
	t.Helper()
	src, err := OpenSource(SourceConfig{Name: "f", Connector: "file", Schema: fileSchema, TimeCol: 3,
		Options: map[string]string{"connector": "file", "path": name, "format": format}}, Env{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// readAll reads a partition to its end with random batch sizes.
func readAll(t testing.TB, r Reader, rng *rand.Rand) []Record {
	t.Helper()
	var out []Record
	for {
		var eof bool
		var err error
		out, eof, err = r.Read(out, 1+rng.Intn(7))
		if err != nil {
			t.Fatal(err)
		}
		if eof {
			return out
		}
	}
}

func recordsText(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString(fmtRecord(r))
		b.WriteByte('\n')
	}
	return b.String()
}

func TestFileSourceReopenAtOffset(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, format := range []string{"csv", "jsonl"} {
		var content string
		if format == "csv" {
			content, _ = randomCSV(rng, 300)
		} else {
			content = randomJSONL(rng, 300)
		}
		dir := writeTemp(t, "in."+format, content)
		src := openFile(t, dir, "in."+format, format)
		if !src.Bounded() {
			t.Fatal("file source must be bounded")
		}
		r, err := src.Open(0, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		all := readAll(t, r, rng)
		if r.NextOffset() != int64(len(content)) {
			t.Fatalf("%s: NextOffset at end = %d, want %d", format, r.NextOffset(), len(content))
		}
		r.Close()
		if len(all) < 250 {
			t.Fatalf("%s: only %d records", format, len(all))
		}
		// Reopening at any record's Offset yields exactly the rest.
		for k := 0; k < 40; k++ {
			i := rng.Intn(len(all))
			r, err := src.Open(0, 1, all[i].Offset)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, r, rng)
			r.Close()
			if want := recordsText(all[i:]); recordsText(got) != want {
				t.Fatalf("%s: reopen at record %d (offset %d) differs", format, i, all[i].Offset)
			}
		}
		// Reopening one past a record's Offset continues after that record.
		for k := 0; k < 20; k++ {
			i := rng.Intn(len(all))
			r, err := src.Open(0, 1, all[i].Offset+1)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, r, rng)
			r.Close()
			if want := recordsText(all[i+1:]); recordsText(got) != want {
				t.Fatalf("%s: reopen one past record %d (offset %d) differs", format, i, all[i].Offset)
			}
		}
		// Reopening at NextOffset after a partial read continues exactly.
		r, _ = src.Open(0, 1, 0)
		var part []Record
		part, _, _ = r.Read(part, 17)
		next := r.NextOffset()
		r.Close()
		r, _ = src.Open(0, 1, next)
		rest := readAll(t, r, rng)
		r.Close()
		if recordsText(append(part, rest...)) != recordsText(all) {
			t.Fatalf("%s: resume at NextOffset differs", format)
		}
	}
}

func TestFileSourcePartitionsCoverEveryRecordOnce(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, format := range []string{"csv", "jsonl"} {
		var content string
		if format == "csv" {
			content, _ = randomCSV(rng, 500)
		} else {
			content = randomJSONL(rng, 500)
		}
		dir := writeTemp(t, "in."+format, content)
		src := openFile(t, dir, "in."+format, format)
		r, _ := src.Open(0, 1, 0)
		want := recordsText(readAll(t, r, rng))
		r.Close()
		for n := 1; n <= 16; n++ {
			var got []Record
			for p := 0; p < n; p++ {
				r, err := src.Open(p, n, 0)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, readAll(t, r, rng)...)
				r.Close()
			}
			if recordsText(got) != want {
				t.Fatalf("%s: %d partitions do not cover the records exactly once", format, n)
			}
		}
	}
}

func TestFileSourcePartitionsCount(t *testing.T) {
	dir := writeTemp(t, "a.csv", "id,note,temp,ts\n1,x,1,2024-01-01\n")
	src := openFile(t, dir, "a.csv", "csv")
	if n := src.Partitions(8); n != 1 {
		t.Fatalf("a tiny file should have 1 partition, got %d", n)
	}
	old := minSplitBytes
	minSplitBytes = 4
	defer func() { minSplitBytes = old }()
	if n := src.Partitions(8); n != 4 {
		t.Fatalf("Partitions(8) = %d, want 4 (18 bytes / 4)", n)
	}
	if n := src.Partitions(0); n != 1 {
		t.Fatalf("Partitions(0) = %d", n)
	}
}

func TestFileSourceOversizeRecord(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("id,note,temp,ts\n1,a,1,2024-01-01\n2,")
	b.WriteString(strings.Repeat("x", MaxRecordBytes+10))
	b.WriteString(",1,2024-01-01\n3,\"")
	b.WriteString(strings.Repeat(strings.Repeat("y", 999)+"\n", MaxRecordBytes/1000+10)) // an unterminated quote over 1 MiB
	b.WriteString("4,d,1,2024-01-01\n")
	dir := writeTemp(t, "big.csv", b.String())
	src := openFile(t, dir, "big.csv", "csv")
	rng := rand.New(rand.NewSource(1))
	var all []Record
	for n := 1; n <= 3; n++ {
		var got []Record
		for p := 0; p < n; p++ {
			r, err := src.Open(p, n, 0)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, readAll(t, r, rng)...)
			r.Close()
		}
		if n == 1 {
			all = got
			continue
		}
		if recordsText(got) != recordsText(all) {
			t.Fatalf("%d partitions differ from 1", n)
		}
	}
	// 1 ok, 2 oversize, 3 oversize (unterminated quote, cut at its first
	// newline), then the lines "y" (one column: missing data), then 4 ok.
	if len(all) < 4 || all[0].Err != nil || all[1].Err == nil || all[2].Err == nil || all[len(all)-1].Err != nil {
		t.Fatalf("unexpected records: first=%v second=%v last=%v (n=%d)", all[0].Err, all[1].Err, all[len(all)-1].Err, len(all))
	}
	if len(all[1].Raw) > maxRawBytes || !strings.HasPrefix(string(all[1].Raw), "2,xxx") {
		t.Fatalf("oversize raw: %d bytes", len(all[1].Raw))
	}
	if got := fmtRow(all[len(all)-1].Row); got != `(4, "d", 1, 2024-01-01 00:00:00)` {
		t.Fatalf("last row %s", got)
	}
}

func TestFileSourceErrors(t *testing.T) {
	dir := writeTemp(t, "a.csv", "note,temp\nx,1\n")
	cases := []struct {
		opts map[string]string
		code string
		msg  string
	}{
		{map[string]string{"path": "missing.csv"}, "58P01", "no such file"},
		{map[string]string{}, "22023", "'path' is required"},
		{map[string]string{"path": "a.csv", "format": "xml"}, "22023", "format"},
		{map[string]string{"path": "a.csv", "colour": "red"}, "42601", `"colour" not recognized`},
		{map[string]string{"path": "a.csv"}, "42703", `column "id" is missing from the header`},
		{map[string]string{"path": "a.csv", "format": "jsonl", "delimiter": ";"}, "42601", "csv"},
		{map[string]string{"path": "a.csv", "delimiter": ";;"}, "22023", "delimiter"},
	}
	for _, c := range cases {
		_, err := OpenSource(SourceConfig{Name: "f", Connector: "file", Schema: fileSchema, Options: c.opts}, Env{BaseDir: dir})
		if err == nil || pgerrCode(err) != c.code || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v (%s), want %s containing %q", c.opts, err, pgerrCode(err), c.code, c.msg)
		}
	}
}

func TestFileSourceHeaderless(t *testing.T) {
	dir := writeTemp(t, "a.csv", "1;x;1.5;2024-01-01\n2;;;2024-01-02\n")
	src, err := OpenSource(SourceConfig{Name: "f", Connector: "file", Schema: fileSchema,
		Options: map[string]string{"path": "a.csv", "header": "false", "delimiter": ";"}}, Env{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := src.Open(0, 1, 0)
	got := recordsText(readAll(t, r, rand.New(rand.NewSource(1))))
	want := "@0 (1, \"x\", 1.5, 2024-01-01 00:00:00)\n@19 (2, NULL, NULL, 2024-01-02 00:00:00)\n"
	if got != want {
		t.Fatalf("got\n%swant\n%s", got, want)
	}
}

// TestFileReaderRecycleRows reads random CSV and JSONL files twice: once
// keeping every row, once calling RecycleRows after each batch (rendering
// the batch's records first, as a caller that copies what it keeps does).
// The records must be the same, and the recycling reader must actually hand
// out the memory of earlier rows again.
func TestFileReaderRecycleRows(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for _, format := range []string{"csv", "jsonl"} {
		t.Run(format, func(t *testing.T) {
			var content string
			if format == "csv" {
				content, _ = randomCSV(rng, 3000)
			} else {
				content = randomJSONL(rng, 3000)
			}
			dir := writeTemp(t, "data."+format, content)
			src := openFile(t, dir, "data."+format, format)
			r, err := src.Open(0, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := recordsText(readAll(t, r, rng))
			r.Close()

			r, err = src.Open(0, 1, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rc, ok := r.(RowRecycler)
			if !ok {
				t.Fatalf("%T does not implement RowRecycler", r)
			}
			var got strings.Builder
			seen := map[*datum.Datum]bool{}
			reused := 0
			var buf []Record
			for {
				recs, eof, err := r.Read(buf[:0], 1+rng.Intn(300))
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range recs {
					got.WriteString(fmtRecord(rec))
					got.WriteByte('\n')
					if len(rec.Row) > 0 {
						if seen[&rec.Row[0]] {
							reused++
						}
						seen[&rec.Row[0]] = true
					}
				}
				rc.RecycleRows()
				buf = recs
				if eof {
					break
				}
			}
			if got.String() != want {
				t.Fatalf("records read with recycling differ from those read without")
			}
			if reused == 0 {
				t.Fatalf("no row memory was reused over %d rows", len(seen))
			}
		})
	}
}
