package connector

import (
	"context"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/state"
)

// Column is one column of a source's or sink's schema.
type Column struct {
	Name    string
	Type    datum.Type
	NotNull bool
}

// SourceConfig describes a catalog source to OpenSource.
type SourceConfig struct {
	Name      string            // catalog name
	ID        uint64            // catalog id (log sources key their records by it)
	Connector string            // "log", "file", "datagen", "nexmark"
	Options   map[string]string // WITH options, keys lower-case
	Schema    []Column
	TimeCol   int // index of the event-time (WATERMARK FOR) column, -1 if none
}

// SinkConfig describes a catalog sink to OpenSink.
type SinkConfig struct {
	Name      string
	ID        uint64
	Connector string // "blackhole", "stdout", "file", "postgres", "kafka", "nats"
	Options   map[string]string
	Schema    []Column
	// PrimaryKey holds the indexes of the sink's PRIMARY KEY columns
	// (empty: none). External sinks key by it (postgres upserts by it,
	// kafka uses it as the record key).
	PrimaryKey []int
}

// Env is what connectors get from the engine: no globals.
type Env struct {
	Store   *state.Store
	Logs    *LogHub   // notifies log readers of appends
	Clock   Clock     // injected processing-time clock (no time.Now() in connectors)
	Stdout  io.Writer // for the stdout sink
	BaseDir string    // relative file paths resolve against it
}

func (e Env) clock() Clock {
	if e.Clock == nil {
		return SystemClock()
	}
	return e.Clock
}

func (e Env) resolve(path string) string {
	if filepath.IsAbs(path) || e.BaseDir == "" {
		return path
	}
	return filepath.Join(e.BaseDir, path)
}

// Record is one input record. Offset is its stable id within its partition
// (log: sequence number; file: byte offset of the record's first byte;
// datagen/nexmark: global sequence number): a reader reopened at a record's
// Offset re-reads exactly that record and what followed.
type Record struct {
	Row    datum.Row
	Offset int64
	Err    error  // non-nil: a malformed record; Row is nil
	Raw    []byte // the raw bytes of a malformed record (for the dead-letter table)
	// Watermark is set (and Row and Err are nil) on a watermark punctuation:
	// the source promises no record below this event time follows. Only log
	// sources carry them (LogHub.AppendWatermark).
	Watermark   int64
	IsWatermark bool
}

// Source is an opened catalog source: a factory of partition readers.
type Source interface {
	// Partitions says how many partitions the source offers for the
	// requested parallelism. The executor calls it once at job start and
	// persists the answer; Open accepts that n on every later start.
	Partitions(want int) int
	// Bounded reports whether every partition ends.
	Bounded() bool
	// Open a reader for partition p of n, starting at offset from (0 = the
	// beginning of that partition; otherwise the Offset of the first record
	// to read, i.e. one past the last committed).
	Open(p, n int, from int64) (Reader, error)
}

// RangeSource is a bounded source whose partitions are ranges of offsets
// that can be cut while a job runs (dynamic work rebalancing). Offsets are
// the Record.Offset values of the partition's records (byte offsets of
// records' first bytes for files, sequence numbers for generators); they are
// increasing within a partition.
//
// The bounded file, datagen and nexmark sources implement it; an unbounded
// generator and the log do not (a type assertion on them fails).
type RangeSource interface {
	Source
	// Extent returns the offsets [start, end) partition p of n covers:
	// Open(p, n, 0) reads exactly the records whose offsets lie in it.
	Extent(p, n int) (start, end int64, err error)
	// SplitPoint returns an offset mid with from < mid < end at which a record
	// of partition p starts, near the middle of [from, end), such that the
	// records read by OpenRange(p, n, from, mid) followed by those of
	// OpenRange(p, n, mid, end) are exactly those of OpenRange(p, n, from, end).
	// ok is false when [from, end) holds too little to split: fewer than two
	// records, or, for files, fewer than MinSplitRangeBytes bytes.
	// from is a record start (or the partition start, or 0 for it).
	SplitPoint(p, n int, from, end int64) (mid int64, ok bool, err error)
	// OpenRange opens a reader of partition p's records starting at offset
	// from (the partition start, a committed NextOffset, or a SplitPoint)
	// and ending before end (a SplitPoint or the extent's end): eof is
	// reported once the next record would start at or after end, and
	// NextOffset() then returns end.
	OpenRange(p, n int, from, end int64) (Reader, error)
}

// RawSource can return the raw bytes of one record by position, for the
// dead-letter table (records that decoded but failed later, in the job).
// It is called rarely (once per such record) and may do I/O.
//
// What "raw" means per source:
//
//	file     the record's bytes as they are in the file, without its line
//	         terminator's '\n' (a CRLF record keeps its '\r'): exactly the
//	         Record.Raw a decode error at that offset carries (so only
//	         the first 64 KiB of a record over MaxRecordBytes)
//	log      a row that matches the schema, rendered as COPY text (one line,
//	         tab-separated, \N for NULL, backslash escapes; no newline); a
//	         stored value that does not decode, as stored (its Record.Raw)
//	datagen  the generated row as a CSV line (no newline): the values'
//	nexmark  text forms joined by commas, NULL empty, a value quoted (as
//	         AppendCSV does) when it holds a comma, quote or newline or is
//	         the empty string
//
// The file, log, datagen and nexmark sources implement it, and are safe for
// concurrent RawAt calls.
type RawSource interface {
	// RawAt returns the raw bytes of the record of partition p of n that starts at offset (a Record.Offset the source produced).
	RawAt(p, n int, offset int64) ([]byte, error)
}

