package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/pgerr"
)

// ErrClosed is returned by a Store (and the state objects over it) after
// Close.
var ErrClosed = pgerr.New(pgerr.IOError, "state: store closed")

// Options configures Open.
type Options struct {
	// FS is the filesystem; nil means the OS filesystem. Tests pass
	// vfs.NewMem(), or vfs.NewCrashableMem() to simulate crashes with
	// CrashClone.
	FS vfs.FS
	// CacheBytes sizes Pebble's block cache; 0 means 64 MiB.
	CacheBytes int64
	// NoSync makes commits return before the WAL is fsynced. For benchmarks
	// only: a crash may lose commits that were reported durable.
	NoSync bool
	// MemTableBytes sizes Pebble's memtables; 0 means 16 MiB. Every bundle
	// commit is one batch of its whole delta, so memtables must be several
	// bundles large: a batch of more than half a memtable is flushed to its
	// own sstable, and small memtables mean a flush every few commits.
	MemTableBytes int64
	// CommitHook, if set, runs in every Commit right before the batch is
	// applied (after=false) and right after it is durable, before its
	// OnCommit hooks and before the caller learns of it (after=true).
	// Crash tests kill the process there (cmd/weir: WEIR_CRASH_COMMIT).
	CommitHook func(after bool)
}

const (
	defaultCacheBytes    = 64 << 20
	defaultMemTableBytes = 16 << 20
)

// Store is the single durable store of a Weir process: one Pebble DB holding
// the catalog, log sources, tables, operator state, timers, queues and job
// metadata under distinct key prefixes (see keys.go), so one atomic batch can
// commit everything a bundle did.
//
//	s, err := state.Open(dir, state.Options{})
//	b := s.NewBatch()
//	agg.Flush(b)          // state objects add their dirty entries
//	b.Set(outKey, outVal) // outputs, source positions, ...
//	err = s.Commit(b)     // atomic and synced
//	b.Reset()
//
// A Store is safe for concurrent use.
type Store struct {
	opts      Options
	db        *pebble.DB
	cache     *pebble.Cache
	writeOpts *pebble.WriteOptions

	// epoch is the boot epoch read and bumped by Open; seq hands out BagState
	// sequence numbers within it. Both are store-wide so the sequence numbers
	// of one key grow across every BagState over the store and every restart.
	epoch uint32
	seq   atomic.Uint64

	closed atomic.Bool
	// failed holds the error of a commit that Pebble considers fatal (its
	// commit pipeline is unusable afterwards); every later Commit returns it.
	failed atomic.Pointer[pgerr.Error]

	mu struct {
		// mu guards the registries below. No I/O happens under it, except
		// that Close closes the registered Timers (waiting for their loaders)
		// after releasing it.
		sync.Mutex
		// kinds records which state shape each operator prefix holds, so two
		// shapes can never write each other's keys (see stateKind).
		kinds map[string]stateKind
		// timers are the open Timers; Close closes them first so no loader
		// reads a closed DB.
		timers map[*Timers]struct{}
	}
}

// stateKind is the shape of state stored under one operator prefix. The
// three shapes lay out keys differently under the same StateKeyPrefix, so
// one (ns, op) may hold only one of them; an operator with several states
// names them apart ("join/left", "join/right").
type stateKind byte

const (
	kindNone stateKind = iota
	kindValue
	kindBag
	kindMap
)

func (k stateKind) String() string {
	return [...]string{"none", "value", "bag", "map"}[k]
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	cacheBytes := opts.CacheBytes
	if cacheBytes <= 0 {
		cacheBytes = defaultCacheBytes
	}
	s := &Store{cache: pebble.NewCache(cacheBytes), writeOpts: pebble.Sync, opts: opts}
	if opts.NoSync {
		s.writeOpts = pebble.NoSync
	}
	s.mu.kinds = make(map[string]stateKind)
	s.mu.timers = make(map[*Timers]struct{})
	memTable := opts.MemTableBytes
	if memTable <= 0 {
		memTable = defaultMemTableBytes
	}
	popts := &pebble.Options{
		FS:                          opts.FS,
		Cache:                       s.cache,
		Logger:                      logger{},
		FormatMajorVersion:          pebble.FormatNewest,
		MemTableSize:                uint64(memTable),
		MemTableStopWritesThreshold: 4,
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		s.cache.Unref()
		return nil, storageError("open "+dir, err)
	}
	s.db = db
	if err := s.bumpEpoch(); err != nil {
		_ = db.Close()
		s.cache.Unref()
		return nil, err
	}
	return s, nil
}

