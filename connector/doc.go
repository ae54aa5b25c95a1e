// Package connector holds Weir's sources and sinks: how records enter a job
// and how a job's output leaves it, plus the text codecs COPY uses.
//
// # Layer
//
// The package sits below the executor and the engine and above datum
// (values), pgerr (SQLSTATE errors) and state (the Pebble store, for the log
// connector). It never imports executor, planner, sql or the catalog: the
// engine describes a catalog source or sink as a SourceConfig or SinkConfig
// (name, id, connector, WITH options with lower-case keys, schema) and hands
// over an Env with everything a connector may touch (the store, the LogHub,
// a Clock, stdout, the base directory for relative paths). There are no
// package-level mutable globals; processing time comes only from Env.Clock
// (SystemClock is the one place that reads the wall clock; ManualClock is
// for tests and simulations).
//
// # Sources
//
// OpenSource validates the options (unknown connector or bad value: 22023;
// unrecognized option: 42601; a column the connector cannot fill: 42703 or
// 42804) and returns a Source. The executor asks Partitions(want) once per
// job and persists the answer n; on every (re)start it opens each partition
// p of n with Open(p, n, from), where from is 0 for "the beginning of the
// partition" or the committed position: one past the last committed
// record, i.e. a Reader's NextOffset. Offsets are stable record ids:
//
//	log      the append sequence number within its partition
//	file     the byte offset of the record's first byte; partitions are
//	         byte ranges cut at record starts (bounded)
//	datagen  the global row number i; partition p of n yields i ≡ p (mod n)
//	nexmark  the global event number; partition p of n yields every n-th
//	         event of its table's kind
//	kafka    the Kafka offset; partition p is the topic's partition p
//	nats     the JetStream stream sequence (one partition)
//
// The log has one partition unless its partitions option says more; the
// engine's INSERT and COPY spread rows over them (LogHub.AppendSpread) by
// a hash of the PARTITION BY columns (the partition_by option) or round
// robin, so an unbounded source stage can run on several workers.
//
// Most sources start every partition at offset 0. A StartingSource (kafka
// with start = 'latest') chooses a partition's start when a job first
// reads it; the executor persists that position. A PartitionWatcher
// (kafka) can gain partitions while a job runs: the executor waits on
// WaitPartitions and adds a unit per new partition (executor/partitions.go).
//
// # Message sources
//
// kafka (kafka.go, franz-go's kgo client) and nats (nats.go, nats.go's
// jetstream package) decode one message value per record (message.go): a
// JSON object or one CSV record; metadata columns (_key, _partition,
// _offset, _headers, _timestamp; _subject, _sequence) are filled from the
// message, and ts_from takes the event time from the broker's timestamp.
// Each reader owns its client and a fetch goroutine that hands fetched
// messages to Read through a bounded buffer and closes Ready when some
// arrive (no busy polling). A broker that is unreachable, a topic or
// stream that is deleted: the fetch goroutine backs off on the injected
// Clock (100 ms doubling to 5 s) and tries again, Read returns nothing, and
// the job waits; the position moves only with records read, so nothing is
// skipped. A malformed value, an oversize one (over MaxRecordBytes) and a
// Kafka tombstone are error records carrying the value as Raw; RawAt
// returns a record's value (from the reader's last batch, or fetched).
// Kafka tests run against franz-go's kfake broker (internal/kafkatest),
// NATS tests against a real nats-server (internal/natstest).
//
// A Reader is pull-based and never blocks: Read appends what is available
// now (up to max) and reports eof once a bounded partition is exhausted;
// Ready returns a channel that closes when more may be available (a log
// append, a throttled generator's next due time). A reader reopened at a
// record's Offset returns exactly that record and everything after it, bit
// for bit: file readers re-frame from the byte offset, generators compute
// every value from (seed, offset) alone, and log records are immutable.
//
// # Dynamic work rebalancing
//
// Bounded sources whose partitions are offset ranges implement RangeSource
// (the file source, and datagen and nexmark when bounded by rows or events;
// the log and unbounded generators do not): Extent gives a partition's
// [start, end), SplitPoint cuts a remaining range [from, end) at a record
// start near its middle, and OpenRange reads [from, end) and stops with
// NextOffset == end. The pieces of a split read exactly the records of the
// whole, at the same offsets, malformed ones included. The file source
// finds a CSV split point by framing from from (a record start), since
// only a scan from a record start tells a quoted newline from a record
// end; JSON Lines split at the first non-blank line after the middle. It
// does not split ranges under MinSplitRangeBytes. Generators split at
// their middle row and refuse only ranges of fewer than two of the
// partition's rows; their values and event times depend on the row number
// alone, and a throttled range reader is paced from its OpenRange like a
// reader reopened at its from (so a split partition's pieces each run at
// the partition's rate).
//
// Malformed input never stops a reader: a record that does not decode (bad
// CSV or JSON, wrong field count, a value that does not parse for its
// column type, invalid UTF-8 or NUL, a NULL in a NOT NULL column, a record
// over MaxRecordBytes) is returned as a Record with Err (a *pgerr.Error) and
// Raw (the raw bytes) so the executor can send it to weir_dead_letters once.
// Read's own error return is for failures of the source itself (I/O
// errors, a dropped or truncated log).
//
// Readers set Raw only for malformed records (the hot path stays cheap). A
// record that decoded but fails later, in the job, is dead-lettered with
// the bytes RawSource.RawAt returns for its Offset: the file source frames
// the one record at that byte offset through a cached file handle (a
// bounded read, not a scan) and returns exactly what Raw would hold had it
// been malformed (the record without its '\n'; a CRLF record keeps its
// '\r'); the log returns the stored row as a COPY text line (a value that
// does not decode as stored); datagen and nexmark regenerate the row and
// render it as a CSV line (text forms joined by commas, NULL empty, quoted
// as AppendCSV quotes).
//
// Rows returned by readers are freshly allocated and owned by the caller;
// readers carve them from shared slabs (one allocation per ~1000 rows), so
// a row must not be appended to in place (its capacity is capped, so append
// copies). A caller that keeps no reference to the rows it has read (it
// copies the datums it keeps) calls RecycleRows (RowRecycler: file, log,
// datagen, nexmark) after each batch, and the reader hands the same memory
// out again. String datums are never recycled: text decoders copy a
// record's strings into small shared blocks, and parse numbers and
// timestamps from a transient view of the field.
//
// # The log
//
// LogHub is Weir's own durable log, filled by INSERT and COPY. Records live
// in the store under 'l' sourceID(8) partition(4) offset(8). Append commits
// one fsynced batch and returns once the rows are durable and visible;
// AppendBatch adds the rows to the caller's batch (so a statement's table
// writes and log appends commit atomically) and publishes them through the
// batch's OnCommit hook. Concurrent appenders reserve dense, consecutive
// offset ranges; a range becomes visible only when it and every earlier
// range have committed, so readers never skip a record that is still being
// written. A reservation whose batch failed must be released with Abandon.
//
// # Sinks
//
// OpenSink returns a Sink; for blackhole, stdout and file the executor
// calls Write after the bundle that produced the rows committed (at most
// once across a crash). blackhole counts; stdout writes PostgreSQL COPY
// text lines (tab-separated, \N for NULL) to Env.Stdout; file appends CSV
// (with a header when the file is new) or JSON Lines. Sinks are safe for
// concurrent Writes.
//
// postgres, kafka and nats are ExactlyOnceSinks (exactsink.go): opening
// them only validates options; the executor keeps their rows in a durable
// outbox and delivers committed entries through a SinkWriter per job and
// sink, named so that it is stable across restarts. Deliver writes the
// rows and records the last outbox sequence atomically in the external
// system (postgres.go: a weir_sink_progress row in the same transaction;
// kafkasink.go: a transactional offset commit for the group named after
// the writer, in the same Kafka transaction, under a transactional id
// that fences the previous writer; natssink.go: a Nats-Msg-Id made of
// writer, sequence and row, deduplicated by JetStream), and Delivered
// reads it back. Errors are permanent (a *pgerr.Error: missing table,
// mismatched columns; the job fails) or Retryable (outages; the executor
// backs off). A SinkWriter is used by one goroutine at a time.
//
// # Codecs
//
// CSVDecoder (PostgreSQL COPY ... CSV rules), CopyTextDecoder (COPY's text
// format) and JSONLDecoder turn an io.Reader into Records with the same
// error-record behaviour as the sources; AppendCSV, AppendCopyText and
// AppendJSONL are their encoders, for COPY TO and the file sink.
//
// # Concurrency
//
// Sources, the LogHub and sinks are safe for concurrent use. A Reader is
// used by one goroutine at a time; different readers (partitions) of one
// source run in parallel. Sources holding connections (kafka) implement
// io.Closer; the executor closes them when the job ends.
package connector
