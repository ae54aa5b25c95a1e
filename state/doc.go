// Package state is the single durable store of a Weir process and the keyed
// state and timers that executor operators keep in it.
//
// # Layer
//
// A Store is one Pebble DB. Everything durable lives in it under distinct
// key prefixes (catalog, log-source records, table rows, operator state,
// timers, inter-stage queues, job metadata), so that one atomic Batch can
// commit all that a bundle did: its state changes, the timers it set and
// fired, the records it produced and its source position. Nothing a bundle
// did is visible before that batch is synced (MillWheel's strong
// production); Store.Commit is the only way a bundle's writes reach Pebble.
//
// Over the store sit the state shapes operators need, each with the caching
// that fits how it is used:
//
//   - ValueState: a value read and written whole per key. Write-back cache:
//     Get fills it (negatives too), Put dirties it, Flush writes the bundle's
//     changes into the batch. Reading and writing Pebble per record is too
//     slow (about 0.45M events/s on one core); aggregating in the cache and
//     writing deltas at commit is the point of the package.
//   - BagState: appended to often, read in full rarely. Appends are blind
//     writes under a per-key sequence number; nothing is cached for reading.
//   - MapState: a map per key read by entry. Entries are cached write-back
//     like values; a key's cached entries are evicted together.
//   - Timers: per-key event-time or processing-time timers of one operator
//     and key range, journaled in Pebble, with every timer due before a
//     horizon kept in memory and the next slice loaded in the background.
//
// # Key layout
//
// keys.go is the one place that defines it. Prefix bytes: 'c' catalog, 'l'
// log-source records, 't' table rows, 's' operator state, 'T' timers, 'q'
// inter-stage queues, 'm' job runtime metadata, '!' this package's own
// bookkeeping (the boot epoch). The packages owning 'c', 'l', 't', 'q' and
// 'm' lay out their keys themselves. Under 's' and 'T':
//
//	operator prefix  's' ns(8 BE) op 0x00                  StateKeyPrefix
//	ValueState       prefix hash(8 BE) key                  StateKey
//	BagState         prefix hash(8 BE) esc(key) epoch(4 BE) counter(8 BE)
//	MapState         prefix hash(8 BE) esc(key) mapKey
//	timer            'T' ns(8 BE) op 0x00 domain ts(8 BE, sign flipped) hash(8 BE) key
//
// ns is a job lineage's state namespace (kept across job updates), op the
// operator's stable name, hash the grouping key's Hash. Putting the hash
// right after the operator prefix makes a key range's state one contiguous
// span per operator (StateSpan), so moving a range is a change of owner and
// a span, not a rewrite. esc is an order-preserving escaping (0x00 -> 0x00
// 0xff, terminated by 0x00 0x01) that keeps one grouping key's entries from
// running into another's when more bytes follow the key. One (ns, op) holds
// one state shape; opening it as another panics. Operators with several
// states give them distinct names ("join/left").
//
// Key ranges are half-open intervals [lo, hi) of the hash space; hi == 0
// stands for 2^64, so [0, 0) is the whole space.
//
// # Lifecycle
//
// Open the store once per process; create state objects per operator (and
// Timers per operator, domain and key range); per bundle, use them, then
// Flush each into one Batch, add outputs and positions, Commit, Reset the
// batch. Flush hands the state's changes to the batch but keeps them cached
// and pinned until the batch commits: the batch's OnCommit hooks tell the
// state objects which writes Pebble now has, and only those may be evicted
// or, for timers, forgotten. After a failed bundle or commit, Discard the
// range (and Close and reload its Timers): the caches may hold writes that
// never committed. When a range moves away, commit its work and Evict it, so
// a stale cache cannot hide the new owner's writes if it comes back. Close
// the store last; it closes any Timers still open (stopping their loaders).
//
// Commit errors carry SQLSTATE 53100 (disk full) or 58030 (other I/O). Pebble
// treats a failed WAL write or sync as fatal; Weir's logger turns that into
// a panic that Commit recovers into an error, after which the store is
// poisoned and must be reopened (background Pebble failures still crash
// the process, as Pebble intends).
//
// # Concurrency
//
// A Store is safe for concurrent use. A Batch belongs to one goroutine.
//
// ValueState, MapState and BagState may be shared by the workers of one
// operator, one worker per key range at a time. Their caches (table.go) are
// cut into 64 shards by the top bits of the hash, each shard's map and dirty
// list guarded by its own mutex; since ranges are hash intervals, workers on
// different ranges rarely meet on a shard. No Pebble read happens under a
// shard lock: a cache miss reads Pebble unlocked and then inserts, and
// Scan, Iterate and Read snapshot the cached writes under the lock and merge
// them with a Pebble iterator outside it. (That is safe because only a key's
// own worker writes it, and a write leaves the cache only after Pebble has
// it.) Adding writes to a batch, which is memory only, happens under the
// lock. Workers sharing a state object flush with FlushRange over their own
// range, so no batch carries another worker's uncommitted writes; Flush is
// FlushRange over the whole space, for an object used by one worker.
//
// Values returned by ValueState.Get and MapState.Get are immutable and stay
// valid; values passed to callbacks of Scan, Iterate and Read are valid only
// during the call.
//
// A Timers belongs to one worker. Its loader goroutine reads Pebble without
// locks and hands back its slice through a channel; its mutex guards the
// in-memory timers against the batch's commit hook and Close, and is never
// held during Pebble I/O or PopDue's callback.
//
// # Imports
//
// state is a leaf of the engine: it imports Pebble, btree, xxhash and Weir's
// pgerr and datum, and never sql/, planner/, executor/, server/ or the TiDB
// parser (imports_test.go checks this).
package state
