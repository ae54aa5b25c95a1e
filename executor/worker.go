package executor

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/state"
)

// worker is the runner of one unit of a stage: one key range of a keyed
// stage or one partition range of a source stage (ranges.go). It runs on
// one goroutine and processes its bundles on the worker (workerSlot) that
// owns the unit.
type worker struct {
	job  *Job
	st   *stageRT
	idx  int // the unit id
	unit unit
	// lo and hi bound the key-hash range this unit owns (inclusive).
	lo, hi uint64
	b0, b1 int // keyed: the buckets [b0, b1)
	part   int // source: the partition
	nparts int // source: the stage's partition count when the unit was made

	slot       atomic.Pointer[workerSlot]
	held       *workerSlot   // the worker held for the current bundle
	busy       atomic.Int64  // nanos holding a worker
	heldAtNano atomic.Int64  // when the running bundle took its worker (0: none)
	stateBytes atomic.Int64  // estimated state size, refreshed by the autoscaler
	retireCh   chan struct{} // closed to retire the unit (ranges.go)
	exited     chan struct{} // closed when run returns
	exitErr    error
	space      broadcast    // notified when the unit takes its inbox
	rate       atomic.Int64 // records/s over the last scaler interval
	pubOffset  atomic.Int64 // source: the committed offset
	srcBacklog atomic.Int64 // source: records waiting in the source after the last bundle
	hot        atomic.Bool  // a one-bucket range saturating its worker

	meta workerMeta // last committed progress
	ops  []operator
	out  *outputBuffer
	wake chan struct{}

	// published after each commit, read by other goroutines.
	pubWM      atomic.Int64
	pubNatural atomic.Int64
	pubSeq     atomic.Uint64 // meta.Seq, stored after the bundle's hand-over
	processed  atomic.Int64

	dedup *dedup // fingerprints of consumed input (dedup.go)

	// per-bundle, owned by the worker goroutine.
	batch       *state.Batch
	afterCommit []func() error
	bundleIn    int64
	bundleOut   int64
	bundleLate  int64
	bundleBad   int64
	appendSeq   uint64
	inWM        int64 // keyed: input watermark applied so far
	inNatural   int64
	curWM       int64 // source: the partition watermark before the current record
	consumed    [][]byte

	reader  connector.Reader
	records []connector.Record
	// recycler is the reader when the stage's operators keep no reference
	// to the rows they are given: the reader may then reuse the rows'
	// memory after each chunk.
	recycler connector.RowRecycler

	// cur identifies the record being processed, for dead letters of
	// records that fail evaluation (recordError).
	cur curRecord
}

// curRecord is the stable id of the record a worker is processing: its
// source offset in a source stage, its queue entry and index in a keyed
// stage. bad is set once the record has been dead-lettered, so a record
// failing in several operators (or several windows) is counted once.
type curRecord struct {
	offset int64
	row    datum.Row // source stages: the record as read
	raw    []byte
	key    []byte // keyed stages: the queue entry's key
	idx    int
	bad    bool
}

// hiExcl is the exclusive upper bound of the worker's hash range in the
// state package's convention (0 means 2^64).
func (w *worker) hiExcl() uint64 { return w.hi + 1 }

// writerID names the unit as a writer of append-only table rows; unit ids
// are never reused within a lineage, so (writerID, appendSeq) is unique.
func (w *worker) writerID() uint64 {
	return w.job.meta.StateNS<<40 | uint64(w.st.plan.ID&0xfff)<<28 | uint64(w.idx&0xfffffff)
}

