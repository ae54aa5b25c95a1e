package connector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/state"
)

// Log layout (prefix byte 'l'):
//
//	'l' sourceID(8 BE) partition(4 BE) offset(8 BE)  → datum.AppendRow(row)
//	'l' sourceID(8 BE) 0xFFFFFFFF                    → uvarint(low) uvarint(next): truncation mark of partition 0
//
// The truncation mark sorts after every record of the source, so recovery
// finds a source's tail with one reverse seek, and each partition's tail
// with one more. Offsets are per partition (each dense from 0); a source
// with the partitions option spreads rows over partitions 0..N-1
// (LogLayout).
const (
	logPrefix    = 'l'
	logKeyLen    = 1 + 8 + 4 + 8
	logMetaPart  = 0xFFFFFFFF
	logMetaLen   = 1 + 8 + 4
	logPartition = 0 // the partition of Append, AppendBatch and Truncate
	// MaxLogPartitions bounds the partitions option.
	MaxLogPartitions = 1024
)

// logID names one partition of one log source.
type logID struct {
	source uint64
	part   uint32
}

func logSourcePrefix(id uint64) []byte {
	b := make([]byte, 0, logKeyLen)
	b = append(b, logPrefix)
	return binary.BigEndian.AppendUint64(b, id)
}

func appendLogKey(b []byte, id uint64, part uint32, off int64) []byte {
	b = append(b, logPrefix)
	b = binary.BigEndian.AppendUint64(b, id)
	b = binary.BigEndian.AppendUint32(b, part)
	return binary.BigEndian.AppendUint64(b, uint64(off))
}

func logMetaKey(id uint64) []byte {
	return binary.BigEndian.AppendUint32(logSourcePrefix(id), logMetaPart)
}

// LogHub is the per-process registry of Weir's durable logs (the 'log'
// connector): it assigns offsets, appends rows durably, and wakes readers
// when appended rows become visible. It is safe for concurrent use.
//
// Offsets of a source are dense: concurrent appenders reserve consecutive
// ranges, and a range becomes visible to readers (is published) only when it
// and every range before it have committed. A range whose commit failed is
// abandoned (see Abandon) and leaves a gap that readers skip.
type LogHub struct {
	st   *state.Store
	mu   sync.Mutex
	logs map[logID]*logState
	rr   map[uint64]uint64 // round-robin position per source (guarded by mu)
}

type logState struct {
	mu        sync.Mutex
	next      int64 // next offset to reserve
	published int64 // every offset below is committed (or abandoned)
	low       int64 // records below were truncated
	pending   []logSpan
	ch        chan struct{} // closed (and replaced) when published advances
	dropped   bool
}

type logSpan struct {
	first, end int64
	state      uint8 // spanPending, spanDone, spanAbandoned
}

const (
	spanPending = iota
	spanDone
	spanAbandoned
)

