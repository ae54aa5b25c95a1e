package connector

import (
	"bytes"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Each benchmark iteration processes a fixed chunk of rows, so that
// `-benchtime 1x` (the Makefile's bench target) still measures something.

// cpuTime returns the process's user+system CPU time (GC workers included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRows reports throughput per wall second and per CPU second (the
// machine is shared, so the CPU figure is the steadier one).
func reportRows(b *testing.B, rows int64, start time.Time, cpu0 time.Duration, m0 *runtime.MemStats) {
	el := time.Since(start)
	cpu := cpuTime() - cpu0
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(rows)/el.Seconds(), "rows/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(rows), "allocs/row")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(rows), "B/row")
}

func BenchmarkDatagen(b *testing.B) {
	const chunk = 1 << 20
	src := openDatagenT(b, readingsSchema, map[string]string{"fields.device.cardinality": "10000",
		"fields.temp.min": "0", "fields.temp.max": "100", "fields.rpm.min": "0", "fields.rpm.max": "5000",
		"fields.ts.max_disorder": "2 seconds"}, nil)
	r, _ := src.Open(0, 1, 0)
	buf := make([]Record, 0, 1024)
	var m0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var rows int64
	for i := 0; i < b.N; i++ {
		for n := 0; n < chunk; n += 1024 {
			buf, _, _ = r.Read(buf[:0], 1024)
			rows += int64(len(buf))
		}
	}
	b.StopTimer()
	reportRows(b, rows, start, cpu0, &m0)
}

func readingsCSV(rows int) []byte {
	var buf bytes.Buffer
	buf.WriteString("device,temp,rpm,ts\n")
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&buf, "device-%d,%.2f,%d,%s\n", i%10000, float64(i%1000)/10, i%5000,
			base.Add(time.Duration(i)*time.Millisecond).Format("2006-01-02 15:04:05.000"))
	}
	return buf.Bytes()
}

func BenchmarkCSVDecode(b *testing.B) {
	const rows = 200_000
	data := readingsCSV(rows)
	b.SetBytes(int64(len(data)))
	var m0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var total int64
	for i := 0; i < b.N; i++ {
		d := NewCSVDecoder(bytes.NewReader(data), readingsSchema, CSVOptions{Header: true, ByName: true})
		for {
			rec, ok := d.Next()
			if !ok {
				break
			}
			if rec.Err != nil {
				b.Fatal(rec.Err)
			}
			total++
		}
	}
	b.StopTimer()
	reportRows(b, total, start, cpu0, &m0)
}

func BenchmarkJSONLDecode(b *testing.B) {
	const rows = 200_000
	var buf bytes.Buffer
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&buf, `{"device":"device-%d","temp":%.2f,"rpm":%d,"ts":%d}`+"\n", i%10000, float64(i%1000)/10, i%5000, 1704067200000+int64(i))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	var m0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var total int64
	for i := 0; i < b.N; i++ {
		d := NewJSONLDecoder(bytes.NewReader(data), readingsSchema)
		for {
			rec, ok := d.Next()
			if !ok {
				break
			}
			if rec.Err != nil {
				b.Fatal(rec.Err)
			}
			total++
		}
	}
	b.StopTimer()
	reportRows(b, total, start, cpu0, &m0)
}

func BenchmarkNexmarkBid(b *testing.B) {
	const chunk = 1 << 20
	src := openNex(b, "bid", nil, map[string]string{}, nil)
	r, _ := src.Open(0, 1, 0)
	buf := make([]Record, 0, 1024)
	var m0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	var rows int64
	for i := 0; i < b.N; i++ {
		for n := 0; n < chunk; n += 1024 {
			buf, _, _ = r.Read(buf[:0], 1024)
			rows += int64(len(buf))
		}
	}
	b.StopTimer()
	reportRows(b, rows, start, cpu0, &m0)
}
