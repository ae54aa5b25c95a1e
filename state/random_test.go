package state

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

var seedFlag = flag.Uint64("seed", 0, "run the randomized tests with this seed only (0: random seeds)")

// TestRandomized runs random operation sequences on ValueState, MapState,
// BagState and Timers against a plain in-memory model, with random flush and
// commit points (including writes between a flush and its commit), random
// cache and timer memory limits, evictions, restarts and, on a crashable
// in-memory filesystem, crashes: after each, exactly the committed model
// must survive. Rerun a failure with -seed.
func TestRandomized(t *testing.T) {
	type cfg struct {
		disk  bool
		steps int
	}
	var runs []cfg
	for range 12 {
		runs = append(runs, cfg{false, 5000})
	}
	runs = append(runs, cfg{true, 2500}, cfg{true, 2500})
	base := *seedFlag
	if base == 0 {
		base = uint64(time.Now().UnixNano())
	} else {
		runs = []cfg{{false, 5000}, {true, 2500}}
	}
	for i, c := range runs {
		seed := base + uint64(i)
		if *seedFlag != 0 {
			seed = base
		}
		name := fmt.Sprintf("mem/seed=%d", seed)
		if c.disk {
			name = fmt.Sprintf("disk/seed=%d", seed)
		}
		t.Run(name, func(t *testing.T) {
			t.Logf("seed %d (rerun with -seed=%d)", seed, seed)
			r := newRandomRun(t, seed, c.disk)
			defer r.close()
			for step := 0; step < c.steps; step++ {
				r.step(step)
				if t.Failed() {
					t.Fatalf("failed at step %d; rerun with -seed=%d", step, seed)
				}
			}
			r.verifyAll("end")
		})
	}
}

// rmodel is the expected state: what a correct store would show.
type rmodel struct {
	values map[string]string            // ckey -> value
	maps   map[string]map[string]string // ckey -> map key -> value
	bags   map[string][]string          // ckey -> values in append order
	timers map[string]bool              // timer identity -> set
}

func newModel() *rmodel {
	return &rmodel{map[string]string{}, map[string]map[string]string{}, map[string][]string{}, map[string]bool{}}
}

func (m *rmodel) clone() *rmodel {
	c := &rmodel{maps.Clone(m.values), map[string]map[string]string{}, map[string][]string{}, maps.Clone(m.timers)}
	for k, v := range m.maps {
		c.maps[k] = maps.Clone(v)
	}
	for k, v := range m.bags {
		c.bags[k] = slices.Clone(v)
	}
	return c
}

type randomRun struct {
	t       *testing.T
	rng     *rand.Rand
	fs      vfs.FS
	crashFS *vfs.MemFS
	dir     string
	s       *Store
	vs      *ValueState
	ms      *MapState
	bs      *BagState
	tm      [2]*Timers // ranges [0, 2^63) and [2^63, 2^64)
	live    *rmodel
	durable *rmodel // model as of the last commit
	// Up to two batches are flushed and not committed yet (a pipelined
	// commit); they commit in flush order. flushed[i] is the model as of
	// batches[i]'s flush.
	batches  []*Batch
	flushed  []*rmodel
	keys     [][]byte
	hashes   []uint64
	watermrk [2]int64
}

var timerRanges = [2][2]uint64{{0, 1 << 63}, {1 << 63, 0}}

