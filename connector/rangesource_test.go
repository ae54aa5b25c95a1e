package connector

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rangeSeed returns the seed of a randomized RangeSource test: the
// WEIR_RANGE_SEED environment variable when set (to re-run a failure), else
// the clock. It is logged, so a failing run prints it.
func rangeSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("WEIR_RANGE_SEED"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("WEIR_RANGE_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (re-run with WEIR_RANGE_SEED=%d)", seed, seed)
	return seed
}

// setMinSplitRange sets minSplitRangeBytes for the rest of the test.
func setMinSplitRange(t *testing.T, v int64) {
	old := minSplitRangeBytes
	minSplitRangeBytes = v
	t.Cleanup(func() { minSplitRangeBytes = old })
}

// rangeCSV writes a CSV file (with a header) full of framing hazards:
// quoted fields with delimiters, escaped quotes, newlines and CRLFs;
// malformed records (bad values, wrong field counts, invalid UTF-8, NUL,
// empty lines), a rare stray quote that swallows the following lines into
// one record, optionally an oversize record, a missing final newline and an
// unterminated quote at the end.
func rangeCSV(rng *rand.Rand, rows int) string {
	var b strings.Builder
	b.WriteString("id,note,temp,ts\n")
	bigAt := -1
	if rng.Intn(4) == 0 {
		bigAt = rng.Intn(rows + 1)
	}
	for i := 0; i < rows; i++ {
		eol := "\n"
		if rng.Intn(15) == 0 {
			eol = "\r\n"
		}
		ts := time.Unix(1704067200+int64(i), 0).UTC().Format("2006-01-02 15:04:05")
		if i == bigAt {
			if rng.Intn(2) == 0 {
				fmt.Fprintf(&b, "%d,%s,1,%s%s", i, strings.Repeat("z", MaxRecordBytes+rng.Intn(100)), ts, eol)
			} else {
				// Quoted, spanning many lines: cut at its first newline.
				fmt.Fprintf(&b, "%d,\"%s\",1,%s%s", i, strings.Repeat(strings.Repeat("w", 99)+"\n", MaxRecordBytes/100+5), ts, eol)
			}
			continue
		}
		switch rng.Intn(40) {
		case 0:
			fmt.Fprintf(&b, "notanint,x,1,%s%s", ts, eol)
			continue
		case 1:
			fmt.Fprintf(&b, "%d,too,many,fields,here%s", i, eol)
			continue
		case 2:
			fmt.Fprintf(&b, "%d,x,1,2024-99-01%s", i, eol)
			continue
		case 3:
			fmt.Fprintf(&b, "%d,bad\xffutf8,1,%s%s", i, ts, eol)
			continue
		case 4:
			fmt.Fprintf(&b, "%d,nul\x00byte,1,%s%s", i, ts, eol)
			continue
		case 5:
			b.WriteString(eol)
			continue
		case 6:
			fmt.Fprintf(&b, "%d,\"quoted\n\xfe invalid\",1,%s%s", i, ts, eol)
			continue
		case 7:
			if rng.Intn(4) == 0 {
				fmt.Fprintf(&b, "%d,stray\"quote,1,%s%s", i, ts, eol)
				continue
			}
		}
		var note string
		switch rng.Intn(9) {
		case 0:
			note = "" // NULL
		case 1:
			note = `""`
		case 2:
			note = fmt.Sprintf("\"multi\nline %d, with \"\"quotes\"\"\"", i)
		case 3:
			note = fmt.Sprintf("\"a,b\n\n%d\"", i)
		case 4:
			note = fmt.Sprintf("\"crlf\r\ninside,%d\"", i)
		case 5:
			note = `"""",` // a quote, then an empty temp field: too many fields
		case 6:
			note = `"x""y"`
		default:
			note = fmt.Sprintf("plain%d", rng.Intn(1000))
		}
		temp := ""
		if rng.Intn(5) > 0 {
			temp = fmt.Sprintf("%.2f", rng.Float64()*100)
		}
		fmt.Fprintf(&b, "%d,%s,%s,%s%s", i, note, temp, ts, eol)
	}
	s := b.String()
	switch rng.Intn(5) {
	case 0:
		s = strings.TrimSuffix(s, "\n")
	case 1:
		s += "99999,\"open quote\nto the end,1\n2,x,1,2024-01-01\n"
	}
	return s
}

