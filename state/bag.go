package state

import (
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// BagState is per-key state appended to often and read in full rarely (a
// join's buffered rows, a window's elements before they are combined). Each
// appended value is its own Pebble key under a per-key sequence number, so
// an append costs one blind write at flush and never a read.
//
//	bs := state.NewBagState(store, ns, "join/left")
//	bs.Append(h, k, row)
//	err := bs.Read(h, k, func(row []byte) error { ... })
//	bs.Clear(h, k)
//	bs.Flush(b)
//
// Sequence numbers are the store's boot epoch (4 bytes, bumped by every Open)
// and a store-wide counter (8 bytes), so a key's values sort in append order
// across restarts without reading the last sequence number first.
//
// Nothing is cached for reading: the bag keeps only appends (and a Clear)
// that have not committed yet, and Read merges them with Pebble. Reads match
// the two by sequence number, so an append that commits while Read runs is
// reported once, not twice or never.
//
// Concurrency is that of ValueState: workers on disjoint key ranges may share
// one BagState and flush with FlushRange.
type BagState struct {
	s      *Store
	prefix []byte // StateKeyPrefix(ns, op)
	gen    atomic.Uint64
	bytes  atomic.Int64
	shards [numShards]bagShard
}

type bagShard struct {
	// mu guards m, dirty and the bagKeys in m. No Pebble I/O happens under it.
	mu    sync.Mutex
	m     map[string]*bagKey
	dirty []*bagKey
	_     [32]byte
}

// bagEntryOverhead approximates a buffered value's memory besides its bytes.
const bagEntryOverhead = 40

// bagSeqLen is the length of an encoded sequence number: epoch (4 BE) and
// counter (8 BE).
const bagSeqLen = 12

// bagKey holds one grouping key's uncommitted appends and Clear.
type bagKey struct {
	ckey string // hash (8 BE) + key
	kp   []byte // prefix + hash + escaped key: the Pebble prefix of the values
	// entries are the appends not yet committed, in sequence order; the
	// unflushed ones (gen 0) are a suffix.
	entries []bagEntry
	// clearSeq is the counter of the last Clear not yet committed (0: none).
	// It hides every Pebble value of an earlier epoch or a smaller counter;
	// clearGen is the flush that wrote its range deletion (0: unflushed).
	clearSeq, clearGen uint64
	dirty              bool // listed in the shard's dirty
	bytes              int64
}

type bagEntry struct {
	seq uint64 // counter within the store's current epoch
	gen uint64 // generation of the flush that wrote it; 0: unflushed
	val []byte
}

// NewBagState returns the bag state of operator op in namespace ns.
func NewBagState(s *Store, ns uint64, op string) *BagState {
	b := &BagState{s: s, prefix: StateKeyPrefix(ns, op)}
	s.register(b.prefix, kindBag)
	for i := range b.shards {
		b.shards[i].m = make(map[string]*bagKey)
	}
	return b
}

func (b *BagState) lookupLocked(sh *bagShard, hash uint64, key []byte, create bool) *bagKey {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	k := sh.m[string(ck)]
	if k == nil && create {
		kp := make([]byte, 0, len(b.prefix)+8+len(key)+2+bagSeqLen)
		kp = append(kp, b.prefix...)
		kp = binary.BigEndian.AppendUint64(kp, hash)
		k = &bagKey{ckey: string(ck), kp: appendEscaped(kp, key)}
		k.bytes = int64(len(k.ckey)+len(k.kp)) + entryOverhead
		b.bytes.Add(k.bytes)
		sh.m[k.ckey] = k
	}
	return k
}

func (b *BagState) markDirtyLocked(sh *bagShard, k *bagKey) {
	if !k.dirty {
		k.dirty = true
		sh.dirty = append(sh.dirty, k)
	}
}

// Append adds val (copied) to key's bag. It is buffered until Flush.
func (b *BagState) Append(hash uint64, key, val []byte) {
	sh := &b.shards[shardOf(hash)]
	val = cloneVal(val)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := b.lookupLocked(sh, hash, key, true)
	// Taken under the lock, so the entries stay in sequence order.
	k.entries = append(k.entries, bagEntry{seq: b.s.nextSeq(), val: val})
	n := int64(len(val)) + bagEntryOverhead
	k.bytes += n
	b.bytes.Add(n)
	b.markDirtyLocked(sh, k)
}

// Clear empties key's bag.
func (b *BagState) Clear(hash uint64, key []byte) {
	sh := &b.shards[shardOf(hash)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := b.lookupLocked(sh, hash, key, true)
	base := int64(len(k.ckey)+len(k.kp)) + entryOverhead
	b.bytes.Add(base - k.bytes)
	k.bytes = base
	clear(k.entries)
	k.entries = k.entries[:0]
	k.clearSeq, k.clearGen = b.s.nextSeq(), 0
	b.markDirtyLocked(sh, k)
}

// Read calls fn with every value of key's bag in append order: the committed
// ones, then those not committed yet. val is valid only during fn.
func (b *BagState) Read(hash uint64, key []byte, fn func(val []byte) error) error {
	sh := &b.shards[shardOf(hash)]
	var over []bagEntry
	var kp []byte
	var clearSeq uint64
	sh.mu.Lock()
	if k := b.lookupLocked(sh, hash, key, false); k != nil {
		over = slices.Clone(k.entries)
		kp, clearSeq = k.kp, k.clearSeq
	}
	sh.mu.Unlock()
	if kp == nil {
		kp = binary.BigEndian.AppendUint64(append([]byte(nil), b.prefix...), hash)
		kp = appendEscaped(kp, key)
	}
	lower := kp
	if clearSeq != 0 {
		lower = b.appendSeq(kp[:len(kp):len(kp)], clearSeq)
	}
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: PrefixEnd(kp)})
	if err != nil {
		return storageError("read", err)
	}
	defer it.Close()
	j := 0
	for ok := it.First(); ok; ok = it.Next() {
		tail := it.Key()[len(kp):]
		if len(tail) != bagSeqLen {
			return errCorrupt(it.Key())
		}
		epoch, seq := binary.BigEndian.Uint32(tail), binary.BigEndian.Uint64(tail[4:])
		// Buffered entries are all of the current epoch.
		for ; j < len(over) && epoch == b.s.epoch && over[j].seq < seq; j++ {
			if err := fn(over[j].val); err != nil {
				return err
			}
		}
		if j < len(over) && epoch == b.s.epoch && over[j].seq == seq {
			j++ // committed while we read: report it once
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return storageError("read", err)
		}
		if err := fn(val); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return storageError("read", err)
	}
	for ; j < len(over); j++ {
		if err := fn(over[j].val); err != nil {
			return err
		}
	}
	return nil
}