func newRandomRun(t *testing.T, seed uint64, disk bool) *randomRun {
	r := &randomRun{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	if disk {
		r.fs, r.dir = vfs.Default, filepath.Join(t.TempDir(), "db")
	} else {
		r.crashFS = vfs.NewCrashableMem()
		r.fs, r.dir = r.crashFS, "/db"
	}
	// 30 keys over 7 hashes spread across the hash space: several keys share
	// a hash, and keys fall into different shards and timer ranges.
	for i := 0; i < 30; i++ {
		r.keys = append(r.keys, []byte(fmt.Sprintf("k%d", i)))
		r.hashes = append(r.hashes, uint64(i%7)*0x2492492492492492)
	}
	r.live, r.durable = newModel(), newModel()
	r.open()
	return r
}

func (r *randomRun) open() {
	s, err := Open(r.dir, Options{FS: r.fs})
	if err != nil {
		r.t.Fatal(err)
	}
	r.s = s
	r.vs = NewValueState(s, 3, "v")
	r.ms = NewMapState(s, 3, "m")
	r.bs = NewBagState(s, 3, "b")
	for i, rg := range timerRanges {
		r.tm[i] = NewTimers(s, 3, "t", EventTime, rg[0], rg[1])
	}
	r.randomLimits()
	if r.rng.IntN(2) == 0 {
		for _, tm := range r.tm {
			if err := tm.Load(); err != nil {
				r.t.Fatal(err)
			}
		}
	}
}

func (r *randomRun) close() {
	for _, b := range r.batches {
		b.Close()
	}
	r.batches, r.flushed = nil, nil
	if r.s != nil {
		if err := r.s.Close(); err != nil {
			r.t.Fatal(err)
		}
		r.s = nil
	}
}

func (r *randomRun) randomLimits() {
	limits := []int64{0, 300, 3000, -1}
	r.vs.SetCacheLimit(limits[r.rng.IntN(len(limits))])
	r.ms.SetCacheLimit(limits[r.rng.IntN(len(limits))])
	for _, tm := range r.tm {
		tm.SetMemoryLimit(1 + r.rng.IntN(12))
	}
}

func (r *randomRun) key() (int, string) {
	i := r.rng.IntN(len(r.keys))
	return i, string(appendCKey(nil, r.hashes[i], r.keys[i]))
}

func (r *randomRun) val() string {
	if r.rng.IntN(10) == 0 {
		return ""
	}
	return fmt.Sprintf("v%d", r.rng.IntN(1000))
}

func (r *randomRun) step(step int) {
	t := r.t
	switch p := r.rng.IntN(100); {
	case p < 12:
		i, ck := r.key()
		v := r.val()
		r.vs.Put(r.hashes[i], r.keys[i], []byte(v))
		r.live.values[ck] = v
	case p < 16:
		i, ck := r.key()
		r.vs.Delete(r.hashes[i], r.keys[i])
		delete(r.live.values, ck)
	case p < 26:
		i, _ := r.key()
		r.checkValue(i, fmt.Sprint("step ", step))
	case p < 28:
		r.checkValueScan(fmt.Sprint("step ", step))
	case p < 36:
		i, ck := r.key()
		mk, v := fmt.Sprintf("m%d", r.rng.IntN(6)), r.val()
		r.ms.Put(r.hashes[i], r.keys[i], []byte(mk), []byte(v))
		if r.live.maps[ck] == nil {
			r.live.maps[ck] = map[string]string{}
		}
		r.live.maps[ck][mk] = v
	case p < 39:
		i, ck := r.key()
		mk := fmt.Sprintf("m%d", r.rng.IntN(6))
		r.ms.Delete(r.hashes[i], r.keys[i], []byte(mk))
		delete(r.live.maps[ck], mk)
	case p < 40:
		i, ck := r.key()
		r.ms.Clear(r.hashes[i], r.keys[i])
		delete(r.live.maps, ck)
	case p < 45:
		i, ck := r.key()
		mk := fmt.Sprintf("m%d", r.rng.IntN(6))
		got, ok, err := r.ms.Get(r.hashes[i], r.keys[i], []byte(mk))
		want, wok := r.live.maps[ck][mk]
		if err != nil || ok != wok || string(got) != want {
			t.Errorf("map get %s/%s: %q %v %v, want %q %v", r.keys[i], mk, got, ok, err, want, wok)
		}
	case p < 48:
		i, _ := r.key()
		r.checkMap(i, fmt.Sprint("step ", step))
	case p < 54:
		i, ck := r.key()
		v := r.val()
		r.bs.Append(r.hashes[i], r.keys[i], []byte(v))
		r.live.bags[ck] = append(r.live.bags[ck], v)
	case p < 55:
		i, ck := r.key()
		r.bs.Clear(r.hashes[i], r.keys[i])
		delete(r.live.bags, ck)
	case p < 58:
		i, _ := r.key()
		r.checkBag(i, fmt.Sprint("step ", step))
	case p < 66:
		i, _ := r.key()
		r.setTimer(i, int64(r.rng.IntN(120))-10)
	case p < 68:
		i, _ := r.key()
		ts := int64(r.rng.IntN(120)) - 10
		r.tm[r.hashes[i]>>63].Delete(ts, r.hashes[i], r.keys[i])
		delete(r.live.timers, string(appendTimerID(nil, ts, r.hashes[i], r.keys[i])))
	case p < 74:
		r.popTimers(r.rng.IntN(2))
	case p < 76:
		g := r.rng.IntN(2)
		ts, ok := r.tm[g].Next()
		want, wok := r.modelNext(g)
		if ok != wok || (ok && ts != want) {
			t.Errorf("timers %d next: %d %v, want %d %v", g, ts, ok, want, wok)
		}
	case p < 86:
		if len(r.batches) == 0 || (len(r.batches) == 1 && r.rng.IntN(3) == 0) {
			r.flush()
		} else {
			r.commit()
		}
	case p < 90:
		for len(r.batches) > 0 {
			r.commit()
		}
		r.flush()
		r.commit()
	case p < 92:
		r.randomLimits()
	case p < 94:
		lo, hi := r.randomRange()
		r.vs.Evict(lo, hi)
		r.ms.Evict(lo, hi)
	case p < 95:
		r.abort()
	case p < 97:
		// A restart or a crash: only the committed model survives.
		if r.crashFS != nil && r.rng.IntN(2) == 0 {
			crashed := r.crashFS.CrashClone(vfs.CrashCloneCfg{})
			r.close()
			r.crashFS, r.fs = crashed, crashed
		} else {
			r.close()
		}
		r.open()
		r.live = r.durable.clone()
		r.verifyAll(fmt.Sprint("after reopen at step ", step))
	default:
		i, _ := r.key()
		r.checkValue(i, fmt.Sprint("step ", step))
		r.checkMap(i, fmt.Sprint("step ", step))
	}
}

// abort fails the bundle under way: the state objects discard a key range's
// uncommitted writes (timers: all of them, by reloading), and the live model
// of that range falls back to the committed one. Only between batches: a
// batch in flight would still commit its writes.
func (r *randomRun) abort() {
	if len(r.batches) > 0 {
		return
	}
	lo, hi := r.randomRange()
	if r.rng.IntN(3) == 0 {
		lo, hi = 0, 0
		for i, rg := range timerRanges {
			r.tm[i].Close()
			r.tm[i] = NewTimers(r.s, 3, "t", EventTime, rg[0], rg[1])
			r.tm[i].SetMemoryLimit(1 + r.rng.IntN(12))
		}
		r.live.timers = maps.Clone(r.durable.timers)
	}
	r.vs.Discard(lo, hi)
	r.ms.Discard(lo, hi)
	r.bs.Discard(lo, hi)
	for i := range r.keys {
		if !InRange(r.hashes[i], lo, hi) {
			continue
		}
		ck := string(appendCKey(nil, r.hashes[i], r.keys[i]))
		if v, ok := r.durable.values[ck]; ok {
			r.live.values[ck] = v
		} else {
			delete(r.live.values, ck)
		}
		r.live.maps[ck] = maps.Clone(r.durable.maps[ck])
		r.live.bags[ck] = slices.Clone(r.durable.bags[ck])
	}
}

func (r *randomRun) randomRange() (lo, hi uint64) {
	b := []uint64{0, 0x2492492492492492, 1 << 63, 0xb6db6db6db6db6db}
	lo = b[r.rng.IntN(len(b))]
	hi = b[r.rng.IntN(len(b))]
	if hi != 0 && hi <= lo {
		hi = 0
	}
	return lo, hi
}

func (r *randomRun) setTimer(i int, ts int64) {
	r.tm[r.hashes[i]>>63].Set(ts, r.hashes[i], r.keys[i])
	r.live.timers[string(appendTimerID(nil, ts, r.hashes[i], r.keys[i]))] = true
}

func (r *randomRun) flush() {
	b := r.s.NewBatch()
	// Flush the shared-capable states by range sometimes: two FlushRange calls
	// covering the space must equal one Flush.
	if r.rng.IntN(2) == 0 {
		r.vs.FlushRange(b, 0, 1<<63)
		r.vs.FlushRange(b, 1<<63, 0)
	} else {
		r.vs.Flush(b)
	}
	r.ms.Flush(b)
	r.bs.Flush(b)
	for _, tm := range r.tm {
		tm.Flush(b)
	}
	r.batches = append(r.batches, b)
	r.flushed = append(r.flushed, r.live.clone())
}

func (r *randomRun) commit() {
	b := r.batches[0]
	if err := r.s.Commit(b); err != nil {
		r.t.Fatal(err)
	}
	b.Close()
	r.durable = r.flushed[0]
	r.batches, r.flushed = r.batches[1:], r.flushed[1:]
}

func (r *randomRun) checkValue(i int, when string) {
	ck := string(appendCKey(nil, r.hashes[i], r.keys[i]))
	got, ok, err := r.vs.Get(r.hashes[i], r.keys[i])
	want, wok := r.live.values[ck]
	if err != nil || ok != wok || string(got) != want {
		r.t.Errorf("%s: value %s: %q %v %v, want %q %v", when, r.keys[i], got, ok, err, want, wok)
	}
}

func (r *randomRun) checkValueScan(when string) {
	lo, hi := r.randomRange()
	var got []string
	err := r.vs.Scan(lo, hi, func(h uint64, k, v []byte) error {
		got = append(got, fmt.Sprintf("%x/%s=%s", h, k, v))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	var want []string
	cks := slices.Sorted(maps.Keys(r.live.values))
	for _, ck := range cks {
		h := ckeyHash(ck)
		if InRange(h, lo, hi) {
			want = append(want, fmt.Sprintf("%x/%s=%s", h, ck[8:], r.live.values[ck]))
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		r.t.Errorf("%s: value scan [%x, %x):\n got %v\nwant %v", when, lo, hi, got, want)
	}
}

func (r *randomRun) checkMap(i int, when string) {
	ck := string(appendCKey(nil, r.hashes[i], r.keys[i]))
	var got []string
	err := r.ms.Iterate(r.hashes[i], r.keys[i], func(mk, v []byte) error {
		got = append(got, fmt.Sprintf("%s=%s", mk, v))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	var want []string
	for _, mk := range slices.Sorted(maps.Keys(r.live.maps[ck])) {
		want = append(want, fmt.Sprintf("%s=%s", mk, r.live.maps[ck][mk]))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		r.t.Errorf("%s: map %s: got %v, want %v", when, r.keys[i], got, want)
	}
}

func (r *randomRun) checkBag(i int, when string) {
	ck := string(appendCKey(nil, r.hashes[i], r.keys[i]))
	var got []string
	err := r.bs.Read(r.hashes[i], r.keys[i], func(v []byte) error {
		got = append(got, string(v))
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if want := r.live.bags[ck]; !slices.Equal(got, want) && len(got)+len(want) > 0 {
		r.t.Errorf("%s: bag %s: got %q, want %q", when, r.keys[i], got, want)
	}
}

// modelTimers returns the model's timers of range g, in firing order.
func (r *randomRun) modelTimers(g int) []string {
	var ids []string
	for id := range r.live.timers {
		if InRange(beUint64(id[8:]), timerRanges[g][0], timerRanges[g][1]) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (r *randomRun) modelNext(g int) (int64, bool) {
	ids := r.modelTimers(g)
	if len(ids) == 0 {
		return 0, false
	}
	return idTS(ids[0]), true
}

// popTimers fires range g's timers below a random limit, checking each
// against the model's earliest as it fires; the callback sometimes sets
// timers, some of them due within the same call.
func (r *randomRun) popTimers(g int) {
	limit := r.watermrk[g] + int64(r.rng.IntN(30)) - 5
	r.watermrk[g] = max(r.watermrk[g], limit)
	err := r.tm[g].PopDue(limit, func(x Timer) error {
		ids := r.modelTimers(g)
		id := string(appendTimerID(nil, x.TS, x.Hash, x.Key))
		if len(ids) == 0 || ids[0] != id || x.TS >= limit {
			r.t.Fatalf("timers %d fired %d/%s below %d; model's next: %v", g, x.TS, x.Key, limit, ids[:min(len(ids), 3)])
		}
		delete(r.live.timers, id)
		if r.rng.IntN(4) == 0 {
			// Another timer of a key in the same range.
			for {
				i := r.rng.IntN(len(r.keys))
				if int(r.hashes[i]>>63) == g {
					r.setTimer(i, x.TS+int64(r.rng.IntN(20))-3)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if ids := r.modelTimers(g); len(ids) > 0 && idTS(ids[0]) < limit {
		r.t.Errorf("timers %d: %d/%q due below %d did not fire", g, idTS(ids[0]), ids[0][16:], limit)
	}
}

// verifyAll checks every key of every shape, and the timers, against the
// live model.
func (r *randomRun) verifyAll(when string) {
	for i := range r.keys {
		r.checkValue(i, when)
		r.checkMap(i, when)
		r.checkBag(i, when)
	}
	r.checkValueScan(when)
	for g := range r.tm {
		ts, ok := r.tm[g].Next()
		want, wok := r.modelNext(g)
		if ok != wok || (ok && ts != want) {
			r.t.Errorf("%s: timers %d next: %d %v, want %d %v", when, g, ts, ok, want, wok)
		}
	}
}