// rangeJSONL writes a JSON Lines file with blank and whitespace-only lines,
// malformed lines, invalid UTF-8, NUL, CRLFs, optionally an oversize line
// and a missing final newline.
func rangeJSONL(rng *rand.Rand, rows int) string {
	var b strings.Builder
	bigAt := -1
	if rng.Intn(4) == 0 {
		bigAt = rng.Intn(rows + 1)
	}
	for i := 0; i < rows; i++ {
		eol := "\n"
		if rng.Intn(15) == 0 {
			eol = "\r\n"
		}
		if i == bigAt {
			fmt.Fprintf(&b, "{\"id\": %d, \"note\": \"%s\"}%s", i, strings.Repeat("z", MaxRecordBytes+rng.Intn(100)), eol)
			continue
		}
		switch rng.Intn(30) {
		case 0:
			b.WriteString("{\"id\": \"broken" + eol)
			continue
		case 1:
			b.WriteString(eol)
			continue
		case 2:
			b.WriteString(" \t " + eol)
			continue
		case 3:
			fmt.Fprintf(&b, "{\"id\": %d, \"note\": \"bad\xff\"}%s", i, eol)
			continue
		case 4:
			fmt.Fprintf(&b, "{\"id\": %d, \"note\": \"nul\x00\"}%s", i, eol)
			continue
		case 5:
			fmt.Fprintf(&b, "{\"id\": %d, \"temp\": \"warm\"}%s", i, eol)
			continue
		}
		if rng.Intn(8) == 0 {
			b.WriteString("  ") // leading blanks before a record
		}
		fmt.Fprintf(&b, "{\"id\": %d, \"note\": %q, \"temp\": %.3f, \"ts\": %d}%s", i,
			fmt.Sprintf("n\t%d\n,\"q\"\\", rng.Intn(50)), rng.Float64(), 1704067200000+int64(i), eol)
	}
	s := b.String()
	if rng.Intn(4) == 0 {
		s = strings.TrimSuffix(s, "\n")
	}
	return s
}

// rangeRead reads partition p's records in [from, end) through OpenRange
// the way dynamic rebalancing does: read a random number of records, stop,
// split the rest at SplitPoint from the committed NextOffset, and recurse
// into both halves (depth levels at most). It checks the RangeSource
// contract along the way and returns the records in order. minBytes is the
// source's minimum split size (0: none).
func rangeRead(t *testing.T, rs RangeSource, p, n int, from, end int64, depth int, minBytes int64, rng *rand.Rand) []Record {
	t.Helper()
	r, err := rs.OpenRange(p, n, from, end)
	if err != nil {
		t.Fatalf("OpenRange(%d, %d, %d, %d): %v", p, n, from, end, err)
	}
	var out []Record
	eof := false
	if depth > 0 {
		k := rng.Intn(12)
		for len(out) < k && !eof {
			if out, eof, err = r.Read(out, 1+rng.Intn(k-len(out))); err != nil {
				t.Fatal(err)
			}
		}
	}
	finish := func(r Reader, from int64) []Record {
		rest := readAll(t, r, rng)
		if got := r.NextOffset(); got != end {
			t.Fatalf("range [%d, %d) of %d/%d: NextOffset %d at eof, want %d", from, end, p, n, got, end)
		}
		r.Close()
		return rest
	}
	if depth == 0 || eof {
		return append(out, finish(r, from)...)
	}
	cut := r.NextOffset()
	r.Close()
	if cut < from || cut > end {
		t.Fatalf("range [%d, %d) of %d/%d: NextOffset %d outside", from, end, p, n, cut)
	}
	mid, ok, err := rs.SplitPoint(p, n, cut, end)
	if err != nil {
		t.Fatalf("SplitPoint(%d, %d, %d, %d): %v", p, n, cut, end, err)
	}
	if !ok {
		r, err := rs.OpenRange(p, n, cut, end)
		if err != nil {
			t.Fatal(err)
		}
		rest := finish(r, cut)
		if len(rest) >= 2 && end-cut >= minBytes {
			t.Fatalf("SplitPoint(%d, %d, %d, %d) refused a range of %d records", p, n, cut, end, len(rest))
		}
		return append(out, rest...)
	}
	if mid <= cut || mid >= end {
		t.Fatalf("SplitPoint(%d, %d, %d, %d) = %d, outside (from, end)", p, n, cut, end, mid)
	}
	left := rangeRead(t, rs, p, n, cut, mid, depth-1, minBytes, rng)
	right := rangeRead(t, rs, p, n, mid, end, depth-1, minBytes, rng)
	for _, rec := range left {
		if rec.Offset < cut || rec.Offset >= mid {
			t.Fatalf("range [%d, %d) returned offset %d", cut, mid, rec.Offset)
		}
	}
	if len(right) == 0 || right[0].Offset != mid {
		t.Fatalf("SplitPoint %d of [%d, %d) is not a record start", mid, cut, end)
	}
	for _, rec := range right {
		if rec.Offset >= end {
			t.Fatalf("range [%d, %d) returned offset %d", mid, end, rec.Offset)
		}
	}
	return append(append(out, left...), right...)
}