// init loads the unit's committed progress, builds its operators and
// restores their state. It runs before the unit's goroutine starts; first
// is true at job start (the unit's counters then count toward the job's).
func (w *worker) init(first bool) error {
	store := w.job.x.cfg.Store
	w.meta = workerMeta{WM: minWM, NaturalWM: minWM, MaxTS: minWM}
	if v, ok, err := store.Get(workerMetaKey(w.job.meta.StateNS, w.st.plan.ID, w.idx)); err != nil {
		return err
	} else if ok && !w.meta.decode(v) {
		return errors.New("executor: corrupt worker progress")
	}
	w.pubWM.Store(w.meta.WM)
	w.pubNatural.Store(w.meta.NaturalWM)
	w.pubSeq.Store(w.meta.Seq)
	w.pubOffset.Store(w.meta.Offset)
	w.meta.Source = w.st.source != nil
	// Job counters are cumulative over the lineage's committed progress.
	if first {
		if w.st.source != nil {
			w.job.eventsIn.Add(w.meta.EventsIn)
		}
		w.job.eventsOut.Add(w.meta.EventsOut)
		w.job.lateDropped.Add(w.meta.LateDropped)
		w.job.badRecords.Add(w.meta.BadRecords)
	}
	w.inWM, w.inNatural = w.meta.WM, w.meta.NaturalWM
	w.appendSeq = w.meta.Seq << 20 // room for 1M appended rows per bundle
	w.batch = store.NewBatch()
	if w.st.down != nil {
		w.out = newOutputBuffer(w.st.keyCols, w.st.down.nb)
	}
	var final emitFn
	if w.out != nil {
		final = func(row datum.Row) error { w.out.add(row); return nil }
	} else {
		final = func(datum.Row) error { return nil }
	}
	ops, err := buildChain(w, w.st.plan.Ops, final)
	if err != nil {
		return err
	}
	w.ops = ops
	for _, op := range ops {
		if err := op.load(); err != nil {
			return err
		}
	}
	if w.dedup, err = newDedup(w); err != nil {
		return err
	}
	if w.st.source != nil && !w.meta.Done {
		var r connector.Reader
		if rs, ok := w.st.source.(connector.RangeSource); ok && w.unit.Hi >= 0 {
			from := w.meta.Offset
			if from == 0 {
				if from, _, err = rs.Extent(w.part, w.nparts); err != nil {
					return err
				}
			}
			r, err = rs.OpenRange(w.part, w.nparts, from, w.unit.Hi)
		} else {
			r, err = w.st.source.Open(w.part, w.nparts, w.meta.Offset)
		}
		if err != nil {
			return err
		}
		w.reader = r
		if rc, ok := r.(connector.RowRecycler); ok && !chainRetainsInput(ops) {
			w.recycler = rc
		}
	}
	return nil
}

func (w *worker) close() {
	if w.reader != nil {
		_ = w.reader.Close()
		w.reader = nil
	}
	for _, op := range w.ops {
		if c, ok := op.(interface{ closeOp() }); ok {
			c.closeOp()
		}
	}
}

// gateWM is the watermark against which lateness is decided for the record
// being processed: the partition watermark in a source stage, the input
// watermark in a keyed stage.
func (w *worker) gateWM() int64 {
	if w.st.source != nil {
		return w.curWM
	}
	return w.inWM
}

// recordError handles a record that failed evaluation (division by zero,
// an overflowing cast, a NULL event time): it goes to the dead-letter table
// under the stable id of the record being processed, so a replay after a
// crash writes the same key once, it is counted once, and the job goes on.
// Errors that are not data errors (no SQLSTATE) fail the job.
func (w *worker) recordError(row datum.Row, err error) error {
	var pe *pgerr.Error
	if !errors.As(err, &pe) {
		return err // not a data error: fail the job
	}
	if w.cur.bad {
		return nil // already dead-lettered by an earlier operator or window
	}
	w.cur.bad = true
	raw := w.cur.raw
	if raw == nil && w.st.source != nil {
		// The record as it is in the source, fetched by position (rare:
		// readers keep raw bytes only of records that fail to decode).
		if rs, ok := w.st.source.(connector.RawSource); ok {
			if b, err := rs.RawAt(w.part, w.nparts, w.cur.offset); err == nil {
				raw = b
			}
		}
	}
	if raw == nil && w.cur.row != nil {
		raw = rowText(w.cur.row)
	} else if raw == nil {
		raw = rowText(row)
	}
	if w.st.source != nil {
		w.deadLetter(w.cur.offset, raw, err)
		return nil
	}
	w.bundleBad++
	w.putDeadLetter(keyedDeadLetterKey(w.job.meta.StateNS, w.st.plan.ID, w.cur.key, w.cur.idx), w.st.plan.Name, -1, raw, err)
	return nil
}

