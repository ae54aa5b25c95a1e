package executor

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync"

	"github.com/weir-sql/weir/datum"
)

// rangeOf maps a key hash to one of n equal buckets over the 64-bit hash
// space: bucket i covers [i*2^64/n, (i+1)*2^64/n).
func rangeOf(hash uint64, n int) int {
	hi, _ := bits.Mul64(hash, uint64(n))
	return int(hi)
}

// rangeBounds returns the hash interval [lo, hi] of bucket i of n (hi inclusive).
func rangeBounds(i, n int) (lo, hi uint64) {
	lo = rangeStart(i, n)
	if i == n-1 {
		return lo, ^uint64(0)
	}
	return lo, rangeStart(i+1, n) - 1
}

func rangeStart(i, n int) uint64 {
	if i == 0 {
		return 0
	}
	// smallest h with floor(h*n / 2^64) >= i, i.e. ceil(i*2^64/n)
	q, r := bits.Div64(uint64(i), 0, uint64(n))
	if r != 0 {
		q++
	}
	return q
}

// delivery is one committed queue entry: the records a producer's bundle
// sent to one key range, kept in memory for the consumer and on disk under
// key until the consumer's commit deletes it.
type delivery struct {
	key    []byte
	hashes []uint64
	rows   []datum.Row
}

func encodeDelivery(hashes []uint64, rows []datum.Row) []byte {
	b := make([]byte, 0, 32*len(rows)+8)
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for i, r := range rows {
		b = binary.LittleEndian.AppendUint64(b, hashes[i])
		b = datum.AppendRow(b, r)
	}
	return b
}

var errCorruptQueue = errors.New("executor: corrupt queue entry")

func decodeDelivery(key, v []byte) (delivery, error) {
	d := delivery{key: append([]byte(nil), key...)}
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)) {
		return d, errCorruptQueue
	}
	v = v[w:]
	d.hashes = make([]uint64, 0, n)
	d.rows = make([]datum.Row, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(v) < 8 {
			return d, errCorruptQueue
		}
		d.hashes = append(d.hashes, binary.LittleEndian.Uint64(v))
		r, rest, err := datum.DecodeRow(v[8:])
		if err != nil {
			return d, err
		}
		d.rows = append(d.rows, r)
		v = rest
	}
	return d, nil
}

// bucketsBounds returns the hash interval [lo, hi] (hi inclusive) of the
// buckets [b0, b1) of nb.
func bucketsBounds(b0, b1, nb int) (lo, hi uint64) {
	lo, _ = rangeBounds(b0, nb)
	_, hi = rangeBounds(b1-1, nb)
	return lo, hi
}

// inbox holds the deliveries committed for one bucket of a keyed stage and
// not yet consumed. Producers append after their commit; the worker owning
// the bucket's key range takes everything at the start of a bundle. Inboxes
// belong to the stage, not to a range, so a range that splits, merges or
// moves leaves what it has not taken to its successors.
type inbox struct {
	mu struct {
		sync.Mutex
		items []delivery
		rows  int
	}
}

func newInbox() *inbox { return &inbox{} }

func (ib *inbox) put(d delivery) {
	ib.mu.Lock()
	ib.mu.items = append(ib.mu.items, d)
	ib.mu.rows += len(d.rows)
	ib.mu.Unlock()
}

func (ib *inbox) take() []delivery {
	ib.mu.Lock()
	items := ib.mu.items
	ib.mu.items = nil
	ib.mu.rows = 0
	ib.mu.Unlock()
	return items
}

func (ib *inbox) pending() int {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	return ib.mu.rows
}

// outputBuffer collects a bundle's output rows for a downstream stage,
// partitioned by bucket.
type outputBuffer struct {
	keyCols []int
	n       int // downstream buckets
	hashes  [][]uint64
	rows    [][]datum.Row
	// last is each bucket's row count in the previous bundle: the
	// bucket's slices start at that capacity (bundles are alike) rather
	// than growing by doubling.
	last []int
}

func newOutputBuffer(keyCols []int, n int) *outputBuffer {
	return &outputBuffer{keyCols: keyCols, n: n, hashes: make([][]uint64, n), rows: make([][]datum.Row, n), last: make([]int, n)}
}

// add routes row by the hash of its key columns.
func (o *outputBuffer) add(row datum.Row) {
	var h uint64
	if len(o.keyCols) > 0 {
		h = datum.HashRow(row, o.keyCols)
	}
	o.addHashed(h, row)
}

func (o *outputBuffer) addHashed(h uint64, row datum.Row) {
	r := rangeOf(h, o.n)
	if o.rows[r] == nil && o.last[r] > 0 {
		o.hashes[r] = make([]uint64, 0, o.last[r])
		o.rows[r] = make([]datum.Row, 0, o.last[r])
	}
	o.hashes[r] = append(o.hashes[r], h)
	o.rows[r] = append(o.rows[r], row)
}

func (o *outputBuffer) reset() {
	for i := range o.rows {
		o.last[i] = len(o.rows[i])
		o.hashes[i] = nil
		o.rows[i] = nil
	}
}
