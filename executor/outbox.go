package executor

import (
	cryptorand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// Exactly-once delivery to external sinks (connector.ExactlyOnceSink:
// postgres, kafka, nats) goes through a durable outbox, MillWheel's strong
// production applied to the edge of the job:
//
//   - A bundle's rows for such a sink are written into the outbox in the
//     bundle's own Pebble batch, under a sequence number of the job's sink
//     writer: 'm' ns(8) 'o' sink(8) seq(8). So they are durable exactly when
//     the bundle's state changes, consumed inputs and source position are,
//     and a replayed bundle (after a crash before its commit) produces
//     them again under the same conditions, never twice.
//   - One sink writer per job and sink (sinkWriter) owns the sequence and
//     one delivery goroutine. Sequence numbers are taken when a bundle
//     flushes and become deliverable when the bundle commits; the loop
//     delivers committed entries in sequence order, never past a number
//     that is still in flight (taken, not yet committed), so the external
//     system sees the entries in commit order and "last delivered seq" is a
//     complete description of its progress. A crash loses in-flight
//     numbers with their bundles, leaving gaps, which are harmless.
//   - The loop hands a run of entries to the connector's SinkWriter, which
//     writes them and the last entry's seq in one external transaction
//     (PostgreSQL: a progress row; Kafka: a transactional offset commit) or
//     under message ids made from writer and seq (NATS dedup). Then it
//     deletes the delivered entries and records the seq locally
//     ('m' ns(8) 'O' sink(8)) in one local batch. A crash between the two
//     re-sends entries the external system already holds; on (re)start the
//     loop asks the writer for its delivered seq and drops what it covers.
//   - The outbox is bounded: producing units wait (waitForSpace) while
//     more than Config.MaxOutboxRows rows are undelivered, so a sink that
//     is down or slow holds the job back instead of filling the disk. An
//     outage (connector.Retryable errors) is retried with exponential
//     backoff on the injected clock; any other error (a missing table,
//     mismatched columns) fails the job with its SQLSTATE.
//   - A bounded job (or a drain) ends DONE / DRAINED only once the outbox
//     is empty; a stop or cancel ends the loop at once and a restart
//     resumes delivery from the outbox.
//
// The writer's name, "weir-<sink>-<ns>-<token>" (token: 64 random bits drawn
// at the lineage's first start and kept in the store), is the same across
// restarts and updates of the job lineage and differs between data
// directories: it is the Kafka transactional id (so a
// restarted writer fences the previous one) and the PostgreSQL progress
// row's key.

const (
	metaOutbox    = 'o'
	metaDelivered = 'O'
	metaWriterID  = 'W'
)

func outboxPrefix(ns, sink uint64) []byte {
	b := nsKey(metaPrefix, ns, 9)
	b = append(b, metaOutbox)
	return binary.BigEndian.AppendUint64(b, sink)
}

func outboxKey(ns, sink, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(outboxPrefix(ns, sink), seq)
}

func deliveredKey(ns, sink uint64) []byte {
	b := nsKey(metaPrefix, ns, 9)
	b = append(b, metaDelivered)
	return binary.BigEndian.AppendUint64(b, sink)
}

// writerIDKey holds the random token that makes a sink writer's name
// unique across Weir installations (namespaces are small catalog ids: two
// data directories writing to one database would otherwise share names).
func writerIDKey(ns, sink uint64) []byte {
	b := nsKey(metaPrefix, ns, 9)
	b = append(b, metaWriterID)
	return binary.BigEndian.AppendUint64(b, sink)
}

// encodeOutbox encodes an entry's rows: count, then per row a flag byte
// (1: deletion) and the row.
func encodeOutbox(rows []datum.Row, deletes []bool) []byte {
	b := make([]byte, 0, 32*len(rows)+8)
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for i, r := range rows {
		var f byte
		if deletes != nil && deletes[i] {
			f = 1
		}
		b = append(b, f)
		b = datum.AppendRow(b, r)
	}
	return b
}

var errCorruptOutbox = errors.New("executor: corrupt outbox entry")

func decodeOutbox(seq uint64, v []byte) (connector.OutboxEntry, error) {
	e := connector.OutboxEntry{Seq: seq}
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)) {
		return e, errCorruptOutbox
	}
	v = v[w:]
	e.Rows = make([]datum.Row, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(v) < 1 {
			return e, errCorruptOutbox
		}
		if v[0] == 1 {
			if e.Deletes == nil {
				e.Deletes = make([]bool, n)
			}
			e.Deletes[i] = true
		}
		r, rest, err := datum.DecodeRow(v[1:])
		if err != nil {
			return e, err
		}
		e.Rows = append(e.Rows, r)
		v = rest
	}
	return e, nil
}