// rowText renders a row as one CSV-like line for the dead-letter table.
func rowText(row datum.Row) []byte {
	var b []byte
	for i, d := range row {
		if i > 0 {
			b = append(b, ',')
		}
		if !d.IsNull() {
			b = append(b, d.Format()...)
		}
	}
	return b
}

func (w *worker) run() {
	defer w.job.wg.Done()
	var err error
	if w.st.source != nil {
		err = w.runSource()
	} else {
		err = w.runKeyed()
	}
	w.release()
	w.exitErr = err
	if err != nil && !errors.Is(err, errStopped) && !errors.Is(err, errRetired) {
		w.job.fail(err)
	}
	// Downstream workers must notice this worker finished: count it out
	// first, then wake them.
	w.job.unitExited(w)
	if w.st.down != nil {
		w.st.down.wakeWorkers()
	}
}

var errStopped = errors.New("executor: stopped")

func (w *worker) stopped() bool { return w.job.ctx.Err() != nil }

// watermark computation for sources.
func (w *worker) sourceWM() int64 {
	sp := w.st.plan.Source
	wm := w.meta.WM
	if sp.TimeCol >= 0 && w.meta.MaxTS != minWM {
		if c := w.meta.MaxTS - sp.WatermarkDelay; c > wm {
			wm = c
		}
	}
	return wm
}

func (w *worker) runSource() error {
	cfg := w.job.x.cfg
	sp := w.st.plan.Source
	clock := cfg.Env.Clock
	lastRecord := clock.Now()
	var earlyTick <-chan time.Time
	if w.job.plan.Options.EmitEarly > 0 {
		earlyTick = clock.After(time.Duration(w.job.plan.Options.EmitEarly) * time.Microsecond)
	}
	for {
		w.release()
		if w.stopped() {
			return errStopped
		}
		if w.retiring() {
			return errRetired
		}
		if err := w.pausePoint(); err != nil { // a bundle boundary (snapshot.go)
			return err
		}
		if err := w.waitForSpace(); err != nil {
			return err
		}
		w.acquire()
		draining := w.job.draining.Load()
		var recs []connector.Record
		eof := false
		max := cfg.BundleSize
		if !draining {
			var err error
			if h := cfg.hooks; h != nil && h.slowUnit != nil {
				if n := h.slowUnit(w); n > 0 {
					max = n
				}
			}
			recs, eof, err = w.reader.Read(w.records[:0], min(max, sourceChunk))
			if err != nil {
				return err
			}
			w.records = recs
		}
		idleAdvance := false
		if len(recs) == 0 && !eof && !draining {
			if sp.IdleTimeout > 0 {
				idle := clock.Now().Sub(lastRecord)
				limit := time.Duration(sp.IdleTimeout) * time.Microsecond
				if idle >= limit {
					nowWM := clock.Now().UnixMicro() - sp.WatermarkDelay
					if nowWM > w.meta.WM {
						idleAdvance = true
						w.meta.WM, w.meta.NaturalWM = nowWM, nowWM
					}
				}
			}
			if !idleAdvance {
				w.release()
				var timeout <-chan time.Time
				if sp.IdleTimeout > 0 {
					timeout = clock.After(time.Second)
				}
				select {
				case <-w.reader.Ready():
				case <-w.job.ctx.Done():
					return errStopped
				case <-w.job.drainCh:
				case <-w.retireCh:
				case <-w.wake: // a pause request (snapshot.go)
				case <-timeout:
				case <-earlyTick:
					earlyTick = clock.After(time.Duration(w.job.plan.Options.EmitEarly) * time.Microsecond)
				}
				continue
			}
		}
		if len(recs) > 0 {
			lastRecord = clock.Now()
		}
		// The bundle's records are read and processed a chunk at a time,
		// so the record buffer stays small and each chunk is processed
		// while its rows are still in the cache.
		for n := 0; ; {
			if err := w.sourceRecords(recs, sp.TimeCol); err != nil {
				return err
			}
			if w.recycler != nil {
				w.cur.row = nil
				w.recycler.RecycleRows()
			}
			n += len(recs)
			if eof || draining || len(recs) < sourceChunk || n >= max {
				break
			}
			var err error
			recs, eof, err = w.reader.Read(w.records[:0], min(max-n, sourceChunk))
			if err != nil {
				return err
			}
			w.records = recs
		}
		if !draining {
			w.meta.Offset = w.reader.NextOffset()
		}
		wm := w.sourceWM()
		natural := wm
		if eof {
			wm, natural = maxWM, maxWM
		}
		if draining {
			wm = maxWM
			natural = w.meta.NaturalWM
			if n := w.sourceWM(); n > natural {
				natural = n
			}
			w.meta.Drained = true
		}
		w.meta.Done = eof || draining
		for _, op := range w.ops {
			if err := op.advance(wm, natural); err != nil {
				return err
			}
		}
		if err := w.commit(wm, natural); err != nil {
			return err
		}
		if br, ok := w.reader.(connector.BacklogReader); ok {
			w.srcBacklog.Store(br.Backlog())
		}
		if w.meta.Done {
			return nil
		}
	}
}

