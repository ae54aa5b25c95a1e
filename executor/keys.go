package executor

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/weir-sql/weir/state"
)

// Runtime keys of a job, all under the job's state namespace ns so that an
// update (which keeps ns) finds them. See state/doc.go for the prefix bytes.
//
//	'm' ns(8) 'w' stage(2) unit(4)                      a unit's progress (workerMeta); a unit is a key range or a source partition range
//	'm' ns(8) 'n' stage(2)                               partition count of a source stage, bucket count of a keyed stage
//	'm' ns(8) 'r' stage(2)                               the stage's unit table: ranges, their owning workers, the next unit id (ranges.go)
//	'm' ns(8) 'f' stage(2) bucket(2) slice(8) fromStage(2) from(4) seq(8)  fingerprint of a consumed queue entry (dedup.go)
//	'q' ns(8) stage(2) bucket(2) fromStage(2) from(4) seq(8)  a committed bundle's output for one bucket of the key space
//	'D' ns(8) stage(2) partition(4) offset(8)            a dead letter (exactly once: keyed by position)
//	'D' ns(8) stage(2) 0xffffffff fromStage(2) from(4) seq(8) idx(4)  a dead letter of a keyed stage (by queue entry and index)
//	'S' id(8) prefix rest                                a snapshot's copy of the job key prefix ns(8) rest
//	                                                     ('s', 'T', 'm', 'q'; snapshot.go, update.go)
//
// A keyed stage's key space (the 64-bit hash of the grouping key) is cut
// into a fixed number of equal buckets (key groups, as Flink calls them),
// chosen at the lineage's first start; a key range is a run of consecutive
// buckets. Queue entries and fingerprints are keyed by bucket, so splitting,
// merging or moving a range changes who reads a span of keys, never a key.

const (
	metaPrefix   = 'm'
	queuePrefix  = 'q'
	deadPrefix   = 'D'
	metaWorker   = 'w'
	metaNumParts = 'n'
	metaFinger   = 'f'
	metaUnits    = 'r'
)

const (
	// minWM is the watermark before anything is known.
	minWM = math.MinInt64
	// maxWM is +infinity: every timer fires.
	maxWM = math.MaxInt64
)

func nsKey(prefix byte, ns uint64, extra int) []byte {
	b := make([]byte, 0, 9+extra)
	b = append(b, prefix)
	return binary.BigEndian.AppendUint64(b, ns)
}

func workerMetaKey(ns uint64, stage, worker int) []byte {
	b := nsKey(metaPrefix, ns, 7)
	b = append(b, metaWorker)
	b = binary.BigEndian.AppendUint16(b, uint16(stage))
	return binary.BigEndian.AppendUint32(b, uint32(worker))
}

func numPartsKey(ns uint64, stage int) []byte {
	b := nsKey(metaPrefix, ns, 3)
	b = append(b, metaNumParts)
	return binary.BigEndian.AppendUint16(b, uint16(stage))
}

func unitsKey(ns uint64, stage int) []byte {
	b := nsKey(metaPrefix, ns, 3)
	b = append(b, metaUnits)
	return binary.BigEndian.AppendUint16(b, uint16(stage))
}

// fingerprintStagePrefix is the prefix of a stage's fingerprints; a bucket's
// follow it (fingerprintPrefix).
func fingerprintStagePrefix(ns uint64, stage int) []byte {
	b := nsKey(metaPrefix, ns, 5)
	b = append(b, metaFinger)
	return binary.BigEndian.AppendUint16(b, uint16(stage))
}

// fingerprintPrefix is the prefix of the fingerprints of one bucket of a
// keyed stage.
func fingerprintPrefix(ns uint64, stage, bucket int) []byte {
	return binary.BigEndian.AppendUint16(fingerprintStagePrefix(ns, stage), uint16(bucket))
}

func queueStagePrefix(ns uint64, stage int) []byte {
	b := nsKey(queuePrefix, ns, 2)
	return binary.BigEndian.AppendUint16(b, uint16(stage))
}

func queueBucketPrefix(ns uint64, stage, bucket int) []byte {
	return binary.BigEndian.AppendUint16(queueStagePrefix(ns, stage), uint16(bucket))
}

func queueKey(ns uint64, stage, bucket, fromStage, from int, seq uint64) []byte {
	b := queueBucketPrefix(ns, stage, bucket)
	b = binary.BigEndian.AppendUint16(b, uint16(fromStage))
	b = binary.BigEndian.AppendUint32(b, uint32(from))
	return binary.BigEndian.AppendUint64(b, seq)
}

// bucketOfKey extracts the destination bucket from a queue key.
func bucketOfKey(key []byte) int {
	return int(binary.BigEndian.Uint16(key[11:13]))
}

