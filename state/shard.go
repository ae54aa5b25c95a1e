package state

import "sync/atomic"

// The caches of ValueState, MapState and BagState are cut into shards by the
// top bits of the key hash. Key ranges are intervals of the hash space, so
// workers on different ranges mostly lock different shards, and an operation
// on a range (FlushRange, Evict, Discard, Scan) visits only the shards the
// range overlaps.
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

// Approximate per-entry memory besides key and value bytes: the entry
// struct, the map slot and the string header.
const entryOverhead = 80

// cacheBudget tracks a state object's cached bytes against its limit.
type cacheBudget struct {
	limit atomic.Int64 // < 0: no limit
	bytes atomic.Int64
}

const defaultCacheLimit = 64 << 20

func (c *cacheBudget) init() { c.limit.Store(defaultCacheLimit) }

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

// clockEntry is a cached entry that CLOCK eviction can consider.
type clockEntry interface {
	// evictable reports whether the entry holds nothing but committed state
	// (no unflushed write, no write in an uncommitted batch), so dropping
	// it cannot hide a write.
	evictable() bool
	// referenced clears and returns the entry's reference bit.
	referenced() bool
	size() int64
}

// evictClock drops evictable entries of m until at least want bytes are
// freed, giving recently used entries a second chance (CLOCK): the first
// pass skips and clears referenced entries, the second takes any. Go's
// randomized map iteration stands in for the clock hand. Called with the
// shard's lock held; it does no I/O.
func evictClock[E clockEntry](m map[string]E, want int64) (freed int64) {
	for pass := 0; pass < 2 && freed < want; pass++ {
		for k, e := range m {
			if !e.evictable() {
				continue
			}
			if pass == 0 && e.referenced() {
				continue
			}
			freed += e.size()
			delete(m, k)
			if freed >= want {
				break
			}
		}
	}
	return freed
}