// sourceChunk is how many records a source worker reads and processes at a
// time within a bundle of up to BundleSize records.
const sourceChunk = 1024

// sourceRecords processes a chunk of source records: replays are skipped,
// malformed records dead-lettered, watermark punctuations applied, and
// every other row goes to the stage's first operator.
func (w *worker) sourceRecords(recs []connector.Record, timeCol int) error {
	for i := range recs {
		r := &recs[i]
		if w.dedup.sourceSeen(r.Offset) {
			continue // replayed: consumed by an earlier bundle
		}
		if r.Err != nil {
			w.deadLetter(r.Offset, r.Raw, r.Err)
			continue
		}
		if r.IsWatermark {
			if r.Watermark > w.meta.WM {
				w.meta.WM = r.Watermark
			}
			continue
		}
		w.cur = curRecord{offset: r.Offset, row: r.Row}
		w.curWM = w.sourceWM()
		if err := w.ops[0].process(r.Row); err != nil {
			return err
		}
		if timeCol >= 0 {
			if ts := r.Row[timeCol]; !ts.IsNull() && ts.Micros() > w.meta.MaxTS {
				w.meta.MaxTS = ts.Micros()
			}
		}
		w.bundleIn++
		r.Row = nil
	}
	return nil
}

func (w *worker) runKeyed() error {
	clock := w.job.x.cfg.Env.Clock
	var earlyTick <-chan time.Time
	earlyEvery := time.Duration(w.job.plan.Options.EmitEarly) * time.Microsecond
	if earlyEvery > 0 {
		earlyTick = clock.After(earlyEvery)
	}
	for {
		w.release()
		if w.stopped() {
			return errStopped
		}
		if w.retiring() {
			return errRetired
		}
		if err := w.pausePoint(); err != nil { // a bundle boundary (snapshot.go)
			return err
		}
		// Read the upstream watermark and completion BEFORE taking the
		// inbox: everything produced before they were published is in it.
		upWM, upNatural, upDone := int64(maxWM), int64(maxWM), true
		for _, up := range w.st.upstreams {
			if v := up.outputWM(); v < upWM {
				upWM = v
			}
			if v := up.naturalWM(); v < upNatural {
				upNatural = v
			}
			if up.live.Load() > 0 {
				upDone = false
			}
		}
		w.dedup.observe()
		items := w.takeInbox()
		ticked := false
		if len(items) == 0 && upWM <= w.inWM && !upDone {
			select {
			case <-w.wake:
			case <-w.retireCh:
			case <-w.job.ctx.Done():
				return errStopped
			case <-earlyTick:
				earlyTick = clock.After(earlyEvery)
				ticked = true
			}
			if !ticked {
				continue
			}
		}
		if err := w.waitForSpace(); err != nil {
			return err
		}
		w.acquire()
		for _, d := range items {
			if dup, err := w.dedup.admit(d.key); err != nil {
				return err
			} else if dup {
				w.batch.Delete(d.key) // consumed before: acknowledge again
				continue
			}
			process := w.entry(d) // join.go: the input d came from
			for i, row := range d.rows {
				w.cur = curRecord{key: d.key, idx: i}
				if err := process(row); err != nil {
					return err
				}
			}
			w.bundleIn += int64(len(d.rows))
			w.batch.Delete(d.key)
		}
		if upWM > w.inWM {
			w.inWM = upWM
		}
		if upNatural > w.inNatural {
			w.inNatural = upNatural
		}
		for _, op := range w.ops {
			if err := op.advance(w.inWM, w.inNatural); err != nil {
				return err
			}
		}
		if ticked {
			now := clock.Now().UnixMicro()
			for _, op := range w.ops {
				if err := op.tick(now); err != nil {
					return err
				}
			}
		}
		finished := upDone && w.inWM == maxWM
		w.meta.Done = finished
		w.dedup.endBundle()
		if err := w.commit(w.inWM, w.inNatural); err != nil {
			return err
		}
		if finished {
			return nil
		}
	}
}