// NewLogHub opens the logs in st, recovering each source's next offset from
// the tail of its log.
func NewLogHub(st *state.Store) (*LogHub, error) {
	h := &LogHub{st: st, logs: make(map[logID]*logState), rr: make(map[uint64]uint64)}
	if st == nil {
		return nil, errors.New("connector: NewLogHub needs a store")
	}
	it, err := st.DB().NewIter(&pebble.IterOptions{LowerBound: []byte{logPrefix}, UpperBound: []byte{logPrefix + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	// From the end backwards: per source its truncation mark (if any), then
	// the last record of each partition, highest partition first.
	ok := it.Last()
	for ok {
		k := it.Key()
		if len(k) < 13 {
			return nil, fmt.Errorf("connector: corrupt log key %x", k)
		}
		id := binary.BigEndian.Uint64(k[1:9])
		part := binary.BigEndian.Uint32(k[9:13])
		if len(k) == logMetaLen && part == logMetaPart {
			ls := h.state(id, logPartition)
			v := it.Value()
			low, n1 := binary.Uvarint(v)
			next, n2 := uint64(0), 0
			if n1 > 0 {
				next, n2 = binary.Uvarint(v[n1:])
			}
			if n1 <= 0 || n2 <= 0 {
				return nil, fmt.Errorf("connector: corrupt log truncation mark for source %d", id)
			}
			ls.low, ls.next = int64(low), int64(next)
			ls.published = ls.next
			ok = it.Prev()
			continue
		}
		if len(k) != logKeyLen {
			return nil, fmt.Errorf("connector: corrupt log key %x", k)
		}
		ls := h.state(id, part)
		off := int64(binary.BigEndian.Uint64(k[13:21]))
		if off+1 > ls.next {
			ls.next = off + 1
		}
		ls.published = ls.next
		ok = it.SeekLT(appendLogKey(nil, id, part, 0))
	}
	return h, it.Error()
}

// state returns the log state of partition part of source id, creating it
// at offset 0.
func (h *LogHub) state(id uint64, part uint32) *logState {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := logID{id, part}
	ls := h.logs[k]
	if ls == nil {
		ls = &logState{ch: make(chan struct{})}
		h.logs[k] = ls
	}
	return ls
}

// Append appends rows to source sourceID's log in one fsynced batch and
// returns the offset of the first row once they are durable and visible to
// readers. Concurrent appenders get dense, non-overlapping offsets.
func (h *LogHub) Append(sourceID uint64, rows []datum.Row) (first int64, err error) {
	if len(rows) == 0 {
		return h.Len(sourceID), nil
	}
	b := h.st.NewBatch()
	first, commit := h.AppendBatch(b, sourceID, rows)
	if err := h.st.Commit(b); err != nil {
		h.Abandon(sourceID, first)
		return 0, err
	}
	commit()
	return first, nil
}

// AppendBatch reserves offsets for rows and adds them to the caller's batch
// b. The rows are published (made visible to readers, which are woken) when
// b commits: AppendBatch registers an OnCommit hook on b, and commit() does
// the same explicitly (calling it after a successful Commit is harmless and
// idempotent). If the Commit failed, or b is Reset or dropped instead, the
// caller must call Abandon(sourceID, first), or later appends to the source
// stay invisible.
func (h *LogHub) AppendBatch(b *state.Batch, sourceID uint64, rows []datum.Row) (first int64, commit func()) {
	return h.appendPart(b, sourceID, logPartition, rows)
}

// appendPart is AppendBatch for partition part.
func (h *LogHub) appendPart(b *state.Batch, sourceID uint64, part uint32, rows []datum.Row) (first int64, commit func()) {
	ls := h.state(sourceID, part)
	ls.mu.Lock()
	first = ls.next
	end := first + int64(len(rows))
	if len(rows) > 0 {
		ls.next = end
		ls.pending = append(ls.pending, logSpan{first: first, end: end})
	}
	ls.mu.Unlock()
	if len(rows) == 0 {
		return first, func() {}
	}
	key := make([]byte, 0, logKeyLen)
	var val []byte
	for i, r := range rows {
		key = appendLogKey(key[:0], sourceID, part, first+int64(i))
		val = datum.AppendRow(val[:0], r)
		b.Set(key, val)
	}
	var once sync.Once
	publish := func() { once.Do(func() { ls.finish(first, spanDone) }) }
	b.OnCommit(publish)
	return first, publish
}

// LogLayout is how a log source spreads appended rows over its
// partitions: by a hash of the KeyCols (PARTITION BY), or round robin when
// there are none.
type LogLayout struct {
	Partitions int
	KeyCols    []int
}

// LogLayoutOf reads a log source's partitions and partition_by options
// (validated by OpenSource).
func LogLayoutOf(opts map[string]string, schema []Column) (LogLayout, error) {
	const what = "log source"
	lay := LogLayout{Partitions: 1}
	if n, ok, err := optInt(what, opts, "partitions", 1); err != nil {
		return lay, err
	} else if ok {
		if n > MaxLogPartitions {
			return lay, badOption(what, "partitions", opts["partitions"], "must be at most "+strconv.Itoa(MaxLogPartitions))
		}
		lay.Partitions = int(n)
	}
	if v, ok := opts["partition_by"]; ok {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSpace(name)
			col := -1
			for i, c := range schema {
				if strings.EqualFold(c.Name, name) {
					col = i
				}
			}
			if col < 0 {
				return lay, pgerr.New(pgerr.UndefinedColumn, "%s: partition_by names no column %q", what, name)
			}
			lay.KeyCols = append(lay.KeyCols, col)
		}
	}
	return lay, nil
}

// partitionOf returns the partition of row (hash layouts).
func (lay LogLayout) partitionOf(row datum.Row, buf []byte) (int, []byte) {
	buf = buf[:0]
	for _, c := range lay.KeyCols {
		buf = datum.AppendKey(buf, row[c])
	}
	return int(xxhash.Sum64(buf) % uint64(lay.Partitions)), buf
}

// AppendSpread appends rows to source sourceID's partitions as lay says,
// in one fsynced batch, and returns once every row is durable and visible.
// Round robin continues where the source's last append stopped.
func (h *LogHub) AppendSpread(sourceID uint64, lay LogLayout, rows []datum.Row) error {
	if lay.Partitions <= 1 {
		_, err := h.Append(sourceID, rows)
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	parts := make([][]datum.Row, lay.Partitions)
	if len(lay.KeyCols) > 0 {
		var buf []byte
		for _, r := range rows {
			var p int
			p, buf = lay.partitionOf(r, buf)
			parts[p] = append(parts[p], r)
		}
	} else {
		h.mu.Lock()
		start := h.rr[sourceID]
		h.rr[sourceID] = start + uint64(len(rows))
		h.mu.Unlock()
		for i, r := range rows {
			p := (start + uint64(i)) % uint64(lay.Partitions)
			parts[p] = append(parts[p], r)
		}
	}
	b := h.st.NewBatch()
	var firsts []int64
	var publish []func()
	for p, pr := range parts {
		first, commit := h.appendPart(b, sourceID, uint32(p), pr)
		firsts = append(firsts, first)
		publish = append(publish, commit)
	}
	if err := h.st.Commit(b); err != nil {
		for p, pr := range parts {
			if len(pr) > 0 {
				h.state(sourceID, uint32(p)).finish(firsts[p], spanAbandoned)
			}
		}
		return err
	}
	for _, c := range publish {
		c()
	}
	return nil
}

// watermarkTag starts a watermark punctuation's value; a row's value starts
// with its column count (a small uvarint), so the two never collide.
const watermarkTag = "\xffW"

// AppendWatermark appends a watermark punctuation to a log source: readers
// see a Record with IsWatermark set, telling the job that no record with an
// event time below ts follows (tests and producers that know their data use
// it to close windows without waiting for later records).
func (h *LogHub) AppendWatermark(sourceID uint64, ts int64) error {
	return h.AppendWatermarkN(sourceID, 1, ts)
}

// AppendWatermarkN appends the watermark punctuation to each of partitions
// 0..n-1 of a log source.
func (h *LogHub) AppendWatermarkN(sourceID uint64, n int, ts int64) error {
	for p := 0; p < n; p++ {
		ls := h.state(sourceID, uint32(p))
		ls.mu.Lock()
		first := ls.next
		ls.next++
		ls.pending = append(ls.pending, logSpan{first: first, end: first + 1})
		ls.mu.Unlock()
		b := h.st.NewBatch()
		key := appendLogKey(nil, sourceID, uint32(p), first)
		b.Set(key, binary.BigEndian.AppendUint64([]byte(watermarkTag), uint64(ts)))
		if err := h.st.Commit(b); err != nil {
			ls.finish(first, spanAbandoned)
			return err
		}
		ls.finish(first, spanDone)
	}
	return nil
}

// Abandon releases the offsets reserved by an AppendBatch whose batch did
// not commit.
func (h *LogHub) Abandon(sourceID uint64, first int64) {
	h.state(sourceID, logPartition).finish(first, spanAbandoned)
}

// finish marks the span starting at first and publishes what it can.
func (ls *logState) finish(first int64, how uint8) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for i := range ls.pending {
		sp := &ls.pending[i]
		if sp.first != first || sp.state != spanPending {
			continue
		}
		sp.state = how
		if how == spanAbandoned && i == len(ls.pending)-1 && sp.end == ls.next {
			// Nothing was reserved after it: give the offsets back, no gap.
			ls.next = sp.first
			ls.pending = ls.pending[:i]
		}
		break
	}
	advanced := false
	for len(ls.pending) > 0 && ls.pending[0].state != spanPending {
		ls.published = ls.pending[0].end
		ls.pending = ls.pending[1:]
		advanced = true
	}
	if len(ls.pending) == 0 {
		ls.pending = nil
		if ls.published < ls.next {
			// Only possible after a rollback: the published point is exact.
			ls.next = ls.published
		}
	}
	if advanced {
		ls.wake()
	}
}

func (ls *logState) wake() {
	close(ls.ch)
	ls.ch = make(chan struct{})
}

// Len returns the number of offsets published for sourceID (the offset the
// next append gets, once earlier appends are done).
func (h *LogHub) Len(sourceID uint64) int64 {
	ls := h.state(sourceID, logPartition)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.published
}

// Truncate deletes sourceID's records of partition 0 below offset below
// (garbage collection of consumed records). Offsets are never reused.
func (h *LogHub) Truncate(sourceID uint64, below int64) error {
	ls := h.state(sourceID, logPartition)
	ls.mu.Lock()
	if below > ls.published {
		below = ls.published
	}
	if below <= ls.low {
		ls.mu.Unlock()
		return nil
	}
	next := ls.published
	ls.mu.Unlock()
	b := h.st.NewBatch()
	lo := appendLogKey(nil, sourceID, logPartition, 0)
	hi := appendLogKey(nil, sourceID, logPartition, below)
	b.DeleteRange(lo, hi)
	meta := binary.AppendUvarint(nil, uint64(below))
	meta = binary.AppendUvarint(meta, uint64(next))
	b.Set(logMetaKey(sourceID), meta)
	if err := h.st.Commit(b); err != nil {
		return err
	}
	ls.mu.Lock()
	if below > ls.low {
		ls.low = below
	}
	ls.mu.Unlock()
	return nil
}

// Drop deletes sourceID's whole log. Open readers of it fail.
func (h *LogHub) Drop(sourceID uint64) error {
	b := h.st.NewBatch()
	p := logSourcePrefix(sourceID)
	b.DeleteRange(p, state.PrefixEnd(p))
	if err := h.st.Commit(b); err != nil {
		return err
	}
	h.mu.Lock()
	var gone []*logState
	for k, ls := range h.logs {
		if k.source == sourceID {
			gone = append(gone, ls)
			delete(h.logs, k)
		}
	}
	delete(h.rr, sourceID)
	h.mu.Unlock()
	for _, ls := range gone {
		ls.mu.Lock()
		ls.dropped = true
		ls.wake()
		ls.mu.Unlock()
	}
	return nil
}

// logSource is the 'log' connector.
type logSource struct {
	cfg SourceConfig
	hub *LogHub
	st  *state.Store
	lay LogLayout
}

func openLogSource(cfg SourceConfig, env Env) (Source, error) {
	if err := checkOptions("log source", cfg.Options, []string{"partitions", "partition_by"}, nil); err != nil {
		return nil, err
	}
	lay, err := LogLayoutOf(cfg.Options, cfg.Schema)
	if err != nil {
		return nil, err
	}
	if env.Logs == nil || env.Store == nil {
		return nil, pgerr.New(pgerr.InternalError, "log source %q: no log hub in the environment", cfg.Name)
	}
	return &logSource{cfg: cfg, hub: env.Logs, st: env.Store, lay: lay}, nil
}

// Partitions is the source's partitions option (1 by default), whatever
// the parallelism asked.
func (s *logSource) Partitions(want int) int { return s.lay.Partitions }
func (s *logSource) Bounded() bool           { return false }

func (s *logSource) checkPart(p int) error {
	if p < 0 || p >= s.lay.Partitions {
		return pgerr.New(pgerr.InternalError, "log source %q has %d partitions, no partition %d", s.cfg.Name, s.lay.Partitions, p)
	}
	return nil
}

func (s *logSource) Open(p, n int, from int64) (Reader, error) {
	if err := s.checkPart(p); err != nil {
		return nil, err
	}
	ls := s.hub.state(s.cfg.ID, uint32(p))
	ls.mu.Lock()
	low := ls.low
	ls.mu.Unlock()
	if from < low {
		return nil, pgerr.New(pgerr.ObjectNotInPrerequisiteState,
			"log of source %q was truncated below offset %d; cannot read from %d", s.cfg.Name, low, from)
	}
	if from < 0 {
		from = 0
	}
	return &logReader{src: s, ls: ls, part: uint32(p), pos: from, ncols: len(s.cfg.Schema)}, nil
}

type logReader struct {
	src   *logSource
	ls    *logState
	part  uint32
	pos   int64
	ncols int
	slab  rowSlab
	lo    []byte
	hi    []byte
}

var errStopScan = errors.New("stop")

// Backlog is the number of records published and not yet read (an
// upper bound: abandoned appends leave gaps).
func (r *logReader) Backlog() int64 {
	r.ls.mu.Lock()
	pub := r.ls.published
	r.ls.mu.Unlock()
	return max(0, pub-r.pos)
}

func (r *logReader) Read(buf []Record, max int) ([]Record, bool, error) {
	r.ls.mu.Lock()
	pub, low, dropped := r.ls.published, r.ls.low, r.ls.dropped
	r.ls.mu.Unlock()
	if dropped {
		return buf, false, pgerr.New(pgerr.ObjectNotInPrerequisiteState, "source %q was dropped", r.src.cfg.Name)
	}
	if r.pos < low {
		return buf, false, pgerr.New(pgerr.ObjectNotInPrerequisiteState,
			"log of source %q was truncated below offset %d while reading at %d", r.src.cfg.Name, low, r.pos)
	}
	if r.pos >= pub || max <= 0 {
		return buf, false, nil
	}
	id := r.src.cfg.ID
	r.lo = appendLogKey(r.lo[:0], id, r.part, r.pos)
	r.hi = appendLogKey(r.hi[:0], id, r.part, pub)
	n := 0
	last := int64(-1)
	err := r.src.st.Scan(r.lo, r.hi, func(k, v []byte) error {
		if len(k) != logKeyLen {
			return nil
		}
		off := int64(binary.BigEndian.Uint64(k[13:21]))
		buf = append(buf, r.decode(off, v))
		last = off
		n++
		if n >= max {
			return errStopScan
		}
		return nil
	})
	if err != nil && err != errStopScan {
		return buf, false, err
	}
	if err == errStopScan {
		r.pos = last + 1
	} else {
		r.pos = pub // skips gaps left by abandoned appends
	}
	return buf, false, nil
}

func (r *logReader) decode(off int64, v []byte) Record {
	if len(v) == len(watermarkTag)+8 && string(v[:len(watermarkTag)]) == watermarkTag {
		return Record{Offset: off, IsWatermark: true, Watermark: int64(binary.BigEndian.Uint64(v[len(watermarkTag):]))}
	}
	cnt, w := binary.Uvarint(v)
	if w > 0 && int(cnt) == r.ncols {
		row := r.slab.row(r.ncols)
		b := v[w:]
		var err error
		for i := range row {
			if row[i], b, err = datum.DecodeValue(b); err != nil {
				break
			}
		}
		if err == nil {
			return Record{Row: row, Offset: off}
		}
	}
	return Record{Offset: off, Raw: append([]byte(nil), v...),
		Err: pgerr.New(pgerr.DataException, "log record %d of source %q does not match its schema", off, r.src.cfg.Name)}
}

func (r *logReader) Ready() <-chan struct{} {
	r.ls.mu.Lock()
	defer r.ls.mu.Unlock()
	if r.ls.published > r.pos || r.ls.dropped {
		return closedChan
	}
	return r.ls.ch
}

func (r *logReader) NextOffset() int64 { return r.pos }
func (r *logReader) Close() error      { return nil }
