package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"
)

// The CSV job, side by side with a plain-Go reference: the same
// file (2M rows), TUMBLE 1 minute, count(*) and sum(rpm) per device, a 5 s
// watermark delay. Weir writes its output to a CSV file sink; the
// reference is a single goroutine that reads the same file, parses it,
// assigns the same windows, fires a window when the watermark passes its
// end and drops events of fired windows. The benchmark fails when the two
// outputs differ and reports both rates and their ratio.

const refEvents = 2_000_000

const refJob = `CREATE SINK out (window_start TIMESTAMP, device VARCHAR, n BIGINT, s BIGINT) WITH (connector = 'file', path = 'out.csv', format = 'csv');
CREATE JOB bench AS INSERT INTO out
  SELECT window_start, device, count(*), sum(rpm) FROM TUMBLE(readings, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, window_end, device;
`

// benchCSVFile writes the benchmark's CSV file (before any measurement; a
// CPU profile shows it under writeBenchCSV) and returns its path.
func benchCSVFile(b *testing.B) string {
	dir := b.TempDir()
	writeBenchCSV(b, dir, refEvents)
	return filepath.Join(dir, "readings.csv")
}

// refRow is one output row: window start (µs since the epoch), device,
// count, sum.
type refRow struct {
	start  int64
	device string
	n, s   int64
}

func BenchmarkWindowAggCSVVsGo(b *testing.B) {
	src := benchCSVFile(b)
	var weirCPU, refCPU time.Duration
	var alloc uint64
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		if err := os.Symlink(src, filepath.Join(dir, "readings.csv")); err != nil {
			b.Fatal(err)
		}
		e, err := Open(Options{DataDir: filepath.Join(dir, "data"), BaseDir: dir, BundleSize: benchBundle})
		if err != nil {
			b.Fatal(err)
		}
		s := e.NewSession()
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		c0 := cpuTime()
		if _, err := s.Exec(context.Background(), csvSource+refJob); err != nil {
			b.Fatal(err)
		}
		if err := s.WaitJobs(context.Background()); err != nil {
			b.Fatal(err)
		}
		weirCPU += cpuTime() - c0
		runtime.ReadMemStats(&ms1)
		alloc += ms1.TotalAlloc - ms0.TotalAlloc
		if err := s.JobsError(); err != nil {
			b.Fatal(err)
		}
		e.Close()
		got := readWeirOutput(b, filepath.Join(dir, "out.csv"))

		runtime.GC()
		c0 = cpuTime()
		want, err := refWindowAgg(src, 60_000_000, 5_000_000)
		refCPU += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		compareRefRows(b, got, want)
	}
	total := float64(refEvents) * float64(b.N)
	weir, ref := total/weirCPU.Seconds(), total/refCPU.Seconds()
	b.ReportMetric(weir, "events/cpu-s")
	b.ReportMetric(ref, "ref-events/cpu-s")
	b.ReportMetric(weir/ref, "ratio")
	b.ReportMetric(float64(alloc)/total, "B/event")
	b.ReportMetric(0, "ns/op")
}

func sortRefRows(rows []refRow) {
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].start != rows[j].start {
			return rows[i].start < rows[j].start
		}
		return rows[i].device < rows[j].device
	})
}

func compareRefRows(b *testing.B, got, want []refRow) {
	b.Helper()
	sortRefRows(got)
	sortRefRows(want)
	if len(got) != len(want) {
		b.Fatalf("weir wrote %d rows, the reference %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			b.Fatalf("row %d: weir %+v, reference %+v", i, got[i], want[i])
		}
	}
}

const refTimeLayout = "2006-01-02 15:04:05.999999"