// checkRangeSource checks src's extents, OpenRange over whole extents and
// random recursive splits against Open, for n partitions. total is the end
// of the last extent (file size, rows, events); tiles says the extents are
// consecutive (files; a generator's partitions interleave).
func checkRangeSource(t *testing.T, src Source, n int, total int64, tiles bool, minBytes int64, trials int, rng *rand.Rand) {
	t.Helper()
	rs, ok := src.(RangeSource)
	if !ok {
		t.Fatalf("%T is not a RangeSource", src)
	}
	prevEnd := int64(-1)
	for p := 0; p < n; p++ {
		start, end, err := rs.Extent(p, n)
		if err != nil {
			t.Fatal(err)
		}
		if start > end || (tiles && prevEnd >= 0 && start != prevEnd) {
			t.Fatalf("extent %d of %d = [%d, %d) after %d", p, n, start, end, prevEnd)
		}
		prevEnd = end
		if p == n-1 && end != total {
			t.Fatalf("last extent ends at %d, want %d", end, total)
		}
		r, err := rs.Open(p, n, 0)
		if err != nil {
			t.Fatal(err)
		}
		full := readAll(t, r, rng)
		r.Close()
		want := recordsText(full)
		for _, rec := range full {
			if rec.Offset < start || rec.Offset >= end {
				t.Fatalf("partition %d of %d: offset %d outside its extent [%d, %d)", p, n, rec.Offset, start, end)
			}
		}
		r, err = rs.OpenRange(p, n, start, end)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, r, rng); recordsText(got) != want {
			t.Fatalf("partition %d of %d: OpenRange over the extent differs from Open:\n%s\nvs\n%s", p, n, recordsText(got), want)
		}
		if r.NextOffset() != end {
			t.Fatalf("partition %d of %d: NextOffset %d at eof, want %d", p, n, r.NextOffset(), end)
		}
		r.Close()
		for k := 0; k < trials; k++ {
			got := rangeRead(t, rs, p, n, start, end, 1+rng.Intn(4), minBytes, rng)
			if g := recordsText(got); g != want {
				t.Fatalf("partition %d of %d: split reads differ from Open: %s", p, n, firstDiff(g, want))
			}
		}
	}
}

// firstDiff describes where two record listings first differ.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) && i < len(bl); i++ {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d: got %.200q, want %.200q", i, al[i], bl[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(al), len(bl))
}

func TestFileRangeSourceSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(rangeSeed(t)))
	for iter := 0; iter < 12; iter++ {
		format := "csv"
		var content string
		if iter%2 == 0 {
			content = rangeCSV(rng, 50+rng.Intn(1500))
		} else {
			format = "jsonl"
			content = rangeJSONL(rng, 50+rng.Intn(1500))
		}
		minB := []int64{1, 2, 200, MinSplitRangeBytes}[rng.Intn(4)]
		setMinSplitRange(t, minB)
		dir := writeTemp(t, "in."+format, content)
		src := openFile(t, dir, "in."+format, format)
		// The whole file, sequentially, is what the partitions add up to.
		r, _ := src.Open(0, 1, 0)
		whole := recordsText(readAll(t, r, rng))
		r.Close()
		n := 1 + rng.Intn(8)
		var got []Record
		for p := 0; p < n; p++ {
			r, err := src.Open(p, n, 0)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, readAll(t, r, rng)...)
			r.Close()
		}
		if recordsText(got) != whole {
			t.Fatalf("%s: %d partitions differ from one", format, n)
		}
		t.Logf("%s: %d bytes, %d partitions, min split %d", format, len(content), n, minB)
		checkRangeSource(t, src, n, int64(len(content)), true, minB, 3, rng)
		// Splitting a remainder that spans partitions is not allowed, but
		// every partition's split pieces together are the whole file.
		var all []Record
		rs := src.(RangeSource)
		for p := 0; p < n; p++ {
			start, end, _ := rs.Extent(p, n)
			all = append(all, rangeRead(t, rs, p, n, start, end, 4, minB, rng)...)
		}
		if g := recordsText(all); g != whole {
			t.Fatalf("%s: split partitions differ from a sequential read: %s", format, firstDiff(g, whole))
		}
	}
}

