package state

import (
	"encoding/binary"
	"slices"

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
	// t holds the keys with uncommitted appends or Clear; its budget only
	// counts bytes (nothing is evictable: a key leaves when its writes
	// commit).
	t table[*bagKey]
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

func (k *bagKey) cacheKey() string { return k.ckey }
func (k *bagKey) evictable() bool  { return false }
func (k *bagKey) referenced() bool { return false }
func (k *bagKey) size() int64      { return k.bytes }

type bagEntry struct {
	seq uint64 // counter within the store's current epoch
	gen uint64 // generation of the flush that wrote it; 0: unflushed
	val []byte
}

// NewBagState returns the bag state of operator op in namespace ns.
func NewBagState(s *Store, ns uint64, op string) *BagState {
	b := &BagState{s: s, prefix: StateKeyPrefix(ns, op)}
	s.register(b.prefix, kindBag)
	b.t.init(-1)
	return b
}

func (b *BagState) lookupLocked(sh *tableShard[*bagKey], hash uint64, key []byte, create bool) *bagKey {
	var buf [64]byte
	ck := appendCKey(buf[:0], hash, key)
	k := sh.m[string(ck)]
	if k == nil && create {
		k = &bagKey{ckey: string(ck), kp: groupPrefix(b.prefix, hash, key, bagSeqLen)}
		k.bytes = int64(len(k.ckey)+len(k.kp)) + entryOverhead
		b.t.budget.bytes.Add(k.bytes)
		sh.m[k.ckey] = k
	}
	return k
}

// Append adds val (copied) to key's bag. It is buffered until Flush.
func (b *BagState) Append(hash uint64, key, val []byte) {
	sh := b.t.shard(hash)
	val = cloneVal(val)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := b.lookupLocked(sh, hash, key, true)
	// Taken under the lock, so the entries stay in sequence order.
	k.entries = append(k.entries, bagEntry{seq: b.s.nextSeq(), val: val})
	n := int64(len(val)) + bagEntryOverhead
	k.bytes += n
	b.t.budget.bytes.Add(n)
	sh.markDirtyLocked(k, &k.dirty)
}

// Clear empties key's bag.
func (b *BagState) Clear(hash uint64, key []byte) {
	sh := b.t.shard(hash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	k := b.lookupLocked(sh, hash, key, true)
	base := int64(len(k.ckey)+len(k.kp)) + entryOverhead
	b.t.budget.bytes.Add(base - k.bytes)
	k.bytes = base
	clear(k.entries)
	k.entries = k.entries[:0]
	k.clearSeq, k.clearGen = b.s.nextSeq(), 0
	sh.markDirtyLocked(k, &k.dirty)
}

// Read calls fn with every value of key's bag in append order: the committed
// ones, then those not committed yet. val is valid only during fn.
func (b *BagState) Read(hash uint64, key []byte, fn func(val []byte) error) error {
	sh := b.t.shard(hash)
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
		kp = groupPrefix(b.prefix, hash, key, bagSeqLen)
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
	var kbuf []byte
	gen, flushed := b.t.flushRange(hashLo, hashHi, func(k *bagKey, gen uint64) {
		if k.clearSeq != 0 && k.clearGen == 0 {
			batch.DeleteRange(k.kp, b.appendSeq(append(kbuf[:0], k.kp...), k.clearSeq))
			k.clearGen = gen
		}
		// The unflushed entries are a suffix.
		i := len(k.entries)
		for i > 0 && k.entries[i-1].gen == 0 {
			i--
		}
		for j := i; j < len(k.entries); j++ {
			e := &k.entries[j]
			e.gen = gen
			kbuf = b.appendSeq(append(kbuf[:0], k.kp...), e.seq)
			batch.Set(kbuf, e.val)
		}
		k.dirty = false
	})
	if len(flushed) > 0 {
		batch.OnCommit(func() {
			b.t.committed(flushed, func(sh *tableShard[*bagKey], k *bagKey) { b.committedLocked(sh, k, gen) })
		})
	}
}

// committedLocked drops what the flush of generation gen (and every earlier
// one) wrote for k: Pebble has it now. A key left with nothing uncommitted
// leaves the table.
func (b *BagState) committedLocked(sh *tableShard[*bagKey], k *bagKey, gen uint64) {
	n := 0
	for n < len(k.entries) && k.entries[n].gen != 0 && k.entries[n].gen <= gen {
		d := int64(len(k.entries[n].val)) + bagEntryOverhead
		k.bytes -= d
		b.t.budget.bytes.Add(-d)
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
		b.t.budget.bytes.Add(-k.bytes)
	}
}

// Discard drops the uncommitted appends and Clears of key range [hashLo,
// hashHi), after a failed bundle or commit.
func (b *BagState) Discard(hashLo, hashHi uint64) { b.t.drop(hashLo, hashHi, true) }

// Bytes returns the approximate memory held by appends not yet committed.
func (b *BagState) Bytes() int64 { return b.t.budget.bytes.Load() }
