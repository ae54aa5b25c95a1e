package connector

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/weir-sql/weir/datum"
)

// rawSeed returns the seed of a randomized RawAt test: WEIR_RAW_SEED when
// set (to re-run a failure), else the clock. It is logged.
func rawSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("WEIR_RAW_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("WEIR_RAW_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (re-run with WEIR_RAW_SEED=%d)", seed, seed)
	return seed
}

// rawDialect is a CSV dialect of a generated file.
type rawDialect struct {
	delim, quote, escape byte
	header               bool
}

func (d rawDialect) options() map[string]string {
	o := map[string]string{"header": strconv.FormatBool(d.header)}
	if d.delim == '\t' {
		o["delimiter"] = `\t`
	} else {
		o["delimiter"] = string(d.delim)
	}
	o["quote"] = string(d.quote)
	o["escape"] = string(d.escape)
	return o
}

// quoted quotes s in the dialect (escaping the quote and escape bytes).
func (d rawDialect) quoted(s string) string {
	var b strings.Builder
	b.WriteByte(d.quote)
	for i := 0; i < len(s); i++ {
		if s[i] == d.quote || s[i] == d.escape {
			b.WriteByte(d.escape)
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(d.quote)
	return b.String()
}

// rawCSV writes a CSV file in dialect d for fileSchema (id, note, temp,
// ts): quoted fields holding delimiters, escaped quotes, newlines and
// CRLFs; LF and CRLF line ends; malformed records (bad values, wrong field
// counts, invalid UTF-8, empty lines, stray quotes, random garbage made of
// the dialect's special bytes); optionally no final newline or an
// unterminated quote at the end.
func rawCSV(rng *rand.Rand, d rawDialect, rows int) string {
	var b strings.Builder
	del := string(d.delim)
	eol := func() string {
		if rng.Intn(6) == 0 {
			return "\r\n"
		}
		return "\n"
	}
	if d.header {
		b.WriteString("id" + del + "note" + del + "temp" + del + "ts" + eol())
	}
	for i := 0; i < rows; i++ {
		ts := time.Unix(1704067200+int64(i), 0).UTC().Format("2006-01-02 15:04:05")
		e := eol()
		switch rng.Intn(30) {
		case 0:
			b.WriteString("notanint" + del + "x" + del + "1" + del + ts + e)
			continue
		case 1:
			fmt.Fprintf(&b, "%d%sa%sb%sc%sd%s", i, del, del, del, del, e)
			continue
		case 2:
			fmt.Fprintf(&b, "%d%sbad\xffutf8%s1%s%s%s", i, del, del, del, ts, e)
			continue
		case 3:
			b.WriteString(e)
			continue
		case 4:
			fmt.Fprintf(&b, "%d%sstray%cquote%s1%s%s%s", i, del, d.quote, del, del, ts, e)
			continue
		case 5:
			// Garbage of the bytes that matter to framing.
			alpha := []byte{d.delim, d.quote, d.escape, '\n', '\r', 'a', '7', ' '}
			for k := rng.Intn(30); k > 0; k-- {
				b.WriteByte(alpha[rng.Intn(len(alpha))])
			}
			b.WriteString(e)
			continue
		}
		var note string
		switch rng.Intn(8) {
		case 0:
			note = "" // NULL
		case 1:
			note = d.quoted("")
		case 2:
			note = d.quoted(fmt.Sprintf("multi\nline %d%s with %cquotes%c", i, del, d.quote, d.quote))
		case 3:
			note = d.quoted(fmt.Sprintf("a%sb\n\n%d", del, i))
		case 4:
			note = d.quoted(fmt.Sprintf("crlf\r\ninside%s%d\\", del, i))
		case 5:
			note = d.quoted(string([]byte{d.escape, d.quote, d.escape, d.escape}))
		default:
			note = fmt.Sprintf("plain%d", rng.Intn(1000))
		}
		temp := ""
		if rng.Intn(5) > 0 {
			temp = fmt.Sprintf("%.2f", rng.Float64()*100)
		}
		fmt.Fprintf(&b, "%d%s%s%s%s%s%s%s", i, del, note, del, temp, del, ts, e)
	}
	s := b.String()
	switch rng.Intn(5) {
	case 0:
		s = strings.TrimSuffix(s, "\n")
	case 1:
		s += fmt.Sprintf("99999%s%cunterminated\nto the end%s1\n2%sx%s1%s2024-01-01\n", del, d.quote, del, del, del, del)
	}
	return s
}

// rawJSONL writes a JSON Lines file for fileSchema with blank and
// whitespace-only lines, malformed lines, escaped newlines and quotes in
// strings, CRLFs and optionally no final newline.

// clipRaw is what Record.Raw keeps of a record's bytes: all of them, or
// the first maxRawBytes of one over MaxRecordBytes.
func clipRaw(b string) string {
	if len(b) > MaxRecordBytes {
		return b[:maxRawBytes]
	}
	return b
}

// expectedCSVRaw computes each record's bytes from the file content alone:
// CSV records tile the data (header excluded), so record i spans from its
// offset to the next record's (the end of the file for the last), less the
// '\n' that ends it.
func expectedCSVRaw(t *testing.T, content string, recs []Record) []string {
	t.Helper()
	want := make([]string, len(recs))
	for i, rec := range recs {
		end := int64(len(content))
		if i+1 < len(recs) {
			end = recs[i+1].Offset
		}
		if rec.Offset >= end {
			t.Fatalf("record %d: offset %d not before the next record's %d", i, rec.Offset, end)
		}
		want[i] = clipRaw(strings.TrimSuffix(content[rec.Offset:end], "\n"))
	}
	return want
}

// expectedJSONLRaw: a record is its line (less its '\n'); what lies between
// its end and the next record is blank lines only.
func expectedJSONLRaw(t *testing.T, content string, recs []Record) []string {
	t.Helper()
	want := make([]string, len(recs))
	for i, rec := range recs {
		line := content[rec.Offset:]
		gapEnd := int64(len(content))
		if i+1 < len(recs) {
			gapEnd = recs[i+1].Offset
		}
		rest := ""
		if k := strings.IndexByte(line, '\n'); k >= 0 {
			line, rest = line[:k], content[rec.Offset+int64(k)+1:gapEnd]
		}
		if !isBlank([]byte(rest)) {
			t.Fatalf("record %d at %d: non-blank bytes %.80q before the next record", i, rec.Offset, rest)
		}
		want[i] = clipRaw(line)
	}
	return want
}

// openRawFile opens a file source over content with extra options.
func openRawFile(t *testing.T, content, format string, opts map[string]string) (Source, string) {
	t.Helper()
	dir := t.TempDir()
	name := "in." + format
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	o := map[string]string{"connector": "file", "path": name, "format": format}
	for k, v := range opts {
		o[k] = v
	}
	src, err := OpenSource(SourceConfig{Name: "f", Connector: "file", Schema: fileSchema, TimeCol: -1, Options: o}, Env{BaseDir: dir})
	if err != nil {
		t.Fatalf("open %s source (%v): %v", format, opts, err)
	}
	return src, filepath.Join(dir, name)
}

// checkFileRaw reads src sequentially and checks RawAt for every record
// against the bytes computed from content, and against Raw for malformed
// records; then again per partition for a few partition counts, and that
// offsets that are not record starts are refused.
func checkFileRaw(t *testing.T, src Source, content, format string, rng *rand.Rand) (records, malformed int) {
	t.Helper()
	rs, ok := src.(RawSource)
	if !ok {
		t.Fatalf("%T is not a RawSource", src)
	}
	r, err := src.Open(0, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, r, rng)
	r.Close()
	var want []string
	if format == "csv" {
		want = expectedCSVRaw(t, content, recs)
	} else {
		want = expectedJSONLRaw(t, content, recs)
	}
	byOffset := make(map[int64]string, len(recs))
	for i, rec := range recs {
		got, err := rs.RawAt(0, 1, rec.Offset)
		if err != nil {
			t.Fatalf("%s record %d: RawAt(0, 1, %d): %v", format, i, rec.Offset, err)
		}
		if string(got) != want[i] {
			t.Fatalf("%s record %d: RawAt(0, 1, %d) = %.200q, want %.200q", format, i, rec.Offset, got, want[i])
		}
		if rec.Err != nil {
			malformed++
			if !bytes.Equal(got, rec.Raw) {
				t.Fatalf("%s record %d (%v): RawAt(0, 1, %d) = %.200q, Raw %.200q", format, i, rec.Err, rec.Offset, got, rec.Raw)
			}
		}
		byOffset[rec.Offset] = want[i]
	}
	// Partitioned: the same bytes through every partition's offsets; an
	// offset of another partition is refused.
	for _, n := range []int{2, 3, 7} {
		seen := 0
		for p := 0; p < n; p++ {
			r, err := src.Open(p, n, 0)
			if err != nil {
				t.Fatal(err)
			}
			part := readAll(t, r, rng)
			r.Close()
			for _, rec := range part {
				got, err := rs.RawAt(p, n, rec.Offset)
				if err != nil {
					t.Fatalf("%s: RawAt(%d, %d, %d): %v", format, p, n, rec.Offset, err)
				}
				if w, ok := byOffset[rec.Offset]; !ok || string(got) != w {
					t.Fatalf("%s: RawAt(%d, %d, %d) = %.200q, want %.200q (known %v)", format, p, n, rec.Offset, got, w, ok)
				}
				if _, err := rs.RawAt((p+1)%n, n, rec.Offset); err == nil {
					t.Fatalf("%s: RawAt(%d, %d, %d) of another partition's record succeeded", format, (p+1)%n, n, rec.Offset)
				}
				seen++
			}
		}
		if seen != len(recs) {
			t.Fatalf("%s: %d partitions read %d records, want %d", format, n, seen, len(recs))
		}
	}
	// Not record starts: mid-line offsets, the end of the file, bad
	// partitions.
	for _, rec := range recs {
		if rec.Offset+1 < int64(len(content)) && content[rec.Offset] != '\n' {
			if _, err := rs.RawAt(0, 1, rec.Offset+1); err == nil {
				t.Fatalf("%s: RawAt(0, 1, %d), one past a record start, succeeded", format, rec.Offset+1)
			}
			break
		}
	}
	if _, err := rs.RawAt(0, 1, int64(len(content))); err == nil {
		t.Fatalf("%s: RawAt at the end of the file succeeded", format)
	}
	if _, err := rs.RawAt(1, 1, 0); err == nil {
		t.Fatalf("%s: RawAt of partition 1 of 1 succeeded", format)
	}
	return len(recs), malformed
}

func TestRawAtFileCSV(t *testing.T) {
	rng := rand.New(rand.NewSource(rawSeed(t)))
	dialects := []rawDialect{
		{',', '"', '"', true},
		{';', '"', '\\', true},
		{'\t', '\'', '\'', true},
		{',', '"', '"', false},
		{'|', '"', '\\', false},
	}
	records, malformed := 0, 0
	for iter := 0; iter < 20; iter++ {
		d := dialects[iter%len(dialects)]
		content := rawCSV(rng, d, 50+rng.Intn(400))
		src, _ := openRawFile(t, content, "csv", d.options())
		nr, nm := checkFileRaw(t, src, content, "csv", rng)
		records += nr
		malformed += nm
		if d.header && nr > 0 {
			// The first record starts right after the header line.
			r, _ := src.Open(0, 1, 0)
			first, _, _ := r.Read(nil, 1)
			r.Close()
			if h := strings.IndexByte(content, '\n') + 1; first[0].Offset != int64(h) {
				t.Fatalf("first record at %d, header ends at %d", first[0].Offset, h)
			}
		}
	}
	// The range tests' files: framing hazards, sometimes an oversize record.
	for iter := 0; iter < 6; iter++ {
		content := rangeCSV(rng, 100+rng.Intn(300))
		src, _ := openRawFile(t, content, "csv", nil)
		nr, nm := checkFileRaw(t, src, content, "csv", rng)
		records += nr
		malformed += nm
	}
	if malformed == 0 || malformed == records {
		t.Fatalf("%d records, %d malformed: the files should mix both", records, malformed)
	}
	t.Logf("%d records, %d malformed", records, malformed)
}

func TestRawAtFileJSONL(t *testing.T) {
	rng := rand.New(rand.NewSource(rawSeed(t)))
	records, malformed := 0, 0
	for iter := 0; iter < 20; iter++ {
		content := rangeJSONL(rng, 50+rng.Intn(400))
		src, _ := openRawFile(t, content, "jsonl", nil)
		nr, nm := checkFileRaw(t, src, content, "jsonl", rng)
		records += nr
		malformed += nm
	}
	if malformed == 0 || malformed == records {
		t.Fatalf("%d records, %d malformed: the files should mix both", records, malformed)
	}
	t.Logf("%d records, %d malformed", records, malformed)
}

// TestRawAtFileEdgeCases: a record at the very start of a headerless file,
// a file without a final newline, an oversize record (clipped like Raw), a
// blank JSON line (no record) and a CSV header with CRLF.
func TestRawAtFileEdgeCases(t *testing.T) {
	src, _ := openRawFile(t, "1,a,1,2024-01-01\r\n2,\"x\r\ny\",,2024-01-02", "csv", map[string]string{"header": "false"})
	rs := src.(RawSource)
	for off, want := range map[int64]string{0: "1,a,1,2024-01-01\r", 18: "2,\"x\r\ny\",,2024-01-02"} {
		if got, err := rs.RawAt(0, 1, off); err != nil || string(got) != want {
			t.Fatalf("RawAt(0, 1, %d) = %q, %v; want %q", off, got, err, want)
		}
	}
	big := "id,note,temp,ts\r\n1," + strings.Repeat("z", MaxRecordBytes+5) + ",1,2024-01-01\n2,b,2,2024-01-01\n"
	src, _ = openRawFile(t, big, "csv", nil)
	checkFileRaw(t, src, big, "csv", rand.New(rand.NewSource(1)))
	if got, err := src.(RawSource).RawAt(0, 1, 17); err != nil || len(got) != maxRawBytes || !strings.HasPrefix(string(got), "1,zzz") {
		t.Fatalf("oversize record: %d bytes, %v", len(got), err)
	}
	src, _ = openRawFile(t, "{\"id\": 1}\n\n  \n{\"id\": 2}", "jsonl", nil)
	rs = src.(RawSource)
	if got, err := rs.RawAt(0, 1, 14); err != nil || string(got) != `{"id": 2}` {
		t.Fatalf("RawAt(0, 1, 14) = %q, %v", got, err)
	}
	for _, off := range []int64{10, 11} {
		if got, err := rs.RawAt(0, 1, off); err == nil {
			t.Fatalf("RawAt(0, 1, %d) of a blank line = %q, want an error", off, got)
		}
	}
}

// TestRawAtFileConcurrent calls RawAt on one source from several
// goroutines at once (the first calls race to open the cached handle).
func TestRawAtFileConcurrent(t *testing.T) {
	rng := rand.New(rand.NewSource(rawSeed(t)))
	d := rawDialect{',', '"', '"', true}
	content := rawCSV(rng, d, 2000)
	src, _ := openRawFile(t, content, "csv", d.options())
	r, _ := src.Open(0, 1, 0)
	recs := readAll(t, r, rng)
	r.Close()
	want := expectedCSVRaw(t, content, recs)
	rs := src.(RawSource)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := 0; k < len(recs); k++ {
				i := (k*7 + g*131) % len(recs)
				got, err := rs.RawAt(0, 1, recs[i].Offset)
				if err == nil && string(got) != want[i] {
					err = fmt.Errorf("RawAt(0, 1, %d) = %q, want %q", recs[i].Offset, got, want[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestRawAtFileFast: RawAt reads a window at the offset, not a scan from the
// partition start, so 10k calls on a 1M-record file take well under a
// second.
func TestRawAtFileFast(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 1M-record file")
	}
	const records = 1_000_000
	var b bytes.Buffer
	b.WriteString("id,note,temp,ts\n")
	offsets := make([]int64, records)
	lines := make([]string, records)
	for i := 0; i < records; i++ {
		offsets[i] = int64(b.Len())
		line := fmt.Sprintf("%d,n%d,1.5,2024-01-01", i, i%97)
		if i%10 == 0 {
			line = fmt.Sprintf("%d,\"two\nlines, %d\",,2024-01-01", i, i)
		}
		lines[i] = line
		b.WriteString(line)
		b.WriteByte('\n')
	}
	src, _ := openRawFile(t, b.String(), "csv", nil)
	rs := src.(RawSource)
	rng := rand.New(rand.NewSource(rawSeed(t)))
	const calls = 10_000
	start := time.Now()
	for k := 0; k < calls; k++ {
		i := rng.Intn(records)
		got, err := rs.RawAt(0, 1, offsets[i])
		if err != nil || string(got) != lines[i] {
			t.Fatalf("RawAt(0, 1, %d) = %q, %v; want %q", offsets[i], got, err, lines[i])
		}
	}
	el := time.Since(start)
	// A figure for the notes, not an assertion (speed is measured, not
	// asserted, in tests).
	t.Logf("%d RawAt calls on a %d-record file (%d bytes): %v", calls, records, b.Len(), el)
}

// copyTextLine renders a row as COPY text independently of AppendCopyText.
func copyTextLine(row datum.Row) string {
	r := strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`, "\b", `\b`, "\f", `\f`, "\v", `\v`)
	parts := make([]string, len(row))
	for i, d := range row {
		if d.IsNull() {
			parts[i] = `\N`
		} else {
			parts[i] = r.Replace(d.Format())
		}
	}
	return strings.Join(parts, "\t")
}

func TestRawAtLog(t *testing.T) {
	rng := rand.New(rand.NewSource(rawSeed(t)))
	st := openStore(t, vfs.NewMem())
	defer st.Close()
	hub, err := NewLogHub(st)
	if err != nil {
		t.Fatal(err)
	}
	const id = 11
	pieces := []string{"a", "\t", "\n", "\r", `\`, `\N`, " ", "é", ",", `"`, "\b"}
	var rows []datum.Row
	for i := 0; i < 300; i++ {
		var v datum.Datum
		switch rng.Intn(5) {
		case 0:
			v = datum.Null
		case 1:
			v = datum.NewString("")
		default:
			var s strings.Builder
			for k := rng.Intn(8); k > 0; k-- {
				s.WriteString(pieces[rng.Intn(len(pieces))])
			}
			v = datum.NewString(s.String())
		}
		rows = append(rows, datum.Row{datum.NewInt(rng.Int63n(1<<40) - 1<<39), v})
	}
	if _, err := hub.Append(id, rows[:100]); err != nil {
		t.Fatal(err)
	}
	if err := hub.AppendWatermark(id, 12345); err != nil {
		t.Fatal(err)
	}
	// A record that does not match the schema (three columns).
	b := st.NewBatch()
	bad, commit := hub.AppendBatch(b, id, []datum.Row{{datum.NewInt(1), datum.NewString("x"), datum.NewInt(2)}})
	if err := st.Commit(b); err != nil {
		t.Fatal(err)
	}
	commit()
	if _, err := hub.Append(id, rows[100:]); err != nil {
		t.Fatal(err)
	}
	src := openLog(t, st, hub, id)
	rs, ok := src.(RawSource)
	if !ok {
		t.Fatalf("%T is not a RawSource", src)
	}
	r, _ := src.Open(0, 1, 0)
	var recs []Record
	for {
		n := len(recs)
		if recs, _, err = r.Read(recs, 1+rng.Intn(50)); err != nil {
			t.Fatal(err)
		}
		if len(recs) == n {
			break
		}
	}
	r.Close()
	if len(recs) != len(rows)+2 {
		t.Fatalf("%d records, want %d", len(recs), len(rows)+2)
	}
	k, sawBad := 0, false
	for _, rec := range recs {
		got, err := rs.RawAt(0, 1, rec.Offset)
		switch {
		case rec.IsWatermark:
			if err == nil {
				t.Fatalf("RawAt of watermark %d = %q, want an error", rec.Offset, got)
			}
			continue
		case rec.Err != nil:
			if rec.Offset != bad || err != nil || !bytes.Equal(got, rec.Raw) {
				t.Fatalf("malformed record %d: RawAt = %q, %v; Raw %q", rec.Offset, got, err, rec.Raw)
			}
			sawBad = true
			continue
		}
		if err != nil {
			t.Fatalf("RawAt(0, 1, %d): %v", rec.Offset, err)
		}
		if want := copyTextLine(rows[k]); string(got) != want {
			t.Fatalf("RawAt(0, 1, %d) = %q, want %q", rec.Offset, got, want)
		}
		// It is one line of COPY text that decodes to the row.
		d := NewCopyTextDecoder(bytes.NewReader(got), logSchema, CopyTextOptions{})
		back, ok := d.Next()
		if !ok || back.Err != nil || fmtRow(back.Row) != fmtRow(rows[k]) {
			t.Fatalf("RawAt(0, 1, %d) = %q decodes to %v %v, want %s", rec.Offset, got, fmtRow(back.Row), back.Err, fmtRow(rows[k]))
		}
		k++
	}
	if !sawBad {
		t.Fatal("no malformed record read")
	}
	end := hub.Len(id)
	for _, c := range []struct {
		p   int
		off int64
	}{{0, end}, {0, -1}, {1, 0}} {
		if got, err := rs.RawAt(c.p, 1, c.off); err == nil {
			t.Fatalf("RawAt(%d, 1, %d) = %q, want an error", c.p, c.off, got)
		}
	}
	if err := hub.Truncate(id, 50); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.RawAt(0, 1, 10); err == nil || pgerrCode(err) != "55000" {
		t.Fatalf("RawAt of a truncated record: %v", err)
	}
	if _, err := rs.RawAt(0, 1, 60); err != nil {
		t.Fatalf("RawAt after truncation: %v", err)
	}
}

// csvLine renders a row as a CSV line independently of AppendCSV: text
// forms joined by commas, NULL empty, a value quoted when it is empty or
// holds a comma, a quote, CR or LF (or is \.).
func csvLine(row datum.Row) string {
	parts := make([]string, len(row))
	for i, d := range row {
		if d.IsNull() {
			continue
		}
		s := d.Format()
		if s == "" || s == `\.` || strings.ContainsAny(s, ",\"\r\n") {
			s = `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

// checkGeneratedRaw checks RawAt for every record of partitions p of n
// against csvLine, that the line decodes back to the row, and that another
// partition's offsets are refused.
func checkGeneratedRaw(t *testing.T, what string, src Source, schema []Column, n int, rng *rand.Rand) int {
	t.Helper()
	rs, ok := src.(RawSource)
	if !ok {
		t.Fatalf("%s: %T is not a RawSource", what, src)
	}
	total := 0
	for p := 0; p < n; p++ {
		r, err := src.Open(p, n, 0)
		if err != nil {
			t.Fatal(err)
		}
		recs := readAll(t, r, rng)
		r.Close()
		for _, rec := range recs {
			got, err := rs.RawAt(p, n, rec.Offset)
			if err != nil {
				t.Fatalf("%s: RawAt(%d, %d, %d): %v", what, p, n, rec.Offset, err)
			}
			if want := csvLine(rec.Row); string(got) != want {
				t.Fatalf("%s: RawAt(%d, %d, %d) = %q, want %q", what, p, n, rec.Offset, got, want)
			}
			back, ok := NewCSVDecoder(bytes.NewReader(got), schema, CSVOptions{}).Next()
			if !ok || back.Err != nil || fmtRow(back.Row) != fmtRow(rec.Row) {
				t.Fatalf("%s: RawAt(%d, %d, %d) = %q decodes to %s %v, want %s", what, p, n, rec.Offset, got, fmtRow(back.Row), back.Err, fmtRow(rec.Row))
			}
			if n > 1 {
				if _, err := rs.RawAt((p+1)%n, n, rec.Offset); err == nil {
					t.Fatalf("%s: RawAt(%d, %d, %d) of another partition's record succeeded", what, (p+1)%n, n, rec.Offset)
				}
			}
		}
		total += len(recs)
	}
	return total
}

func TestRawAtDatagen(t *testing.T) {
	rng := rand.New(rand.NewSource(rawSeed(t)))
	schema := parseSchema(t, []string{"device VARCHAR NOT NULL", "temp DOUBLE PRECISION", "rpm BIGINT",
		"note TEXT", "doc JSON", "id UUID", "flag BOOLEAN", "d DATE", "ts TIMESTAMP NOT NULL"})
	for iter := 0; iter < 6; iter++ {
		rows := 1 + rng.Intn(800)
		opts := map[string]string{"rows": strconv.Itoa(rows), "seed": strconv.Itoa(rng.Intn(1000) - 500),
			"fields.device.cardinality": "30", "fields.temp.null_rate": "0.2", "fields.note.null_rate": "0.3",
			"fields.note.length": strconv.Itoa(rng.Intn(4)), "fields.rpm.min": "-50", "fields.rpm.max": "50",
			"fields.ts.max_disorder": "2 seconds", "fields.doc.null_rate": "0.1"}
		if rng.Intn(2) == 0 {
			opts["event_rate"] = []string{"1", "333.5", "7", "1000000"}[rng.Intn(4)]
		}
		src := openDatagenT(t, schema, opts, nil)
		n := 1 + rng.Intn(4)
		if got := checkGeneratedRaw(t, "datagen", src, schema, n, rng); got != rows {
			t.Fatalf("datagen: %d records, want %d", got, rows)
		}
		rs := src.(RawSource)
		for _, off := range []int64{-1, int64(rows), int64(rows + n)} {
			if got, err := rs.RawAt(0, 1, off); err == nil {
				t.Fatalf("datagen: RawAt(0, 1, %d) of %d rows = %q, want an error", off, rows, got)
			}
		}
	}
	// Unbounded: any row of the partition.
	src := openDatagenT(t, readingsSchema, map[string]string{"seed": "7"}, nil)
	r, _ := src.Open(1, 3, 3000)
	recs, _, _ := r.Read(nil, 5)
	for _, rec := range recs {
		got, err := src.(RawSource).RawAt(1, 3, rec.Offset)
		if err != nil || string(got) != csvLine(rec.Row) {
			t.Fatalf("unbounded datagen: RawAt(1, 3, %d) = %q, %v; want %q", rec.Offset, got, err, csvLine(rec.Row))
		}
	}
}

func TestRawAtNexmark(t *testing.T) {
	rng := rand.New(rand.NewSource(rawSeed(t)))
	for _, table := range []string{"bid", "auction", "person"} {
		events := 500 + rng.Intn(3000)
		opts := map[string]string{"events": strconv.Itoa(events), "seed": strconv.Itoa(rng.Intn(100))}
		src := openNex(t, table, nil, opts, nil)
		schema := parseSchema(t, nexSchemas[table])
		n := 1 + rng.Intn(4)
		total := checkGeneratedRaw(t, "nexmark "+table, src, schema, n, rng)
		if total == 0 {
			t.Fatalf("nexmark %s: no events", table)
		}
		rs := src.(RawSource)
		// Another table's event, and events past the end, are refused.
		other := map[string]int64{"bid": 0, "auction": 10, "person": 3}[table]
		for _, off := range []int64{other, int64(events), -1} {
			if got, err := rs.RawAt(0, 1, off); err == nil {
				t.Fatalf("nexmark %s: RawAt(0, 1, %d) = %q, want an error", table, off, got)
			}
		}
	}
	// A subset of the columns, in another order.
	cols := []string{"price BIGINT", "channel VARCHAR", "auction BIGINT"}
	checkGeneratedRaw(t, "nexmark bid subset", openNex(t, "bid", cols, map[string]string{"events": "400"}, nil), parseSchema(t, cols), 2, rng)
}