// TestFileRangeSourceSplitAtEveryPosition splits at every committed position
// of a small hazardous CSV file (and at every pair of positions), so every
// record start is a "from" at least once.
func TestFileRangeSourceSplitAtEveryPosition(t *testing.T) {
	rng := rand.New(rand.NewSource(rangeSeed(t)))
	setMinSplitRange(t, 1)
	for _, format := range []string{"csv", "jsonl"} {
		var content string
		if format == "csv" {
			content = rangeCSV(rng, 120)
		} else {
			content = rangeJSONL(rng, 120)
		}
		if len(content) > 1<<20 {
			continue // no oversize record here: quadratic
		}
		dir := writeTemp(t, "in."+format, content)
		src := openFile(t, dir, "in."+format, format)
		rs := src.(RangeSource)
		start, end, err := rs.Extent(0, 1)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := rs.Open(0, 1, 0)
		all := readAll(t, r, rng)
		r.Close()
		starts := []int64{start}
		for _, rec := range all {
			if rec.Offset != starts[len(starts)-1] {
				starts = append(starts, rec.Offset)
			}
		}
		suffix := func(from int64) []Record {
			var recs []Record
			for _, rec := range all {
				if rec.Offset >= from {
					recs = append(recs, rec)
				}
			}
			return recs
		}
		for _, from := range starts {
			mid, ok, err := rs.SplitPoint(0, 1, from, end)
			if err != nil {
				t.Fatal(err)
			}
			rest := suffix(from)
			want := recordsText(rest)
			if !ok {
				if len(rest) >= 2 {
					t.Fatalf("%s: SplitPoint(%d, %d) refused %d records", format, from, end, len(rest))
				}
				continue
			}
			a, _ := rs.OpenRange(0, 1, from, mid)
			b, _ := rs.OpenRange(0, 1, mid, end)
			got := append(readAll(t, a, rng), readAll(t, b, rng)...)
			if a.NextOffset() != mid || b.NextOffset() != end {
				t.Fatalf("%s: NextOffset %d, %d at eof, want %d, %d", format, a.NextOffset(), b.NextOffset(), mid, end)
			}
			a.Close()
			b.Close()
			if g := recordsText(got); g != want {
				t.Fatalf("%s: split of [%d, %d) at %d: %s", format, from, end, mid, firstDiff(g, want))
			}
		}
	}
}

func TestDatagenRangeSourceSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(rangeSeed(t)))
	for iter := 0; iter < 20; iter++ {
		rows := rng.Intn(3000)
		if iter == 0 {
			rows = 0
		}
		opts := map[string]string{"rows": strconv.Itoa(rows), "seed": strconv.Itoa(rng.Intn(1000) - 500),
			"fields.device.cardinality": "50", "fields.temp.null_rate": "0.2",
			"fields.ts.max_disorder": "3 seconds", "fields.rpm.kind": "sequence"}
		if rng.Intn(2) == 0 {
			opts["event_rate"] = []string{"1", "333.5", "7", "1000000"}[rng.Intn(4)]
		}
		src := openDatagenT(t, readingsSchema, opts, nil)
		r, _ := src.Open(0, 1, 0)
		whole := readAll(t, r, rng)
		if len(whole) != rows {
			t.Fatalf("%d rows, want %d", len(whole), rows)
		}
		n := 1 + rng.Intn(7)
		checkRangeSource(t, src, n, int64(rows), false, 0, 3, rng)
		// Every record equals the single reader's record at its offset.
		rs := src.(RangeSource)
		for p := 0; p < n; p++ {
			start, end, _ := rs.Extent(p, n)
			for _, rec := range rangeRead(t, rs, p, n, start, end, 4, 0, rng) {
				if rec.Offset%int64(n) != int64(p) || fmtRecord(rec) != fmtRecord(whole[rec.Offset]) {
					t.Fatalf("partition %d of %d: %s, want %s", p, n, fmtRecord(rec), fmtRecord(whole[rec.Offset]))
				}
			}
		}
	}
}

func TestNexmarkRangeSourceSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(rangeSeed(t)))
	for iter := 0; iter < 12; iter++ {
		table := []string{"bid", "auction", "person"}[iter%3]
		events := rng.Intn(6000)
		src := openNex(t, table, nil, map[string]string{"events": strconv.Itoa(events), "seed": strconv.Itoa(rng.Intn(100))}, nil)
		r, _ := src.Open(0, 1, 0)
		whole := map[int64]string{}
		for _, rec := range readAll(t, r, rng) {
			whole[rec.Offset] = fmtRecord(rec)
		}
		n := 1 + rng.Intn(6)
		checkRangeSource(t, src, n, int64(events), false, 0, 3, rng)
		rs := src.(RangeSource)
		seen := 0
		for p := 0; p < n; p++ {
			start, end, _ := rs.Extent(p, n)
			for _, rec := range rangeRead(t, rs, p, n, start, end, 4, 0, rng) {
				if fmtRecord(rec) != whole[rec.Offset] {
					t.Fatalf("%s partition %d of %d: %s, want %s", table, p, n, fmtRecord(rec), whole[rec.Offset])
				}
				seen++
			}
		}
		if seen != len(whole) {
			t.Fatalf("%s: %d records over %d partitions, want %d", table, seen, n, len(whole))
		}
	}
}

func TestRangeSourceSplitPointSingleRecord(t *testing.T) {
	setMinSplitRange(t, 1)
	single := func(t *testing.T, rs RangeSource, p, n int, from, end int64) {
		t.Helper()
		if mid, ok, err := rs.SplitPoint(p, n, from, end); err != nil || ok {
			t.Fatalf("SplitPoint(%d, %d, %d, %d) = %d, %v, %v; want no split", p, n, from, end, mid, ok, err)
		}
	}
	file := func(format, content string) RangeSource {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "in."+format), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return openFile(t, dir, "in."+format, format).(RangeSource)
	}
	extent := func(rs RangeSource) (int64, int64) {
		s, e, err := rs.Extent(0, 1)
		if err != nil {
			t.Fatal(err)
		}
		return s, e
	}
	// One CSV record spanning lines (its quoted newlines start no record).
	rs := file("csv", "id,note,temp,ts\n1,\"a\nb\n2,x,1,2024-01-01\nc\",1,2024-01-01\n")
	s, e := extent(rs)
	single(t, rs, 0, 1, s, e)
	// A malformed one (wrong field count) is a record too; an empty range.
	rs = file("csv", "id,note,temp,ts\n1,2\n")
	s, e = extent(rs)
	single(t, rs, 0, 1, s, e)
	single(t, rs, 0, 1, e, e)
	// Two records do split, between them.
	rs = file("csv", "id,note,temp,ts\n1,\"a\nb\",1,2024-01-01\n2,x,1,2024-01-01\n")
	s, e = extent(rs)
	if mid, ok, err := rs.SplitPoint(0, 1, s, e); err != nil || !ok || mid != int64(len("id,note,temp,ts\n1,\"a\nb\",1,2024-01-01\n")) {
		t.Fatalf("two records: SplitPoint = %d, %v, %v", mid, ok, err)
	}
	// A range holding one record of a larger file.
	h, r1, r2 := "id,note,temp,ts\n", "1,x,1,2024-01-01\n", "2,\"y\n\n\",1,2024-01-01\n"
	rs = file("csv", h+r1+r2+"3,z,1,2024-01-01\n")
	single(t, rs, 0, 1, int64(len(h+r1)), int64(len(h+r1+r2)))
	if mid, ok, err := rs.SplitPoint(0, 1, int64(len(h+r1)), int64(len(h+r1+r2))+1); err != nil || !ok || mid != int64(len(h+r1+r2)) {
		t.Fatalf("[record 2, record 3 + 1): SplitPoint = %d, %v, %v", mid, ok, err)
	}
	// JSON Lines: blank lines are not records.
	rs = file("jsonl", "\n  \n{\"id\": 1}\n\n\r\n \n")
	s, e = extent(rs)
	single(t, rs, 0, 1, s, e)
	rs = file("jsonl", "{\"id\": 1}\n\n\n{\"id\": 2}")
	s, e = extent(rs)
	if mid, ok, err := rs.SplitPoint(0, 1, s, e); err != nil || !ok || mid != 12 {
		t.Fatalf("two JSON records: SplitPoint = %d, %v, %v", mid, ok, err)
	}
	// Under the minimum size, nothing splits.
	setMinSplitRange(t, MinSplitRangeBytes)
	single(t, rs, 0, 1, s, e)
	// Generators: one row (or event) of the partition in the range.
	g := openDatagenT(t, readingsSchema, map[string]string{"rows": "1"}, nil).(RangeSource)
	single(t, g, 0, 1, 0, 1)
	g = openDatagenT(t, readingsSchema, map[string]string{"rows": "100"}, nil).(RangeSource)
	single(t, g, 1, 3, 4, 7) // only 4
	single(t, g, 1, 3, 5, 8) // only 7
	single(t, g, 0, 1, 99, 100)
	if mid, ok, err := g.SplitPoint(1, 3, 4, 8); err != nil || !ok || mid != 7 {
		t.Fatalf("datagen [4, 8) of 1/3: SplitPoint = %d, %v, %v", mid, ok, err)
	}
	nx := openNex(t, "person", nil, map[string]string{"events": "1000"}, nil).(RangeSource)
	single(t, nx, 0, 1, 0, 50)  // person 0 only
	single(t, nx, 0, 1, 1, 51)  // person 50 only
	single(t, nx, 1, 2, 0, 100) // persons 0 and 50: partition 1 of 2 has only 50
	if mid, ok, err := nx.SplitPoint(0, 1, 0, 51); err != nil || !ok || mid != 50 {
		t.Fatalf("nexmark persons [0, 51): SplitPoint = %d, %v, %v", mid, ok, err)
	}
}

