package state

import (
	"github.com/cockroachdb/pebble/v2"
)

// Batch collects the writes of one bundle: state changes (added by the state
// objects' Flush), timers, outputs and source positions. Store.Commit applies
// it atomically and durably.
//
//	b := s.NewBatch()
//	defer b.Close()
//	for each bundle {
//		... process, then:
//		vs.Flush(b); timers.Flush(b); b.Set(posKey, pos)
//		if err := s.Commit(b); err != nil { ... }
//		b.Reset()
//	}
//
// A Batch is used by one goroutine at a time.
type Batch struct {
	s  *Store
	pb *pebble.Batch
	// hooks run, in order, after the batch commits. State objects use them to
	// learn that what they flushed is durable and visible to Pebble readers;
	// only then may a cache drop a written entry (see ValueState.Flush).
	hooks []func()
	// err is the first error an operation on the batch returned; Commit
	// reports it instead of committing.
	err error
}

// NewBatch returns an empty batch.
func (s *Store) NewBatch() *Batch {
	return &Batch{s: s, pb: s.db.NewBatch()}
}

// Set adds a write of v at k. The batch copies k and v.
func (b *Batch) Set(k, v []byte) { b.note(b.pb.Set(k, v, nil)) }

// Delete adds a deletion of k.
func (b *Batch) Delete(k []byte) { b.note(b.pb.Delete(k, nil)) }

// DeleteRange adds a deletion of every key in [lo, hi).
func (b *Batch) DeleteRange(lo, hi []byte) { b.note(b.pb.DeleteRange(lo, hi, nil)) }

func (b *Batch) note(err error) {
	if err != nil && b.err == nil {
		b.err = storageError("batch", err)
	}
}

// OnCommit registers fn to run after the batch commits successfully, in the
// committing goroutine, after the writes are visible to readers. Hooks run
// in registration order; a failed or abandoned (Reset) batch runs none.
func (b *Batch) OnCommit(fn func()) { b.hooks = append(b.hooks, fn) }

// Len returns the size of the batch's encoded writes in bytes.
func (b *Batch) Len() int { return b.pb.Len() }

// Count returns the number of writes in the batch.
func (b *Batch) Count() uint32 { return b.pb.Count() }

// Repr returns a copy of the batch's encoded writes (Pebble's batch
// representation; crash tests decode it with pebble/batchrepr).
func (b *Batch) Repr() []byte { return append([]byte(nil), b.pb.Repr()...) }

// Empty reports whether the batch holds no writes.
func (b *Batch) Empty() bool { return b.pb.Empty() }

// retainedBatchBytes is the largest batch buffer Pebble keeps across a
// Reset (its default).
const retainedBatchBytes = 1 << 20

// Reset empties the batch for reuse, dropping its writes and hooks. A batch
// too large for Pebble to keep its buffer gets a new one of about the same
// size at once, so the next bundle, likely as large, does not grow it again
// by doubling (copying it each time).
func (b *Batch) Reset() {
	if n := b.pb.Len(); n > retainedBatchBytes {
		_ = b.pb.Close()
		b.pb = b.s.db.NewBatchWithSize(n + n/8)
	} else {
		b.pb.Reset()
	}
	clear(b.hooks)
	b.hooks = b.hooks[:0]
	b.err = nil
}

// Close releases the batch. It must not be used afterwards.
func (b *Batch) Close() {
	_ = b.pb.Close()
	b.hooks = nil
}

// Commit applies b atomically and, unless the store was opened with NoSync,
// durably: when Commit returns nil every write in b is on disk and visible,
// and b's OnCommit hooks have run. Afterwards b may be Reset and reused.
//
// Errors carry SQLSTATE 53100 when the disk is full and 58030 for other I/O
// failures. A failed commit leaves the state objects that flushed into b
// holding writes that may not be durable: the caller must Discard the key
// range (and reload its Timers) before retrying from committed state. If
// Pebble reports the failure as fatal (a WAL write or sync failed), the
// store is poisoned: every later Commit returns the same error and the store
// must be closed and reopened.
func (s *Store) Commit(b *Batch) (err error) {
	if b.s != s {
		panic("state: batch belongs to another store")
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if pe := s.failed.Load(); pe != nil {
		return pe
	}
	if b.err != nil {
		return b.err
	}
	hook := s.opts.CommitHook
	if hook != nil {
		hook(false)
	}
	if err := s.apply(b.pb); err != nil {
		return err
	}
	if hook != nil {
		hook(true)
	}
	for _, h := range b.hooks {
		h()
	}
	clear(b.hooks)
	b.hooks = b.hooks[:0]
	return nil
}

// apply runs Pebble's Apply, catching the panic our logger raises for a
// fatal commit error. Pebble raises it after its commit pipeline returned,
// holding none of its locks, so recovering here is safe.
func (s *Store) apply(pb *pebble.Batch) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			pe := storageError("commit", fe.err)
			s.failed.CompareAndSwap(nil, pe)
			err = s.failed.Load()
		}
	}()
	if err := s.db.Apply(pb, s.writeOpts); err != nil {
		return storageError("commit", err)
	}
	return nil
}