// Reader reads one partition of a source. A Reader is used by one goroutine
// at a time.
type Reader interface {
	// Read appends up to max available records to buf WITHOUT blocking; eof
	// is true once a bounded partition has nothing more (after the returned
	// records).
	Read(buf []Record, max int) (out []Record, eof bool, err error)
	// Ready returns a channel that is closed (or receives) when more records
	// may be available.
	Ready() <-chan struct{}
	// NextOffset is the offset the next Read would start at (the position to
	// commit).
	NextOffset() int64
	Close() error
}

// StartingSource is a Source whose partitions do not start at offset 0
// when a job first reads them (kafka with start = 'latest'). The executor
// calls StartOffset once per partition at a lineage's first start and
// persists the answer as the partition's committed position, so a restart
// continues from it; Open then always takes from literally. Partitions
// found later while the job runs (PartitionWatcher) start at 0.
type StartingSource interface {
	StartOffset(p, n int) (int64, error)
}

// PartitionWatcher is an unbounded Source whose partition count can grow
// while a job reads it (partitions added to a Kafka topic). The executor
// persists the count it runs with; a goroutine per such source stage calls
// WaitPartitions(ctx, have), which blocks until the source has more than
// have partitions and returns the new count (or ctx's error once ctx is
// done). The executor then adds one unit per new partition, opened at
// offset 0, with the stage's current watermark as its starting watermark
// (so a record older than what the job already closed is late, never a
// record reaching a window that fired), and persists the new count with
// the units in one batch. Partition numbers are stable: partition p is the
// same partition for every n.
type PartitionWatcher interface {
	WaitPartitions(ctx context.Context, have int) (int, error)
}

// BacklogReader is a Reader that knows how many records wait to be read
// (the log: published minus read). The autoscaler counts it as load.
type BacklogReader interface {
	// Backlog is called by the goroutine that calls Read.
	Backlog() int64
}

// Sink receives a job's committed output rows.
type Sink interface {
	Write(rows []datum.Row) error // called after the bundle holding these rows committed
	Count() int64                 // rows written
	Close() error
}

// commonSourceOptions are accepted by every source; the engine interprets
// them (the connector ignores them).
var commonSourceOptions = map[string]bool{
	"connector":    true,
	"idle_timeout": true,
}

// OpenSource validates cfg's options and returns the source. Errors carry
// SQLSTATE 22023 (bad or unknown connector, bad option value) or 42601
// (unrecognized option).
func OpenSource(cfg SourceConfig, env Env) (Source, error) {
	switch strings.ToLower(cfg.Connector) {
	case "", "log":
		return openLogSource(cfg, env)
	case "file":
		return openFileSource(cfg, env)
	case "datagen":
		return openDatagen(cfg, env)
	case "nexmark":
		return openNexmark(cfg, env)
	case "kafka":
		return openKafkaSource(cfg, env)
	case "nats":
		return openNatsSource(cfg, env)
	}
	return nil, pgerr.New(pgerr.InvalidParameterValue, "unknown source connector %q", cfg.Connector).
		WithHint("Sources support connector = 'log', 'file', 'datagen', 'nexmark', 'kafka' or 'nats'.")
}

// OpenSink validates cfg's options and opens the sink.
func OpenSink(cfg SinkConfig, env Env) (Sink, error) {
	switch strings.ToLower(cfg.Connector) {
	case "blackhole":
		if err := checkOptions("blackhole sink", cfg.Options, nil, nil); err != nil {
			return nil, err
		}
		return &blackhole{}, nil
	case "stdout", "print":
		if err := checkOptions("stdout sink", cfg.Options, nil, nil); err != nil {
			return nil, err
		}
		return newStdoutSink(env)
	case "file":
		return openFileSink(cfg, env)
	case "postgres", "postgresql":
		return openPostgresSink(cfg)
	case "kafka":
		return openKafkaSink(cfg)
	case "nats":
		return openNATSSink(cfg)
	}
	return nil, pgerr.New(pgerr.InvalidParameterValue, "unknown sink connector %q", cfg.Connector).
		WithHint("Sinks support connector = 'blackhole', 'stdout', 'file', 'postgres', 'kafka' or 'nats'.")
}