// readWeirOutput parses the sink's CSV file (header, then
// window_start,device,n,s).
func readWeirOutput(b *testing.B, path string) []refRow {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) == 0 || string(lines[0]) != "window_start,device,n,s" {
		b.Fatalf("output %s: unexpected header", path)
	}
	rows := make([]refRow, 0, len(lines)-1)
	for _, l := range lines[1:] {
		f := bytes.Split(l, []byte(","))
		if len(f) != 4 {
			b.Fatalf("output line %q: want 4 fields", l)
		}
		t, err := time.Parse(refTimeLayout, string(f[0]))
		if err != nil {
			b.Fatalf("output line %q: %v", l, err)
		}
		n, err1 := strconv.ParseInt(string(f[2]), 10, 64)
		s, err2 := strconv.ParseInt(string(f[3]), 10, 64)
		if err1 != nil || err2 != nil {
			b.Fatalf("output line %q: bad count or sum", l)
		}
		rows = append(rows, refRow{start: t.UnixMicro(), device: string(f[1]), n: n, s: s})
	}
	return rows
}

// refWindowAgg is the plain-Go reference: one goroutine, a buffered
// reader, hand-split fields, a map per open window. An event whose window
// has fired (its end at or below the watermark) is late and dropped; a
// window fires when the watermark (the largest event time less the delay)
// reaches its end, and every open window fires at the end of the input.
func refWindowAgg(path string, size, delay int64) ([]refRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	if _, err := r.ReadSlice('\n'); err != nil { // header
		return nil, err
	}
	type agg struct{ n, s int64 }
	open := map[int64]map[string]*agg{}
	var out []refRow
	fire := func(start int64) {
		for dev, a := range open[start] {
			out = append(out, refRow{start: start, device: dev, n: a.n, s: a.s})
		}
		delete(open, start)
	}
	wm, nextEnd := int64(-1<<63), int64(1<<63-1)
	var field [4][]byte
	for {
		line, err := r.ReadSlice('\n')
		if len(line) == 0 && err != nil {
			break
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		k := 0
		for k < 3 {
			c := bytes.IndexByte(line, ',')
			if c < 0 {
				return nil, fmt.Errorf("bad line %q", line)
			}
			field[k], line = line[:c], line[c+1:]
			k++
		}
		field[3] = line
		rpm, ok := refAtoi(field[2])
		if !ok {
			return nil, fmt.Errorf("bad rpm %q", field[2])
		}
		ts, ok := refTimestamp(field[3])
		if !ok {
			t, err := time.Parse(refTimeLayout, string(field[3]))
			if err != nil {
				return nil, err
			}
			ts = t.UnixMicro()
		}
		start := ts - ((ts%size)+size)%size
		if start+size <= wm {
			continue // late: its window has fired
		}
		w := open[start]
		if w == nil {
			w = map[string]*agg{}
			open[start] = w
			nextEnd = min(nextEnd, start+size)
		}
		a := w[string(field[0])]
		if a == nil {
			a = &agg{}
			w[string(field[0])] = a
		}
		a.n++
		a.s += rpm
		if ts-delay > wm {
			wm = ts - delay
			if wm >= nextEnd {
				nextEnd = 1<<63 - 1
				for st := range open {
					if st+size <= wm {
						fire(st)
					} else if st+size < nextEnd {
						nextEnd = st + size
					}
				}
			}
		}
	}
	for st := range open {
		fire(st)
	}
	return out, nil
}

// refAtoi parses a decimal int64 (optional sign) without allocating.
func refAtoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// refTimestamp parses "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC) to µs since the
// epoch; ok is false for any other shape (the caller falls back to
// time.Parse).
func refTimestamp(b []byte) (int64, bool) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || b[10] != ' ' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, false
	}
	us := 0
	if len(b) > 19 {
		if b[19] != '.' || len(b) > 26 || len(b) == 20 {
			return 0, false
		}
		f, ok := num(b[20:])
		if !ok {
			return 0, false
		}
		for k := len(b) - 20; k < 6; k++ {
			f *= 10
		}
		us = f
	}
	days := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
	return (days*86400+int64(h*3600+mi*60+sec))*1_000_000 + int64(us), true
}
