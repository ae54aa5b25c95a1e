package state

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// BenchmarkValueStateBundle measures one bundle of an aggregation over 10k
// keys: a Get and a Put per key, then Flush and a Commit. One op is one
// bundle; events/s is the resulting per-record rate, and cpu-ns/event the
// process CPU per record, Pebble's background work included (steadier than
// wall time on a shared machine). The keys stay cached
// across bundles, as a hot working set would.
//
//	go test ./state -run - -bench ValueStateBundle -benchmem
func BenchmarkValueStateBundle(b *testing.B) {
	for _, c := range []struct {
		name   string
		fs     func() vfs.FS
		noSync bool
	}{
		{"fs=mem", func() vfs.FS { return vfs.NewMem() }, false},
		{"fs=disk/nosync", func() vfs.FS { return vfs.Default }, true},
		{"fs=disk/sync", func() vfs.FS { return vfs.Default }, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			fs := c.fs()
			dir := "/db"
			if fs == vfs.Default {
				dir = filepath.Join(b.TempDir(), "db")
			}
			s, err := Open(dir, Options{FS: fs, NoSync: c.noSync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchBundles(b, s, 1)
		})
	}
}

// BenchmarkValueStateEvents is BenchmarkValueStateBundle with 10 events per
// key and bundle (100k Get+Put per bundle over the same 10k keys): the cache
// absorbs the repeats and the commit still writes 10k keys. events/s is the
// rate an aggregation would sustain; compare with the ~0.45M events/s of a
// Pebble Get+Set per event.
func BenchmarkValueStateEvents(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchBundles(b, s, 10)
}

func benchBundles(b *testing.B, s *Store, eventsPerKey int) {
	const keys = 10000
	vs := NewValueState(s, 1, "agg")
	type key struct {
		hash uint64
		k    []byte
	}
	ks := make([]key, keys)
	for i := range ks {
		k := []byte(fmt.Sprintf("key-%05d", i))
		ks[i] = key{Hash(k), k}
	}
	batch := s.NewBatch()
	defer batch.Close()
	var acc [8]byte
	bundle := func() {
		for range eventsPerKey {
			for _, k := range ks {
				v, ok, err := vs.Get(k.hash, k.k)
				if err != nil {
					b.Fatal(err)
				}
				var n uint64
				if ok {
					n = binary.LittleEndian.Uint64(v)
				}
				binary.LittleEndian.PutUint64(acc[:], n+1)
				vs.Put(k.hash, k.k, acc[:])
			}
		}
		vs.Flush(batch)
		if err := s.Commit(batch); err != nil {
			b.Fatal(err)
		}
		batch.Reset()
	}
	bundle() // warm the cache: the first bundle reads Pebble
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		bundle()
	}
	b.StopTimer()
	cpu = processCPU() - cpu
	events := float64(b.N) * keys * float64(eventsPerKey)
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/events, "cpu-ns/event")
	}
}
