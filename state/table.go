package state

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// table is the sharded, write-back cache under ValueState, MapState and
// BagState: items by grouping key, the list of items with unflushed writes,
// and the byte budget. The state types decide what an item holds and how it
// is written; the table does the sharding, flushing order, commit
// bookkeeping and eviction they share.
//
// Shards are cut by the top bits of the key hash. Key ranges are intervals
// of the hash space, so workers on different ranges mostly lock different
// shards, and an operation on a range (FlushRange, Evict, Discard, Scan)
// visits only the shards the range overlaps.
type table[E tableItem] struct {
	budget cacheBudget
	// gen numbers flushes, so a commit hook can tell whether an item was
	// written again by a later flush.
	gen    atomic.Uint64
	shards [numShards]tableShard[E]
}

type tableShard[E tableItem] struct {
	// mu guards m, dirty and every field of the items in m. It is never
	// held across Pebble I/O; adding writes to a batch (memory only)
	// happens under it.
	mu sync.Mutex
	m  map[string]E // by cache key: hash (8 BE) + grouping key
	// dirty lists the items with writes not flushed yet.
	dirty []E
	_     [32]byte // keep neighbouring shards' locks off one cache line
}

// tableItem is what a table holds per grouping key.
type tableItem interface {
	comparable
	// cacheKey returns hash (8 BE) + grouping key.
	cacheKey() string
	// evictable reports whether the item holds nothing but committed state
	// (no unflushed write, no write in an uncommitted batch), so dropping
	// it cannot hide a write.
	evictable() bool
	// referenced clears and returns the item's CLOCK reference bit.
	referenced() bool
	// size is the item's approximate memory, as counted in the budget.
	size() int64
}

const (
	shardBits = 6
	numShards = 1 << shardBits
)

func shardOf(hash uint64) int { return int(hash >> (64 - shardBits)) }

// shardSpan returns the shards [first, last] holding the hashes of the key
// range [lo, hi) (hi == 0: to the end). last < first for an empty range.
func shardSpan(lo, hi uint64) (first, last int) {
	if hi == 0 {
		return shardOf(lo), numShards - 1
	}
	if hi <= lo {
		return 1, 0
	}
	return shardOf(lo), shardOf(hi - 1)
}

func (t *table[E]) init(limit int64) {
	t.budget.limit.Store(limit)
	for i := range t.shards {
		t.shards[i].m = make(map[string]E)
	}
}

func (t *table[E]) shard(hash uint64) *tableShard[E] { return &t.shards[shardOf(hash)] }

// flushRange calls write for every dirty item of key range [lo, hi), in key
// order, under the item's shard lock, and takes the items off the dirty
// lists. It returns the flush's generation and the items in shard order.
//
// Key order matters: Pebble inserts a batch into its memtable skiplist with
// a cursor, and sorted writes apply faster than the random order of a dirty
// list (about a third less CPU per commit in BenchmarkValueStateBundle).
// Shards are in hash order, so sorting each one sorts the whole flush.
func (t *table[E]) flushRange(lo, hi uint64, write func(e E, gen uint64)) (uint64, []E) {
	gen := t.gen.Add(1)
	whole := lo == 0 && hi == 0
	var flushed []E
	first, last := shardSpan(lo, hi)
	for i := first; i <= last; i++ {
		sh := &t.shards[i]
		sh.mu.Lock()
		slices.SortFunc(sh.dirty, func(a, b E) int { return strings.Compare(a.cacheKey(), b.cacheKey()) })
		keep := sh.dirty[:0]
		for _, e := range sh.dirty {
			if !whole && !InRange(ckeyHash(e.cacheKey()), lo, hi) {
				keep = append(keep, e)
				continue
			}
			write(e, gen)
			flushed = append(flushed, e)
		}
		clear(sh.dirty[len(keep):])
		sh.dirty = keep
		sh.mu.Unlock()
	}
	return gen, flushed
}

