package state

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// ValueState is per-key state read and written whole (an aggregate's
// accumulator, a dedup flag), cached write-back: Put changes only the cache
// and Flush adds the bundle's changes to the commit batch.
//
//	vs := state.NewValueState(store, ns, "agg")
//	for each record of the bundle {
//		acc, ok, err := vs.Get(h, k)
//		vs.Put(h, k, update(acc, ok, rec))
//	}
//	vs.Flush(b) // then store.Commit(b)
//
// Cached entries, negative ones included, always hold the current truth for
// their key: an entry is created from Pebble or by a write, changed only by
// writes, and dropped only once everything written to it has committed (or
// by Discard). So a read never sees a value older than the last write, within
// a bundle or across commits.
//
// Several workers may share one ValueState concurrently as long as each key
// range is used by one worker at a time; such workers flush with FlushRange
// so one worker's batch never carries another's uncommitted writes.
type ValueState struct {
	s      *Store
	prefix []byte // StateKeyPrefix(ns, op)
	t      table[*valueEntry]
}

type valueEntry struct {
	ckey   string // hash (8 BE) + key; also the Pebble key after the prefix
	val    []byte // immutable; nil when !exists
	exists bool
	dirty  bool // written since the last flush; listed in the shard's dirty
	ref    bool // CLOCK reference bit
	// inflight is the generation of the last flush that wrote the entry, until
	// that batch commits; 0 when nothing of the entry is in flight.
	inflight uint64
}

func (e *valueEntry) cacheKey() string { return e.ckey }
func (e *valueEntry) evictable() bool  { return !e.dirty && e.inflight == 0 }
func (e *valueEntry) referenced() bool {
	r := e.ref
	e.ref = false
	return r
}
func (e *valueEntry) size() int64 { return int64(len(e.ckey)+len(e.val)) + entryOverhead }

// NewValueState returns the value state of operator op in namespace ns. The
// cache limit starts at 64 MiB.
func NewValueState(s *Store, ns uint64, op string) *ValueState {
	v := &ValueState{s: s, prefix: StateKeyPrefix(ns, op)}
	s.register(v.prefix, kindValue)
	v.t.init(defaultCacheLimit)
	return v
}