// checkOptions rejects options that are neither common nor in known, and
// options whose name starts with a prefix in prefixes but are not known to
// the caller (the caller validates those).
func checkOptions(what string, opts map[string]string, known []string, prefixes []string) error {
	var bad []string
	for k := range opts {
		if commonSourceOptions[k] {
			continue
		}
		ok := false
		for _, kk := range known {
			if k == kk {
				ok = true
				break
			}
		}
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	e := pgerr.New(pgerr.SyntaxError, "%s: option %q not recognized", what, bad[0])
	if len(known) > 0 {
		e = e.WithHint("Valid options: %s.", strings.Join(known, ", "))
	}
	return e
}

func badOption(what, key, val, want string) error {
	return pgerr.New(pgerr.InvalidParameterValue, "%s: invalid value %q for option %q: %s", what, val, key, want)
}

// optInt parses an integer option; ok is false when it is absent.
func optInt(what string, opts map[string]string, key string, lo int64) (v int64, ok bool, err error) {
	s, ok := opts[key]
	if !ok {
		return 0, false, nil
	}
	v, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, true, badOption(what, key, s, "expected an integer")
	}
	if v < lo {
		return 0, true, badOption(what, key, s, "must be at least "+strconv.FormatInt(lo, 10))
	}
	return v, true, nil
}

func optFloat(what string, opts map[string]string, key string) (v float64, ok bool, err error) {
	s, ok := opts[key]
	if !ok {
		return 0, false, nil
	}
	v, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, true, badOption(what, key, s, "expected a number")
	}
	return v, true, nil
}

// optInterval parses an interval option ('2 seconds', '500 ms') into
// microseconds.
func optInterval(what string, opts map[string]string, key string) (us int64, ok bool, err error) {
	s, ok := opts[key]
	if !ok {
		return 0, false, nil
	}
	m, v, perr := datum.ParseInterval(s)
	if perr != nil || m != 0 || v < 0 {
		return 0, true, badOption(what, key, s, "expected a non-negative interval such as '2 seconds'")
	}
	return v, true, nil
}

// Clock is the processing-time clock connectors use.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock returns the real clock (the only place time.Now is called).
func SystemClock() Clock { return systemClock{} }

// ManualClock is a Clock that moves only when told to (tests, simulations).
// It is safe for concurrent use.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []manualWaiter
}

type manualWaiter struct {
	at time.Time
	ch chan time.Time
}

// NewManualClock returns a ManualClock reading start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now returns the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After returns a channel that receives once the clock has been advanced by
// at least d.
func (c *ManualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	at := c.now.Add(d)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, manualWaiter{at: at, ch: ch})
	return ch
}

// Advance moves the clock forward by d and fires the timers that became due.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	for i := len(kept); i < len(c.waiters); i++ {
		c.waiters[i] = manualWaiter{}
	}
	c.waiters = kept
}

// Waiters returns how many After channels have not fired yet.
func (c *ManualClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// closedChan is returned by Ready when records are available now.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// timeChan adapts a Clock.After channel to a Ready channel.
func timeChan(t <-chan time.Time) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		<-t
		close(c)
	}()
	return c
}

// rowSlab hands out rows carved from one large allocation, so readers
// allocate once per batch instead of once per row. Each row is capped (a
// consumer that appends to it reallocates) and never shared.
type rowSlab struct {
	buf []datum.Datum
	// After the first recycle, the blocks handed out since the last
	// recycle (used) are kept and handed out again after the next (free).
	recycling  bool
	used, free [][]datum.Datum
}

func (s *rowSlab) row(n int) datum.Row {
	if len(s.buf) < n {
		s.buf = s.block(n)
	}
	r := s.buf[:n:n]
	s.buf = s.buf[n:]
	return r
}

func (s *rowSlab) block(n int) []datum.Datum {
	size := 4096
	if n > size/4 {
		size = n * 64
	}
	var b []datum.Datum
	if k := len(s.free); k > 0 && len(s.free[k-1]) >= n {
		b, s.free = s.free[k-1], s.free[:k-1]
	} else {
		b = make([]datum.Datum, size)
	}
	if s.recycling {
		s.used = append(s.used, b)
	}
	return b
}

// recycle lets the slab hand out again the memory of every row it has
// returned: the caller promises none of them is referenced any more.
func (s *rowSlab) recycle() {
	s.recycling = true
	s.free = append(s.free, s.used...)
	clear(s.used)
	s.used = s.used[:0]
	s.buf = nil
}

// RowRecycler is a Reader whose rows' memory can be handed out again: after
// RecycleRows, the reader may overwrite every row it returned before the
// call. A caller that keeps no reference to the rows it has read (it copies
// what it keeps) calls it to save an allocation per row.
type RowRecycler interface {
	RecycleRows()
}

// strSlab makes strings out of byte slices by copying them into shared,
// never rewritten blocks, one allocation per block rather than per string
// (as rowSlab does for rows). A string kept alive keeps its whole block
// alive (an operator keeping one key per thousands of records keeps a
// block per key), so blocks are small.
type strSlab struct {
	buf []byte
}

// strSlabBlock is the size of a strSlab block.
const strSlabBlock = 1 << 10

func (s *strSlab) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > strSlabBlock/4 {
		return string(b)
	}
	if cap(s.buf)-len(s.buf) < len(b) {
		s.buf = make([]byte, 0, strSlabBlock)
	}
	n := len(s.buf)
	s.buf = append(s.buf, b...)
	return unsafe.String(&s.buf[n], len(b))
}