// bumpEpoch reads the boot epoch, increments it and syncs it before the
// store is used, so no sequence number of this boot can repeat one of an
// earlier boot even after a crash.
func (s *Store) bumpEpoch() error {
	v, ok, err := s.Get(epochKey)
	if err != nil {
		return err
	}
	var epoch uint32
	if ok {
		if len(v) != 4 {
			return pgerr.New(pgerr.IOError, "state: corrupt boot epoch %x", v)
		}
		epoch = binary.BigEndian.Uint32(v)
	}
	epoch++
	if err := s.db.Set(epochKey, binary.BigEndian.AppendUint32(nil, epoch), pebble.Sync); err != nil {
		return storageError("write boot epoch", err)
	}
	s.epoch = epoch
	return nil
}

// Close closes every open Timers over the store, then the DB. State objects
// hold no resources and need no closing, but must not be used afterwards.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	s.mu.Lock()
	timers := make([]*Timers, 0, len(s.mu.timers))
	for t := range s.mu.timers {
		timers = append(timers, t)
	}
	s.mu.Unlock()
	for _, t := range timers {
		t.Close()
	}
	err := s.db.Close()
	s.cache.Unref()
	if err != nil {
		return storageError("close", err)
	}
	return nil
}

// DB returns the Pebble DB, for packages that lay out their own keys
// (catalog, tables, log sources). Writes that must be atomic with a bundle go
// through a Batch instead.
func (s *Store) DB() *pebble.DB { return s.db }

// Get returns a copy of the value at key.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, ErrClosed
	}
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storageError("get", err)
	}
	// Never nil for a present key, so callers can tell "" from absent.
	out := append(make([]byte, 0, len(v)), v...)
	_ = closer.Close()
	return out, true, nil
}

// Scan calls fn for every key in [lo, hi) in ascending order (hi == nil: no
// upper bound). k and v are valid only during the call. An error from fn
// stops the scan and is returned.
func (s *Store) Scan(lo, hi []byte, fn func(k, v []byte) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return storageError("scan", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return storageError("scan", err)
		}
		if err := fn(it.Key(), v); err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return storageError("scan", err)
	}
	return nil
}

// Checkpoint writes a consistent copy of the whole store to destDir (which
// must not exist), hard-linking sstables where the filesystem allows. The
// WAL is flushed first, so the copy holds every commit that returned.
func (s *Store) Checkpoint(destDir string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.db.Checkpoint(destDir, pebble.WithFlushedWAL()); err != nil {
		return storageError("checkpoint "+destDir, err)
	}
	return nil
}

// register records that the operator prefix holds state of the given kind;
// it panics if the prefix already holds another kind, since the two would
// corrupt each other's keys.
func (s *Store) register(prefix []byte, kind stateKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.mu.kinds[string(prefix)]; old != kindNone && old != kind {
		panic(fmt.Sprintf("state: %s holds %s state; cannot open it as %s state",
			s.FormatKey(prefix), old, kind))
	}
	s.mu.kinds[string(prefix)] = kind
}

func (s *Store) kindOf(prefix []byte) stateKind {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.kinds[string(prefix)]
}

// nextSeq returns a BagState sequence number: the counter part; the epoch
// part is s.epoch.
func (s *Store) nextSeq() uint64 { return s.seq.Add(1) }

// codeDataCorrupted is PostgreSQL's data_corrupted: a key or value in the
// store does not decode.
const codeDataCorrupted = "XX001"

func errCorrupt(k []byte) error {
	return pgerr.New(codeDataCorrupted, "state: corrupt key %x", k)
}

// storageError turns a Pebble or filesystem error into a pgerr: 53100 when
// the disk is full, 58030 for any other I/O failure.
func storageError(what string, err error) *pgerr.Error {
	if pe := (*pgerr.Error)(nil); errors.As(err, &pe) {
		return pe
	}
	code := pgerr.IOError
	if vfs.IsNoSpaceError(err) {
		code = pgerr.DiskFull
	}
	return pgerr.New(code, "state: %s: %v", what, err)
}

// logger keeps Pebble's informational chatter out of the process log and
// turns its Fatalf into a panic that Commit can recover: Pebble calls
// Fatalf when a WAL write or sync fails, and a streaming engine must report
// that as an error (and stop the store) rather than exit the process.
type logger struct{}

// fatalError is what logger.Fatalf panics with. It is an error so that a
// Fatalf outside Commit (in a Pebble background goroutine, where nothing
// recovers it) still crashes with a readable message.
type fatalError struct{ err error }

func (f fatalError) Error() string { return "pebble: fatal: " + f.err.Error() }

func (logger) Infof(string, ...any) {}

func (logger) Errorf(format string, args ...any) {
	log.Printf("pebble: "+format, args...)
}

func (logger) Fatalf(format string, args ...any) {
	var err error
	for _, a := range args {
		if e, ok := a.(error); ok {
			err = e
			break
		}
	}
	if err == nil {
		err = fmt.Errorf(format, args...)
	}
	panic(fatalError{err: err})
}