// waitForSpace blocks, holding no worker, while a downstream unit has more
// than its limit of rows waiting (backpressure).
func (w *worker) waitForSpace() error {
	for _, sw := range w.st.sinkWriters {
		if err := sw.waitSpace(w); err != nil {
			return err
		}
	}
	if w.st.down == nil {
		return nil
	}
	limit := w.job.x.cfg.MaxPending
	for {
		var full *worker
		var taken <-chan struct{}
		for _, dw := range w.st.down.list() {
			// The channel is taken before the check, so a take between
			// the check and the wait still wakes this producer.
			ch := dw.space.wait()
			if dw.pending() > limit {
				full, taken = dw, ch
				break
			}
		}
		if full == nil {
			return nil
		}
		select {
		case <-taken:
		case <-full.exited: // retired: its successors take over
		case <-w.retireCh:
			return nil
		case <-w.job.ctx.Done():
			return errStopped
		}
	}
}

// commit flushes the operators, writes the bundle's outputs and progress
// into the batch, commits it durably, and only then publishes: outputs to
// downstream inboxes, then the watermark.
func (w *worker) commit(wm, natural int64) error {
	for _, op := range w.ops {
		if err := op.flush(); err != nil {
			return err
		}
	}
	ns := w.job.meta.StateNS
	w.meta.Seq++
	var deliveries []delivery
	if w.out != nil {
		for dest := range w.out.rows {
			rows := w.out.rows[dest]
			if len(rows) == 0 {
				continue
			}
			key := queueKey(ns, w.st.down.plan.ID, dest, w.st.plan.ID, w.idx, w.meta.Seq)
			w.batch.Set(key, encodeDelivery(w.out.hashes[dest], rows))
			deliveries = append(deliveries, delivery{key: key, hashes: w.out.hashes[dest], rows: rows})
		}
		w.out.reset()
	}
	if wm < w.meta.WM {
		wm = w.meta.WM // never backwards
	}
	if natural < w.meta.NaturalWM {
		natural = w.meta.NaturalWM
	}
	w.meta.WM, w.meta.NaturalWM = wm, natural
	w.meta.EventsIn += w.bundleIn
	w.meta.EventsOut += w.bundleOut
	w.meta.LateDropped += w.bundleLate
	w.meta.BadRecords += w.bundleBad
	w.batch.Set(workerMetaKey(ns, w.st.plan.ID, w.idx), w.meta.encode())
	// The worker is free while the batch syncs: waiting for the disk is
	// not work, and another unit of this worker can run meanwhile.
	held := w.held != nil
	w.release()
	hooks := w.job.x.cfg.hooks
	if hooks != nil && hooks.beforeCommit != nil {
		hooks.beforeCommit(w, w.batch)
	}
	err := w.job.x.cfg.Store.Commit(w.batch)
	if err == nil && hooks != nil && hooks.afterCommit != nil {
		hooks.afterCommit(w, w.batch)
	}
	if held {
		w.acquire()
	}
	if err != nil {
		return w.commitFailed(err)
	}
	w.batch.Reset()
	w.appendSeq = w.meta.Seq << 20
	// Published only now that the bundle is durable.
	for _, d := range deliveries {
		w.st.down.inboxes[bucketOfKey(d.key)].put(d)
	}
	if hooks != nil && hooks.redeliver != nil {
		for _, d := range hooks.redeliver(w, deliveries) {
			w.st.down.inboxes[bucketOfKey(d.key)].put(d)
		}
	}
	w.pubSeq.Store(w.meta.Seq)
	w.pubOffset.Store(w.meta.Offset)
	if w.st.source != nil {
		w.job.eventsIn.Add(w.bundleIn)
	}
	w.job.eventsOut.Add(w.bundleOut)
	w.job.lateDropped.Add(w.bundleLate)
	w.job.badRecords.Add(w.bundleBad)
	w.processed.Add(w.bundleIn)
	w.bundleIn, w.bundleOut, w.bundleLate, w.bundleBad = 0, 0, 0, 0
	w.pubNatural.Store(natural)
	w.pubWM.Store(wm)
	if w.st.down != nil {
		w.st.down.wakeWorkers()
	}
	w.job.notifyProgress()
	after := w.afterCommit
	w.afterCommit = nil
	for _, h := range after {
		if err := h(); err != nil {
			return err
		}
	}
	return nil
}