// Get returns the value of key: from the cache, else from Pebble (the
// result, absent included, is then cached). The returned slice must not be
// modified; it stays valid after later writes to the key.
func (v *ValueState) Get(hash uint64, key []byte) ([]byte, bool, error) {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	sh := v.t.shard(hash)
	sh.mu.Lock()
	if e := sh.m[string(ck)]; e != nil {
		e.ref = true
		val, ok := e.val, e.exists
		sh.mu.Unlock()
		return val, ok, nil
	}
	sh.mu.Unlock()

	// Miss: read Pebble without the lock. No write to this key can commit
	// meanwhile: only this key's worker writes it, and its earlier writes
	// are either committed (so Pebble has them) or still cached.
	val, ok, err := v.s.Get(append(v.prefix[:len(v.prefix):len(v.prefix)], ck...))
	if err != nil {
		return nil, false, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[string(ck)]; e != nil {
		// Filled meanwhile (a racing Get of the same key); the cache wins.
		return e.val, e.exists, nil
	}
	e := &valueEntry{ckey: string(ck), val: val, exists: ok}
	sh.m[e.ckey] = e
	v.t.budget.bytes.Add(e.size())
	return val, ok, nil
}

// Put sets key's value (copied). It changes only the cache until Flush.
func (v *ValueState) Put(hash uint64, key, val []byte) {
	v.write(hash, key, cloneVal(val), true)
}

// Delete removes key. It changes only the cache until Flush.
func (v *ValueState) Delete(hash uint64, key []byte) {
	v.write(hash, key, nil, false)
}

func (v *ValueState) write(hash uint64, key, val []byte, exists bool) {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	sh := v.t.shard(hash)
	sh.mu.Lock()
	e := sh.m[string(ck)]
	if e == nil {
		e = &valueEntry{ckey: string(ck)}
		sh.m[e.ckey] = e
	} else {
		v.t.budget.bytes.Add(-e.size())
	}
	e.val, e.exists, e.ref = val, exists, true
	v.t.budget.bytes.Add(e.size())
	sh.markDirtyLocked(e, &e.dirty)
	sh.mu.Unlock()
}

// Flush adds every dirty entry to b; it is FlushRange over the whole hash
// space, for a ValueState used by one worker.
func (v *ValueState) Flush(b *Batch) { v.FlushRange(b, 0, 0) }

// FlushRange adds the dirty entries of key range [hashLo, hashHi) (hashHi ==
// 0: to the end) to b, once per bundle commit. The entries stay cached and
// are pinned until b commits (an OnCommit hook unpins them); only then may
// the cache limit evict them, since before that Pebble does not have them
// yet. Clean entries beyond the cache limit are evicted here and after the
// commit.
func (v *ValueState) FlushRange(b *Batch, hashLo, hashHi uint64) {
	var kbuf []byte
	gen, flushed := v.t.flushRange(hashLo, hashHi, func(e *valueEntry, gen uint64) {
		kbuf = append(append(kbuf[:0], v.prefix...), e.ckey...)
		if e.exists {
			b.Set(kbuf, e.val)
		} else {
			b.Delete(kbuf)
		}
		e.dirty = false
		e.inflight = gen
	})
	if len(flushed) > 0 {
		b.OnCommit(func() {
			// Unpin, unless a later flush wrote the entry again.
			v.t.committed(flushed, func(_ *tableShard[*valueEntry], e *valueEntry) {
				if e.inflight == gen {
					e.inflight = 0
				}
			})
		})
	}
	v.t.evict(shardOf(hashLo))
}

// Evict drops the clean cached entries of key range [hashLo, hashHi): the
// range moved to another owner, whose writes this cache would otherwise hide
// if the range came back. Dirty and in-flight entries are kept; commit them
// before moving a range.
func (v *ValueState) Evict(hashLo, hashHi uint64) { v.t.drop(hashLo, hashHi, false) }

// Discard drops every cached entry of key range [hashLo, hashHi), unflushed
// writes included: after a failed bundle or a failed commit, the range must
// restart from committed state.
func (v *ValueState) Discard(hashLo, hashHi uint64) { v.t.drop(hashLo, hashHi, true) }

// SetCacheLimit sets the bytes of cached entries to keep; clean entries
// beyond it are evicted (roughly least recently used first) after each
// flush and commit. Negative means no limit; 0 keeps nothing once committed.
func (v *ValueState) SetCacheLimit(bytes int64) { v.t.setLimit(bytes) }

// Bytes returns the approximate memory the cache holds: keys, values and
// per-entry overhead of clean, dirty and in-flight entries.
func (v *ValueState) Bytes() int64 { return v.t.budget.bytes.Load() }

// Scan calls fn for every key of range [hashLo, hashHi) in key order (hash,
// then key bytes), with the cache's unflushed and uncommitted writes merged
// over Pebble's committed state. key and val are valid only during fn. fn
// may read and write the state; the scan reflects the state when it began.
func (v *ValueState) Scan(hashLo, hashHi uint64, fn func(hash uint64, key, val []byte) error) error {
	// Snapshot the writes Pebble may not have, then read Pebble without
	// locks. Clean entries equal what Pebble has and need no merging.
	var over []valueOverlay
	first, last := shardSpan(hashLo, hashHi)
	for i := first; i <= last; i++ {
		sh := &v.t.shards[i]
		sh.mu.Lock()
		for k, e := range sh.m {
			if (e.dirty || e.inflight != 0) && InRange(ckeyHash(k), hashLo, hashHi) {
				over = append(over, valueOverlay{k, e.val, e.exists})
			}
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(over, func(a, b valueOverlay) int { return strings.Compare(a.ckey, b.ckey) })

	lo, hi := spanOf(v.prefix, hashLo, hashHi)
	it, err := v.s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return storageError("scan", err)
	}
	defer it.Close()
	emit := func(ck string, val []byte) error {
		return fn(ckeyHash(ck), []byte(ck[8:]), val)
	}
	j := 0
	for ok := it.First(); ok; ok = it.Next() {
		ck := it.Key()[len(v.prefix):]
		for ; j < len(over) && over[j].ckey < string(ck); j++ {
			if over[j].exists {
				if err := emit(over[j].ckey, over[j].val); err != nil {
					return err
				}
			}
		}
		if j < len(over) && over[j].ckey == string(ck) {
			j++
			if !over[j-1].exists {
				continue
			}
			if err := emit(over[j-1].ckey, over[j-1].val); err != nil {
				return err
			}
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return storageError("scan", err)
		}
		if len(ck) < 8 {
			return errCorrupt(it.Key())
		}
		if err := fn(binary.BigEndian.Uint64(ck), ck[8:], val); err != nil {
			return err
		}
	}
	for ; j < len(over); j++ {
		if over[j].exists {
			if err := emit(over[j].ckey, over[j].val); err != nil {
				return err
			}
		}
	}
	if err := it.Error(); err != nil {
		return storageError("scan", err)
	}
	return nil
}

type valueOverlay struct {
	ckey   string
	val    []byte
	exists bool
}

// spanOf returns the Pebble span of key range [hashLo, hashHi) under an
// operator prefix.
func spanOf(prefix []byte, hashLo, hashHi uint64) (lo, hi []byte) {
	lo = appendCKey(prefix[:len(prefix):len(prefix)], hashLo, nil)
	if hashHi == 0 {
		return lo, PrefixEnd(prefix)
	}
	return lo, appendCKey(prefix[:len(prefix):len(prefix)], hashHi, nil)
}