// sinkWriter is a job's writer for one exactly-once sink: the outbox's
// sequence, the committed entries not yet delivered, and the delivery loop.
type sinkWriter struct {
	j     *Job
	plan  *plan.SinkOp
	sink  connector.ExactlyOnceSink
	name  string
	limit int
	done  chan struct{} // closed when the delivery loop returns

	// mu guards the sequence and the pending entries; no I/O under it.
	mu struct {
		sync.Mutex
		next     uint64                  // the next sequence number to hand out
		inflight map[uint64]int          // taken by a bundle not committed yet: rows
		ready    []connector.OutboxEntry // committed, undelivered, by seq
		rows     int                     // rows in flight or ready
		changed  chan struct{}           // closed and replaced on every change
	}
}

// newSinkWriter loads the outbox of sink p of job j.
func newSinkWriter(j *Job, p *plan.SinkOp, sink connector.ExactlyOnceSink) (*sinkWriter, error) {
	ns := j.meta.StateNS
	store := j.x.cfg.Store
	idKey := writerIDKey(ns, p.TargetID)
	tok, ok, err := store.Get(idKey)
	if err != nil {
		return nil, err
	}
	if !ok || len(tok) != 8 {
		// The lineage's first start with this sink: draw the token once.
		tok = make([]byte, 8)
		if _, err := cryptorand.Read(tok); err != nil {
			return nil, err
		}
		b := store.NewBatch()
		b.Set(idKey, tok)
		if err := store.Commit(b); err != nil {
			return nil, err
		}
	}
	name := fmt.Sprintf("weir-%s-%d-%016x", p.Target, ns, binary.BigEndian.Uint64(tok))
	sw := &sinkWriter{j: j, plan: p, sink: sink, name: name, limit: j.x.cfg.MaxOutboxRows, done: make(chan struct{})}
	sw.mu.inflight = map[uint64]int{}
	sw.mu.changed = make(chan struct{})
	var last uint64
	if v, ok, err := store.Get(deliveredKey(ns, p.TargetID)); err != nil {
		return nil, err
	} else if ok && len(v) == 8 {
		last = binary.BigEndian.Uint64(v)
	}
	pre := outboxPrefix(ns, p.TargetID)
	err = store.Scan(pre, state.PrefixEnd(pre), func(k, v []byte) error {
		if len(k) != len(pre)+8 {
			return errCorruptOutbox
		}
		seq := binary.BigEndian.Uint64(k[len(pre):])
		e, err := decodeOutbox(seq, v)
		if err != nil {
			return err
		}
		sw.mu.ready = append(sw.mu.ready, e)
		sw.mu.rows += len(e.Rows)
		last = max(last, seq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sw.mu.next = last + 1
	return sw, nil
}

// reserve takes the next sequence number for a bundle's n rows.
func (sw *sinkWriter) reserve(n int) uint64 {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	seq := sw.mu.next
	sw.mu.next++
	sw.mu.inflight[seq] = n
	sw.mu.rows += n
	return seq
}

// committed makes the entry of a committed bundle deliverable.
func (sw *sinkWriter) committed(e connector.OutboxEntry) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	delete(sw.mu.inflight, e.Seq)
	i := sort.Search(len(sw.mu.ready), func(i int) bool { return sw.mu.ready[i].Seq > e.Seq })
	sw.mu.ready = append(sw.mu.ready, connector.OutboxEntry{})
	copy(sw.mu.ready[i+1:], sw.mu.ready[i:])
	sw.mu.ready[i] = e
	sw.signalLocked()
}

func (sw *sinkWriter) signalLocked() {
	close(sw.mu.changed)
	sw.mu.changed = make(chan struct{})
}

// waitSpace blocks, holding no worker, while the outbox holds more than
// its limit of undelivered rows (backpressure from a slow or absent sink).
func (sw *sinkWriter) waitSpace(w *worker) error {
	for {
		sw.mu.Lock()
		full := sw.mu.rows > sw.limit
		ch := sw.mu.changed
		sw.mu.Unlock()
		if !full {
			return nil
		}
		select {
		case <-ch:
		case <-sw.done:
			return nil // the loop ended: the job is ending
		case <-w.retireCh:
			return nil
		case <-w.job.ctx.Done():
			return errStopped
		}
	}
}

// take returns the committed entries that may be delivered now, in order:
// those below every sequence number still in flight, up to about maxRows
// rows. idle is true when nothing is ready or in flight.
func (sw *sinkWriter) take(maxRows int) (out []connector.OutboxEntry, idle bool, changed <-chan struct{}) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	low := uint64(1<<64 - 1)
	for s := range sw.mu.inflight {
		low = min(low, s)
	}
	rows := 0
	for _, e := range sw.mu.ready {
		if e.Seq >= low || (rows > 0 && rows+len(e.Rows) > maxRows) {
			break
		}
		out = append(out, e)
		rows += len(e.Rows)
	}
	return out, len(sw.mu.ready) == 0 && len(sw.mu.inflight) == 0, sw.mu.changed
}

// remove forgets the first n ready entries (delivered).
func (sw *sinkWriter) remove(n int) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	for _, e := range sw.mu.ready[:n] {
		sw.mu.rows -= len(e.Rows)
	}
	sw.mu.ready = append(sw.mu.ready[:0], sw.mu.ready[n:]...)
	sw.signalLocked()
}