// commitFailed reports a bundle commit that did not reach the store (disk
// full, I/O error): the job stops; nothing of the bundle is visible or
// acknowledged, and a restart resumes from the last commit. The SQLSTATE of
// the storage error (53100, 58030) is kept.
func (w *worker) commitFailed(err error) error {
	pe := pgerr.Wrap(err)
	return pgerr.New(pe.Code, "committing a bundle of stage %s (worker %d) failed; the job stopped at its last commit and resumes from there after a restart: %s",
		w.st.plan.Name, w.idx, pe.Message)
}

// deadLetter records a malformed source record, keyed by its position so a
// replay writes the same key once.
func (w *worker) deadLetter(offset int64, raw []byte, cause error) {
	w.bundleBad++
	w.putDeadLetter(deadLetterKey(w.job.meta.StateNS, w.st.plan.ID, w.part, offset), w.st.plan.Source.Name, offset, raw, cause)
}

func (w *worker) putDeadLetter(key []byte, source string, position int64, raw []byte, cause error) {
	row := datum.Row{
		datum.NewString(w.job.meta.Name),
		datum.NewInt(int64(w.job.meta.ID)),
		datum.NewString(source),
		datum.NewInt(position),
		datum.NewBytes(raw),
		datum.NewString(cause.Error()),
		datum.NewTimestamp(w.job.x.cfg.Env.Clock.Now().UnixMicro()),
	}
	w.batch.Set(key, datum.AppendRow(nil, row))
}

// committedOffset is a source unit's committed position (any goroutine).
func (w *worker) committedOffset() int64 { return w.pubOffset.Load() }
