package state

import (
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// MapState is per-key state shaped as a map read by entry (a set of open
// sessions per user, a join's rows by join key): each grouping key owns a map
// from map keys to values, stored one Pebble key per entry, so reading or
// writing one entry costs one entry.
//
//	ms := state.NewMapState(store, ns, "sessions")
//	v, ok, err := ms.Get(h, user, sessionID)
//	ms.Put(h, user, sessionID, v2)
//	err = ms.Iterate(h, user, func(id, v []byte) error { ... })
//	ms.Flush(b)
//
// Entries are cached write-back as in ValueState; the unit of eviction is a
// grouping key with all its cached entries. After Clear the cache knows the
// whole map of the key (it is empty but for later writes), so misses on it
// need no Pebble read until the key is evicted.
//
// Concurrency is that of ValueState: workers on disjoint key ranges may share
// one MapState and flush with FlushRange.
type MapState struct {
	s      *Store
	prefix []byte // StateKeyPrefix(ns, op)
	t      table[*mapKey]
}

// mapKey is the cached part of one grouping key's map.
type mapKey struct {
	ckey string // hash (8 BE) + key
	// kp is prefix + hash + escaped key: the Pebble prefix of the key's
	// entries, the map key following it.
	kp        []byte
	entries   map[string]*mapEntry
	dirtyKeys []string // map keys written since the last flush
	// complete means entries hold the whole map: a missing map key is
	// absent, no Pebble read needed. Set by Clear, lost on eviction.
	complete     bool
	clearPending bool // Clear not flushed yet: flush writes a range deletion
	dirty        bool // listed in the shard's dirty
	ref          bool
	// inflight is the generation of the last flush that wrote this key, until
	// that batch commits. Batches commit in flush order, so once it commits
	// every earlier flush of the key has too.
	inflight uint64
	bytes    int64 // cached bytes of entries, keys and overhead
}

type mapEntry struct {
	mk     string // the map key, shared with the entries map and dirtyKeys
	val    []byte // immutable
	exists bool
	dirty  bool
}

func (k *mapKey) cacheKey() string { return k.ckey }
func (k *mapKey) evictable() bool  { return !k.dirty && k.inflight == 0 }
func (k *mapKey) referenced() bool {
	r := k.ref
	k.ref = false
	return r
}
func (k *mapKey) size() int64 { return k.bytes }

func mapEntrySize(mk string, val []byte) int64 { return int64(len(mk)+len(val)) + entryOverhead }

// NewMapState returns the map state of operator op in namespace ns. The cache
// limit starts at 64 MiB.
func NewMapState(s *Store, ns uint64, op string) *MapState {
	m := &MapState{s: s, prefix: StateKeyPrefix(ns, op)}
	s.register(m.prefix, kindMap)
	m.t.init(defaultCacheLimit)
	return m
}

// lookupLocked returns key's cached map, creating it if create is set.
func (m *MapState) lookupLocked(sh *tableShard[*mapKey], ck []byte, hash uint64, key []byte, create bool) *mapKey {
	k := sh.m[string(ck)]
	if k == nil && create {
		k = &mapKey{ckey: string(ck), kp: groupPrefix(m.prefix, hash, key, 0), entries: make(map[string]*mapEntry)}
		k.bytes = int64(len(k.ckey)+len(k.kp)) + entryOverhead
		sh.m[k.ckey] = k
		m.t.budget.bytes.Add(k.bytes)
	}
	return k
}

// Get returns the value at mapKey in key's map: from the cache, else from
// Pebble (the result, absent included, is then cached). The returned slice
// must not be modified; it stays valid after later writes.
func (m *MapState) Get(hash uint64, key, mapKey []byte) ([]byte, bool, error) {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	sh := m.t.shard(hash)
	var kp []byte
	sh.mu.Lock()
	if k := sh.m[string(ck)]; k != nil {
		k.ref = true
		if e := k.entries[string(mapKey)]; e != nil {
			val, ok := e.val, e.exists
			sh.mu.Unlock()
			return val, ok, nil
		}
		if k.complete {
			sh.mu.Unlock()
			return nil, false, nil
		}
		kp = k.kp
	}
	sh.mu.Unlock()

	// Miss: read Pebble unlocked (see ValueState.Get for why that is safe).
	if kp == nil {
		kp = groupPrefix(m.prefix, hash, key, 0)
	}
	val, ok, err := m.s.Get(append(kp[:len(kp):len(kp)], mapKey...))
	if err != nil {
		return nil, false, err
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := m.lookupLocked(sh, ck, hash, key, true)
	if e := k.entries[string(mapKey)]; e != nil {
		return e.val, e.exists, nil
	}
	if k.complete {
		return nil, false, nil
	}
	mk := string(mapKey)
	k.entries[mk] = &mapEntry{mk: mk, val: val, exists: ok}
	n := mapEntrySize(mk, val)
	k.bytes += n
	m.t.budget.bytes.Add(n)
	return val, ok, nil
}

// Put sets mapKey in key's map to val (both copied).
func (m *MapState) Put(hash uint64, key, mapKey, val []byte) {
	m.write(hash, key, mapKey, cloneVal(val), true)
}

// Delete removes mapKey from key's map.
func (m *MapState) Delete(hash uint64, key, mapKey []byte) {
	m.write(hash, key, mapKey, nil, false)
}

func (m *MapState) write(hash uint64, key, mapKey, val []byte, exists bool) {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	sh := m.t.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := m.lookupLocked(sh, ck, hash, key, true)
	k.ref = true
	e := k.entries[string(mapKey)]
	if e == nil {
		e = &mapEntry{mk: string(mapKey)}
		k.entries[e.mk] = e
	} else {
		n := mapEntrySize(e.mk, e.val)
		k.bytes -= n
		m.t.budget.bytes.Add(-n)
	}
	e.val, e.exists = val, exists
	n := mapEntrySize(e.mk, val)
	k.bytes += n
	m.t.budget.bytes.Add(n)
	if !e.dirty {
		e.dirty = true
		k.dirtyKeys = append(k.dirtyKeys, e.mk)
	}
	sh.markDirtyLocked(k, &k.dirty)
}

// Clear removes key's whole map.
func (m *MapState) Clear(hash uint64, key []byte) {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	sh := m.t.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := m.lookupLocked(sh, ck, hash, key, true)
	base := int64(len(k.ckey)+len(k.kp)) + entryOverhead
	m.t.budget.bytes.Add(base - k.bytes)
	k.bytes = base
	k.entries = make(map[string]*mapEntry)
	k.dirtyKeys = k.dirtyKeys[:0]
	k.complete = true
	k.clearPending = true
	sh.markDirtyLocked(k, &k.dirty)
}

// Iterate calls fn for every entry of key's map in map key order, with the
// cached writes merged over Pebble's committed entries. mapKey and val are
// valid only during fn. fn may read and write the state; the iteration
// reflects the map when it began.
func (m *MapState) Iterate(hash uint64, key []byte, fn func(mapKey, val []byte) error) error {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	sh := m.t.shard(hash)
	// Snapshot the cached entries (all of them hold the truth for their map
	// key), then read Pebble without locks.
	var over []mapOverlay
	var kp []byte
	complete := false
	sh.mu.Lock()
	if k := sh.m[string(ck)]; k != nil {
		k.ref = true
		over = make([]mapOverlay, 0, len(k.entries))
		for mk, e := range k.entries {
			over = append(over, mapOverlay{mk, e.val, e.exists})
		}
		kp, complete = k.kp, k.complete
	}
	sh.mu.Unlock()
	slices.SortFunc(over, func(a, b mapOverlay) int { return strings.Compare(a.mk, b.mk) })
	emit := func(o mapOverlay) error {
		if !o.exists {
			return nil
		}
		return fn([]byte(o.mk), o.val)
	}
	if complete {
		for _, o := range over {
			if err := emit(o); err != nil {
				return err
			}
		}
		return nil
	}

	if kp == nil {
		kp = groupPrefix(m.prefix, hash, key, 0)
	}
	it, err := m.s.db.NewIter(&pebble.IterOptions{LowerBound: kp, UpperBound: PrefixEnd(kp)})
	if err != nil {
		return storageError("iterate", err)
	}
	defer it.Close()
	j := 0
	for ok := it.First(); ok; ok = it.Next() {
		mk := it.Key()[len(kp):]
		for ; j < len(over) && over[j].mk < string(mk); j++ {
			if err := emit(over[j]); err != nil {
				return err
			}
		}
		if j < len(over) && over[j].mk == string(mk) {
			j++
			if err := emit(over[j-1]); err != nil {
				return err
			}
			continue
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return storageError("iterate", err)
		}
		if err := fn(mk, val); err != nil {
			return err
		}
	}
	for ; j < len(over); j++ {
		if err := emit(over[j]); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return storageError("iterate", err)
	}
	return nil
}

type mapOverlay struct {
	mk     string
	val    []byte
	exists bool
}

// Flush adds every unflushed write to b; it is FlushRange over the whole
// hash space.
func (m *MapState) Flush(b *Batch) { m.FlushRange(b, 0, 0) }

// FlushRange adds the unflushed writes of key range [hashLo, hashHi) to b:
// a Clear becomes a range deletion of the key's entries, written before the
// entries set after it so those survive. Written keys stay pinned in the
// cache until b commits, as in ValueState.FlushRange.
func (m *MapState) FlushRange(b *Batch, hashLo, hashHi uint64) {
	var kbuf []byte
	gen, flushed := m.t.flushRange(hashLo, hashHi, func(k *mapKey, gen uint64) {
		if k.clearPending {
			b.DeleteRange(k.kp, PrefixEnd(k.kp))
			k.clearPending = false
		}
		slices.Sort(k.dirtyKeys)
		for _, mk := range k.dirtyKeys {
			e := k.entries[mk]
			kbuf = append(append(kbuf[:0], k.kp...), mk...)
			if e.exists {
				b.Set(kbuf, e.val)
			} else {
				b.Delete(kbuf)
			}
			e.dirty = false
		}
		clear(k.dirtyKeys)
		k.dirtyKeys = k.dirtyKeys[:0]
		k.dirty = false
		k.inflight = gen
	})
	if len(flushed) > 0 {
		b.OnCommit(func() {
			m.t.committed(flushed, func(_ *tableShard[*mapKey], k *mapKey) {
				if k.inflight == gen {
					k.inflight = 0
				}
			})
		})
	}
	m.t.evict(shardOf(hashLo))
}

// Evict drops the clean cached keys of key range [hashLo, hashHi), as
// ValueState.Evict.
func (m *MapState) Evict(hashLo, hashHi uint64) { m.t.drop(hashLo, hashHi, false) }

// Discard drops every cached key of key range [hashLo, hashHi), unflushed
// writes included, as ValueState.Discard.
func (m *MapState) Discard(hashLo, hashHi uint64) { m.t.drop(hashLo, hashHi, true) }

// SetCacheLimit sets the bytes of cached state to keep, as
// ValueState.SetCacheLimit.
func (m *MapState) SetCacheLimit(bytes int64) { m.t.setLimit(bytes) }

// Bytes returns the approximate memory the cache holds.
func (m *MapState) Bytes() int64 { return m.t.budget.bytes.Load() }
