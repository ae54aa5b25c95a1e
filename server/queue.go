package server

import (
	"context"
	"errors"
	"sync"
)

// cmdQueue carries frontend messages from a connection's reader goroutine
// to its executor goroutine (CockroachDB's StmtBuf, simplified). The reader
// never waits for SQL to run; it waits only when more than maxBytes of
// messages are queued and unprocessed, which pushes back on a client that
// pipelines faster than statements run (TCP flow control does the rest).
type cmdQueue struct {
	maxBytes int
	// avail is signalled (non-blocking, capacity 1) when a message is
	// pushed or the queue is closed; space when a message is popped.
	avail chan struct{}
	space chan struct{}

	mu struct {
		sync.Mutex
		items []cmd
		bytes int
		// closed is set by the reader when it stops; err says why:
		// errTerminated after a Terminate message, errClientGone after a
		// read error, nil when the connection is being torn down.
		closed bool
		err    error
	}
}

// Reasons a queue is closed.
var (
	errTerminated = errors.New("server: client sent Terminate")
	errClientGone = errors.New("server: client connection closed")
	errShutdown   = errors.New("server: shutting down")
)

func newCmdQueue(maxBytes int) *cmdQueue {
	return &cmdQueue{
		maxBytes: maxBytes,
		avail:    make(chan struct{}, 1),
		space:    make(chan struct{}, 1),
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push appends c. It blocks while the queue holds more than maxBytes (and
// at least one message), until the executor makes room, the queue is
// closed (the executor closes it when it stops) or done is closed. It
// reports false if the message was not queued.
func (q *cmdQueue) push(c cmd, done <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if q.mu.closed {
			q.mu.Unlock()
			return false
		}
		if q.mu.bytes < q.maxBytes || len(q.mu.items) == 0 {
			q.mu.items = append(q.mu.items, c)
			q.mu.bytes += c.size()
			q.mu.Unlock()
			signal(q.avail)
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-done:
			return false
		}
	}
}

// close stops the queue. With discard, messages still queued are dropped
// (the client is gone or said Terminate); otherwise the executor processes
// them first.
func (q *cmdQueue) close(err error, discard bool) {
	q.mu.Lock()
	if !q.mu.closed {
		q.mu.closed = true
		q.mu.err = err
	}
	if discard {
		q.mu.items = nil
		q.mu.bytes = 0
	}
	q.mu.Unlock()
	signal(q.avail)
	signal(q.space)
}

// pop returns the next message. It returns an error when the queue is
// closed and empty, when ctx is done (a statement waiting for COPY data was
// canceled), or, if stop is non-nil, when stop is closed (the server is
// shutting down: the connection stops at this message boundary).
func (q *cmdQueue) pop(ctx context.Context, stop <-chan struct{}) (cmd, error) {
	for {
		if stop != nil {
			select {
			case <-stop:
				return nil, errShutdown
			default:
			}
		}
		q.mu.Lock()
		if len(q.mu.items) > 0 {
			c := q.mu.items[0]
			q.mu.items[0] = nil
			q.mu.items = q.mu.items[1:]
			q.mu.bytes -= c.size()
			q.mu.Unlock()
			signal(q.space)
			return c, nil
		}
		if q.mu.closed {
			err := q.mu.err
			q.mu.Unlock()
			if err == nil {
				err = errClientGone
			}
			return nil, err
		}
		q.mu.Unlock()
		select {
		case <-q.avail:
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-stop:
			return nil, errShutdown
		}
	}
}