// committed calls fn, under the shard lock, for every item a flush wrote
// once its batch has committed, then evicts what the budget requires. Items
// dropped from the table since (Discard) are skipped.
func (t *table[E]) committed(flushed []E, fn func(sh *tableShard[E], e E)) {
	for i := 0; i < len(flushed); {
		idx := shardOf(ckeyHash(flushed[i].cacheKey()))
		sh := &t.shards[idx]
		sh.mu.Lock()
		for ; i < len(flushed) && shardOf(ckeyHash(flushed[i].cacheKey())) == idx; i++ {
			if e := flushed[i]; sh.m[e.cacheKey()] == e {
				fn(sh, e)
			}
		}
		sh.mu.Unlock()
	}
	if len(flushed) > 0 {
		t.evict(shardOf(ckeyHash(flushed[0].cacheKey())))
	}
}

// markDirtyLocked lists e as dirty unless listed is already set.
func (sh *tableShard[E]) markDirtyLocked(e E, listed *bool) {
	if !*listed {
		*listed = true
		sh.dirty = append(sh.dirty, e)
	}
}

// evict brings the table under its budget, starting with shard start (the
// flusher's own range) and moving on to the others only if that is not
// enough.
func (t *table[E]) evict(start int) {
	want := t.budget.excess()
	for i := 0; i < numShards && want > 0; i++ {
		sh := &t.shards[(start+i)%numShards]
		sh.mu.Lock()
		freed := sh.evictClockLocked(want)
		sh.mu.Unlock()
		t.budget.bytes.Add(-freed)
		want -= freed
	}
}

// evictClockLocked drops evictable items until at least want bytes are
// freed, giving recently used items a second chance (CLOCK): the first pass
// skips and clears referenced items, the second takes any. Go's randomized
// map iteration stands in for the clock hand.
func (sh *tableShard[E]) evictClockLocked(want int64) (freed int64) {
	for pass := 0; pass < 2 && freed < want; pass++ {
		for k, e := range sh.m {
			if !e.evictable() {
				continue
			}
			if pass == 0 && e.referenced() {
				continue
			}
			freed += e.size()
			delete(sh.m, k)
			if freed >= want {
				break
			}
		}
	}
	return freed
}

// drop removes the items of key range [lo, hi): the evictable ones, or all
// of them (unflushed writes included) if all is set.
func (t *table[E]) drop(lo, hi uint64, all bool) {
	first, last := shardSpan(lo, hi)
	for i := first; i <= last; i++ {
		sh := &t.shards[i]
		var freed int64
		sh.mu.Lock()
		for k, e := range sh.m {
			if InRange(ckeyHash(k), lo, hi) && (all || e.evictable()) {
				freed += e.size()
				delete(sh.m, k)
			}
		}
		if all {
			sh.dirty = slices.DeleteFunc(sh.dirty, func(e E) bool {
				return InRange(ckeyHash(e.cacheKey()), lo, hi)
			})
		}
		sh.mu.Unlock()
		t.budget.bytes.Add(-freed)
	}
}

// setLimit sets the budget and evicts down to it.
func (t *table[E]) setLimit(bytes int64) {
	t.budget.limit.Store(bytes)
	t.evict(0)
}

// cacheBudget tracks a table's bytes against its limit.
type cacheBudget struct {
	limit atomic.Int64 // < 0: no limit
	bytes atomic.Int64
}

const defaultCacheLimit = 64 << 20

// excess returns how many bytes to evict: down to 7/8 of the limit once the
// limit is exceeded, so eviction runs in batches and not after every flush.
func (c *cacheBudget) excess() int64 {
	limit := c.limit.Load()
	if limit < 0 {
		return 0
	}
	n := c.bytes.Load()
	if n <= limit {
		return 0
	}
	return n - limit + limit/8
}

// Approximate per-item memory besides key and value bytes: the struct, the
// map slot and the string header.
const entryOverhead = 80

// emptyVal is the value of a present key whose value is empty: non-nil, so
// it stays distinguishable from "absent", and zero-capacity, so appending to
// it never writes into shared memory.
var emptyVal = []byte{}

// cloneVal copies a caller's value into memory the cache owns. Cached values
// are immutable: Put stores a fresh copy instead of overwriting the old one,
// so a value returned by Get stays valid even after the key is written again.
func cloneVal(v []byte) []byte {
	if len(v) == 0 {
		return emptyVal
	}
	return append(make([]byte, 0, len(v)), v...)
}