func (b *BagState) appendSeq(dst []byte, seq uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, b.s.epoch)
	return binary.BigEndian.AppendUint64(dst, seq)
}

// Flush adds every unflushed append and Clear to batch; it is FlushRange over
// the whole hash space.
func (b *BagState) Flush(batch *Batch) { b.FlushRange(batch, 0, 0) }

// FlushRange adds the unflushed appends and Clears of key range [hashLo,
// hashHi) to batch. A Clear becomes a deletion of the key's values below its
// sequence number, so it cannot touch values appended after it whatever
// order the writes land in. The values stay buffered (and visible to Read)
// until batch commits.
func (b *BagState) FlushRange(batch *Batch, hashLo, hashHi uint64) {
	gen := b.gen.Add(1)
	whole := hashLo == 0 && hashHi == 0
	var flushed []*bagKey
	var kbuf []byte
	first, last := shardSpan(hashLo, hashHi)
	for i := first; i <= last; i++ {
		sh := &b.shards[i]
		sh.mu.Lock()
		// In key order, as in ValueState.FlushRange.
		slices.SortFunc(sh.dirty, func(a, b *bagKey) int { return strings.Compare(a.ckey, b.ckey) })
		keep := sh.dirty[:0]
		for _, k := range sh.dirty {
			if !whole && !InRange(ckeyHash(k.ckey), hashLo, hashHi) {
				keep = append(keep, k)
				continue
			}
			if k.clearSeq != 0 && k.clearGen == 0 {
				batch.DeleteRange(k.kp, b.appendSeq(append(kbuf[:0], k.kp...), k.clearSeq))
				k.clearGen = gen
			}
			for e := len(k.entries) - 1; e >= 0 && k.entries[e].gen == 0; e-- {
				k.entries[e].gen = gen
			}
			for _, e := range k.entries {
				if e.gen == gen {
					kbuf = b.appendSeq(append(kbuf[:0], k.kp...), e.seq)
					batch.Set(kbuf, e.val)
				}
			}
			k.dirty = false
			flushed = append(flushed, k)
		}
		clear(sh.dirty[len(keep):])
		sh.dirty = keep
		sh.mu.Unlock()
	}
	if len(flushed) > 0 {
		batch.OnCommit(func() { b.committed(gen, flushed) })
	}
}

// committed drops what a flush of generation gen (and every earlier one)
// wrote: Pebble has it now.
func (b *BagState) committed(gen uint64, flushed []*bagKey) {
	for i := 0; i < len(flushed); {
		idx := shardOf(ckeyHash(flushed[i].ckey))
		sh := &b.shards[idx]
		sh.mu.Lock()
		for ; i < len(flushed) && shardOf(ckeyHash(flushed[i].ckey)) == idx; i++ {
			k := flushed[i]
			if sh.m[k.ckey] != k {
				continue // discarded meanwhile
			}
			n := 0
			for n < len(k.entries) && k.entries[n].gen != 0 && k.entries[n].gen <= gen {
				d := int64(len(k.entries[n].val)) + bagEntryOverhead
				k.bytes -= d
				b.bytes.Add(-d)
				n++
			}
			if n > 0 {
				k.entries = slices.Delete(k.entries, 0, n)
			}
			if k.clearGen != 0 && k.clearGen <= gen {
				k.clearSeq, k.clearGen = 0, 0
			}
			if len(k.entries) == 0 && k.clearSeq == 0 && !k.dirty {
				delete(sh.m, k.ckey)
				b.bytes.Add(-k.bytes)
			}
		}
		sh.mu.Unlock()
	}
}

// Discard drops the uncommitted appends and Clears of key range [hashLo,
// hashHi), after a failed bundle or commit.
func (b *BagState) Discard(hashLo, hashHi uint64) {
	first, last := shardSpan(hashLo, hashHi)
	for i := first; i <= last; i++ {
		sh := &b.shards[i]
		var freed int64
		sh.mu.Lock()
		for ck, k := range sh.m {
			if InRange(ckeyHash(ck), hashLo, hashHi) {
				freed += k.bytes
				delete(sh.m, ck)
			}
		}
		sh.dirty = slices.DeleteFunc(sh.dirty, func(k *bagKey) bool {
			return InRange(ckeyHash(k.ckey), hashLo, hashHi)
		})
		sh.mu.Unlock()
		b.bytes.Add(-freed)
	}
}

// Bytes returns the approximate memory held by appends not yet committed.
func (b *BagState) Bytes() int64 { return b.bytes.Load() }
