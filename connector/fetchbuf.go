package connector

import (
	"context"
	"sync"
)

// fetchBuffer hands the messages a broker reader's fetch goroutine
// received (Kafka records, NATS messages) to its Read: push appends and
// then waits while maxBuffered or more are waiting; take removes up to max
// and wakes the pusher; ready closes when the buffer becomes non-empty. The
// messages of the last take are kept for RawAt, and the last fetch error
// for FetchErr. One goroutine pushes and one takes.
type fetchBuffer[T any] struct {
	maxBuffered int

	mu      sync.Mutex
	pending []T           // fetched, not yet taken
	ready   chan struct{} // closed when pending becomes non-empty
	space   chan struct{} // signalled when take removes messages
	last    []T           // the messages of the last take
	lastErr error         // the last fetch error (nil after a good fetch)
}

func newFetchBuffer[T any](maxBuffered int) *fetchBuffer[T] {
	return &fetchBuffer[T]{maxBuffered: maxBuffered, ready: make(chan struct{}), space: make(chan struct{}, 1)}
}

// push appends msgs (a good fetch: it clears the fetch error) and waits
// while the buffer is full; it returns false when ctx ends first.
func (b *fetchBuffer[T]) push(ctx context.Context, msgs ...T) bool {
	b.mu.Lock()
	b.lastErr = nil
	if len(b.pending) == 0 && len(msgs) > 0 {
		close(b.ready)
	}
	b.pending = append(b.pending, msgs...)
	full := len(b.pending) >= b.maxBuffered
	b.mu.Unlock()
	for full {
		select {
		case <-b.space:
		case <-ctx.Done():
			return false
		}
		b.mu.Lock()
		full = len(b.pending) >= b.maxBuffered
		b.mu.Unlock()
	}
	return true
}

// take removes and returns up to max waiting messages.
func (b *fetchBuffer[T]) take(max int) []T {
	b.mu.Lock()
	n := min(max, len(b.pending))
	out := b.pending[:n:n]
	b.pending = b.pending[n:]
	if len(b.pending) == 0 {
		b.pending = nil
		b.ready = make(chan struct{})
	}
	b.last = out
	b.mu.Unlock()
	if n > 0 {
		select {
		case b.space <- struct{}{}:
		default:
		}
	}
	return out
}

// readyChan is closed when messages are waiting (Reader.Ready).
func (b *fetchBuffer[T]) readyChan() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > 0 {
		return closedChan
	}
	return b.ready
}

func (b *fetchBuffer[T]) setErr(err error) {
	b.mu.Lock()
	b.lastErr = err
	b.mu.Unlock()
}

func (b *fetchBuffer[T]) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

// lastValue returns a copy of the value of the message at offset if the
// last take returned it (cut to maxRawBytes when over MaxRecordBytes, as a
// malformed record's Raw is); at gives a message's offset and value.
func (b *fetchBuffer[T]) lastValue(offset int64, at func(T) (int64, []byte)) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.last {
		if off, v := at(m); off == offset {
			if len(v) > MaxRecordBytes {
				v = v[:maxRawBytes]
			}
			return append([]byte(nil), v...), true
		}
	}
	return nil, false
}