func TestRangeSourceWhichSources(t *testing.T) {
	if _, ok := openDatagenT(t, readingsSchema, map[string]string{}, nil).(RangeSource); ok {
		t.Fatal("an unbounded datagen source is a RangeSource")
	}
	if _, ok := openNex(t, "bid", nil, nil, nil).(RangeSource); ok {
		t.Fatal("an unbounded nexmark source is a RangeSource")
	}
	if _, ok := openDatagenT(t, readingsSchema, map[string]string{"rows": "5"}, nil).(RangeSource); !ok {
		t.Fatal("a bounded datagen source is not a RangeSource")
	}
	if _, ok := openNex(t, "bid", nil, map[string]string{"events": "5"}, nil).(RangeSource); !ok {
		t.Fatal("a bounded nexmark source is not a RangeSource")
	}
	dir := writeTemp(t, "a.csv", "id,note,temp,ts\n1,x,1,2024-01-01\n")
	rs, ok := openFile(t, dir, "a.csv", "csv").(RangeSource)
	if !ok {
		t.Fatal("a file source is not a RangeSource")
	}
	// Ranges outside the partition are refused.
	if _, err := rs.OpenRange(0, 1, 16, 1000); err == nil {
		t.Fatal("OpenRange past the extent succeeded")
	}
	if _, err := rs.OpenRange(0, 1, 30, 20); err == nil {
		t.Fatal("OpenRange with from > end succeeded")
	}
	if _, _, err := rs.Extent(2, 2); err == nil {
		t.Fatal("Extent of a bad partition succeeded")
	}
}

func TestDatagenRangeThrottle(t *testing.T) {
	clock := NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	src := openDatagenT(t, readingsSchema, map[string]string{"rows_per_second": "10", "rows": "100"}, clock).(RangeSource)
	r, err := src.OpenRange(0, 1, 50, 60)
	if err != nil {
		t.Fatal(err)
	}
	out, eof, _ := r.Read(nil, 1000)
	if len(out) != 1 || out[0].Offset != 50 || eof {
		t.Fatalf("at t=0: %d rows, eof %v", len(out), eof)
	}
	clock.Advance(time.Second)
	out, eof, _ = r.Read(nil, 1000)
	if len(out) != 9 || out[8].Offset != 59 || !eof || r.NextOffset() != 60 {
		t.Fatalf("after 1s: %d rows, eof %v, next %d", len(out), eof, r.NextOffset())
	}
	select {
	case <-r.Ready():
	default:
		t.Fatal("an exhausted range is not ready")
	}
}