// fromStageOf extracts the producing stage from a queue key.
func fromStageOf(key []byte) int {
	return int(binary.BigEndian.Uint16(key[13:15]))
}

// DeadLetterPrefix is the key prefix of every dead letter of all jobs.
func DeadLetterPrefix() []byte { return []byte{deadPrefix} }

func deadLetterKey(ns uint64, stage, partition int, offset int64) []byte {
	b := nsKey(deadPrefix, ns, 14)
	b = binary.BigEndian.AppendUint16(b, uint16(stage))
	b = binary.BigEndian.AppendUint32(b, uint32(partition))
	return binary.BigEndian.AppendUint64(b, uint64(offset))
}

// keyedDeadLetterKey is the dead letter of record idx of the queue entry
// queueKey consumed by a keyed stage: 'D' ns stage(2) 0xffffffff entry-id idx(4).
func keyedDeadLetterKey(ns uint64, stage int, queueKey []byte, idx int) []byte {
	b := nsKey(deadPrefix, ns, 24)
	b = binary.BigEndian.AppendUint16(b, uint16(stage))
	b = binary.BigEndian.AppendUint32(b, ^uint32(0))
	if len(queueKey) >= fpIDLen {
		b = append(b, queueKey[len(queueKey)-fpIDLen:]...)
	}
	return binary.BigEndian.AppendUint32(b, uint32(idx))
}

// workerMeta is what a worker commits with every bundle besides its outputs.
type workerMeta struct {
	Offset      int64 // source stages: next offset to read
	MaxTS       int64 // source stages: max event time read
	WM          int64 // output watermark after the bundle
	NaturalWM   int64 // WM ignoring a drain's jump to +inf
	Seq         uint64
	EventsIn    int64
	EventsOut   int64
	LateDropped int64
	BadRecords  int64
	Done        bool // the worker finished (bounded input ended or drained)
	Drained     bool
	Source      bool // a source-stage worker (its EventsIn count job input)
}

func (m *workerMeta) encode() []byte {
	b := make([]byte, 0, 80)
	for _, v := range []int64{m.Offset, m.MaxTS, m.WM, m.NaturalWM, int64(m.Seq), m.EventsIn, m.EventsOut, m.LateDropped, m.BadRecords} {
		b = binary.AppendVarint(b, v)
	}
	var flags byte
	if m.Done {
		flags |= 1
	}
	if m.Drained {
		flags |= 2
	}
	if m.Source {
		flags |= 4
	}
	return append(b, flags)
}

func (m *workerMeta) decode(b []byte) bool {
	vals := make([]int64, 9)
	for i := range vals {
		v, n := binary.Varint(b)
		if n <= 0 {
			return false
		}
		vals[i] = v
		b = b[n:]
	}
	if len(b) < 1 {
		return false
	}
	m.Offset, m.MaxTS, m.WM, m.NaturalWM = vals[0], vals[1], vals[2], vals[3]
	m.Seq = uint64(vals[4])
	m.EventsIn, m.EventsOut, m.LateDropped, m.BadRecords = vals[5], vals[6], vals[7], vals[8]
	m.Done = b[0]&1 != 0
	m.Drained = b[0]&2 != 0
	m.Source = b[0]&4 != 0
	return true
}

// Progress is a job lineage's committed counters.
type Progress struct {
	EventsIn, EventsOut, LateDropped, BadRecords int64
}

// ReadProgress sums the committed counters of every worker of namespace ns
// (for jobs that are not running in this process).
func ReadProgress(st *state.Store, ns uint64) (Progress, error) {
	var p Progress
	prefix := append(nsKey(metaPrefix, ns, 1), metaWorker)
	err := st.Scan(prefix, state.PrefixEnd(prefix), func(_, v []byte) error {
		var m workerMeta
		if !m.decode(v) {
			return errors.New("executor: corrupt worker progress")
		}
		if m.Source {
			p.EventsIn += m.EventsIn
		}
		p.EventsOut += m.EventsOut
		p.LateDropped += m.LateDropped
		p.BadRecords += m.BadRecords
		return nil
	})
	return p, err
}

// DeleteJobData removes every runtime key of namespace ns (state, timers,
// queues, progress, dead letters stay). Used when a job's lineage ends.
func DeleteJobData(b *state.Batch, ns uint64) {
	for _, p := range []byte{metaPrefix, queuePrefix} {
		k := nsKey(p, ns, 0)
		b.DeleteRange(k, state.PrefixEnd(k))
	}
	k := nsKey('s', ns, 0)
	b.DeleteRange(k, state.PrefixEnd(k))
	k = nsKey('T', ns, 0)
	b.DeleteRange(k, state.PrefixEnd(k))
}