// maxDeliverRows caps the rows of one external transaction.
const maxDeliverRows = 50_000

// run is the delivery loop (one goroutine per sink writer). It returns
// when the job's context ends, or, once every unit has ended
// (j.unitsEnded), when the outbox is empty.
func (sw *sinkWriter) run() {
	defer close(sw.done)
	j := sw.j
	x := j.x
	ctx := j.ctx
	clock := x.cfg.Env.Clock
	const minBackoff, maxBackoff = 50 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	var wr connector.SinkWriter
	var delivered uint64
	defer func() {
		if wr != nil {
			_ = wr.Close()
		}
	}()
	failed := func(err error) bool {
		if wr != nil {
			_ = wr.Close()
			wr = nil
		}
		if ctx.Err() != nil {
			return true
		}
		if !connector.Retryable(err) {
			// weir_jobs shows the error's text: name the SQLSTATE in it.
			j.fail(fmt.Errorf("sink %s: %w (SQLSTATE %s)", sw.plan.Target, err, pgerr.Code(err)))
			return true
		}
		x.cfg.Logf("sink %s: %v (retrying in %v)", sw.plan.Target, err, backoff)
		select {
		case <-clock.After(backoff):
		case <-ctx.Done():
			return true
		}
		backoff = min(2*backoff, maxBackoff)
		return false
	}
	for {
		if ctx.Err() != nil {
			return
		}
		if wr == nil {
			w, err := sw.sink.OpenWriter(ctx, sw.name)
			if err == nil {
				wr = w
				delivered, err = wr.Delivered(ctx)
			}
			if err != nil {
				if failed(err) {
					return
				}
				continue
			}
		}
		limit := maxDeliverRows
		if h := x.cfg.hooks; h != nil && h.deliverRows > 0 {
			limit = h.deliverRows
		}
		entries, idle, changed := sw.take(limit)
		if len(entries) == 0 {
			if idle && isClosed(j.unitsEnded) {
				return
			}
			select {
			case <-changed:
			case <-j.unitsEnded:
			case <-ctx.Done():
				return
			}
			continue
		}
		send := entries
		for len(send) > 0 && send[0].Seq <= delivered {
			send = send[1:] // the external system has it (a crash before our deletion)
		}
		if len(send) > 0 {
			if h := x.cfg.SinkHook; h != nil {
				h(false)
			}
			if h := x.cfg.hooks; h != nil && h.sinkDie != nil && h.sinkDie(sw, false) {
				return // a simulated crash before the external commit
			}
			if err := wr.Deliver(ctx, send); err != nil {
				if failed(err) {
					return
				}
				continue
			}
			if h := x.cfg.SinkHook; h != nil {
				h(true)
			}
			if h := x.cfg.hooks; h != nil && h.sinkDie != nil && h.sinkDie(sw, true) {
				return // a simulated crash after it, before the outbox deletion
			}
			delivered = send[len(send)-1].Seq
		}
		backoff = minBackoff
		ns := j.meta.StateNS
		b := x.cfg.Store.NewBatch()
		for _, e := range entries {
			b.Delete(outboxKey(ns, sw.plan.TargetID, e.Seq))
		}
		b.Set(deliveredKey(ns, sw.plan.TargetID), binary.BigEndian.AppendUint64(nil, entries[len(entries)-1].Seq))
		if err := x.cfg.Store.Commit(b); err != nil {
			j.fail(err)
			return
		}
		sw.remove(len(entries))
		j.notifyProgress() // WaitFor callers watching OutboxRows
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sinkWriters makes the writers of the job's exactly-once sinks.
func (j *Job) makeSinkWriters() error {
	for _, st := range j.stages {
		for _, op := range st.plan.Ops {
			p, ok := op.(*plan.SinkOp)
			if !ok || p.IsTable {
				continue
			}
			s, err := j.x.sinkFor(p)
			if err != nil {
				return err
			}
			es, ok := s.(connector.ExactlyOnceSink)
			if !ok {
				continue
			}
			if j.sinks == nil {
				j.sinks = map[uint64]*sinkWriter{}
			}
			sw := j.sinks[p.TargetID]
			if sw == nil {
				if sw, err = newSinkWriter(j, p, es); err != nil {
					return err
				}
				j.sinks[p.TargetID] = sw
			}
			st.sinkWriters = append(st.sinkWriters, sw)
		}
	}
	return nil
}

// finishSinks runs when every unit has ended: it lets the delivery loops
// empty the outbox (they return at once when the job was stopped,
// cancelled or failed) and waits for them.
func (j *Job) finishSinks() {
	close(j.unitsEnded)
	for _, sw := range j.sinks {
		<-sw.done
	}
}

// OutboxRows returns the rows waiting in the job's sink outboxes (tests,
// status).
func (j *Job) OutboxRows() int {
	n := 0
	for _, sw := range j.sinks {
		sw.mu.Lock()
		n += sw.mu.rows
		sw.mu.Unlock()
	}
	return n
}
