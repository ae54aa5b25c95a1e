package state

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestSharedStateConcurrent has four workers share one ValueState, MapState
// and BagState, each on its own key range, each committing its bundles with
// its own batch and FlushRange, under small cache limits so evictions cross
// shards and ranges while others work. Run with -race. Each worker checks
// its reads against its own model; at the end a fresh store must hold every
// worker's committed state.
func TestSharedStateConcurrent(t *testing.T) {
	fs := vfs.NewMem()
	s := mustOpen(t, fs, "/db")
	vs := NewValueState(s, 1, "v")
	ms := NewMapState(s, 1, "m")
	bs := NewBagState(s, 1, "b")
	vs.SetCacheLimit(8 << 10)
	ms.SetCacheLimit(8 << 10)

	const workers, keys = 4, 64
	type wmodel struct {
		lo, hi uint64
		values map[int]string
		maps   map[int]map[string]string
		bags   map[int][]string
	}
	models := make([]*wmodel, workers)
	hashOf := func(w, k int) uint64 { return uint64(w)<<62 + uint64(k)<<50 }
	keyOf := func(k int) []byte { return []byte(fmt.Sprintf("key%d", k)) }

	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		m := &wmodel{lo: uint64(w) << 62, hi: uint64(w+1) << 62, // w == 3: hi wraps to 0, the end
			values: map[int]string{}, maps: map[int]map[string]string{}, bags: map[int][]string{}}
		models[w] = m
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			b := s.NewBatch()
			defer b.Close()
			for bundle := 0; bundle < 150; bundle++ {
				for i := 0; i < 40; i++ {
					k := rng.IntN(keys)
					h, key := hashOf(w, k), keyOf(k)
					switch rng.IntN(5) {
					case 0:
						v := fmt.Sprintf("v%d.%d", bundle, i)
						vs.Put(h, key, []byte(v))
						m.values[k] = v
					case 1:
						got, ok, err := vs.Get(h, key)
						want, wok := m.values[k]
						if err != nil || ok != wok || string(got) != want {
							t.Errorf("worker %d value %d: %q %v %v, want %q", w, k, got, ok, err, want)
							return
						}
					case 2:
						mk, v := fmt.Sprintf("e%d", rng.IntN(4)), fmt.Sprint(i)
						ms.Put(h, key, []byte(mk), []byte(v))
						if m.maps[k] == nil {
							m.maps[k] = map[string]string{}
						}
						m.maps[k][mk] = v
					case 3:
						mk := fmt.Sprintf("e%d", rng.IntN(4))
						got, ok, err := ms.Get(h, key, []byte(mk))
						want, wok := m.maps[k][mk]
						if err != nil || ok != wok || string(got) != want {
							t.Errorf("worker %d map %d/%s: %q %v %v, want %q", w, k, mk, got, ok, err, want)
							return
						}
					case 4:
						v := fmt.Sprint(bundle)
						bs.Append(h, key, []byte(v))
						m.bags[k] = append(m.bags[k], v)
					}
				}
				vs.FlushRange(b, m.lo, m.hi)
				ms.FlushRange(b, m.lo, m.hi)
				bs.FlushRange(b, m.lo, m.hi)
				if err := s.Commit(b); err != nil {
					t.Error(err)
					return
				}
				b.Reset()
				if bundle%20 == 0 {
					vs.Evict(m.lo, m.hi)
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, fs, "/db")
	defer s.Close()
	vs, ms, bs = NewValueState(s, 1, "v"), NewMapState(s, 1, "m"), NewBagState(s, 1, "b")
	for w, m := range models {
		for k := 0; k < keys; k++ {
			h, key := hashOf(w, k), keyOf(k)
			got, ok, err := vs.Get(h, key)
			if want, wok := m.values[k]; err != nil || ok != wok || string(got) != want {
				t.Errorf("after restart, worker %d value %d: %q %v, want %q", w, k, got, ok, want)
			}
			var entries []string
			_ = ms.Iterate(h, key, func(mk, v []byte) error {
				entries = append(entries, string(mk)+"="+string(v))
				return nil
			})
			var want []string
			for _, mk := range slices.Sorted(maps.Keys(m.maps[k])) {
				want = append(want, mk+"="+m.maps[k][mk])
			}
			if !slices.Equal(entries, want) {
				t.Errorf("after restart, worker %d map %d: %v, want %v", w, k, entries, want)
			}
			var vals []string
			_ = bs.Read(h, key, func(v []byte) error { vals = append(vals, string(v)); return nil })
			if !slices.Equal(vals, m.bags[k]) {
				t.Errorf("after restart, worker %d bag %d: %v, want %v", w, k, vals, m.bags[k])
			}
		}
	}
}
