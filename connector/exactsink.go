package connector

import (
	"context"
	"errors"
	"fmt"

	"github.com/weir-sql/weir/datum"
)

// ExactlyOnceSink is a sink whose external system can record, atomically
// with the rows it receives, how far a writer got. The executor does not
// call Write on it: it keeps the rows of every committed bundle in a
// durable outbox (executor/outbox.go) and hands them, in sequence order,
// to a SinkWriter, which makes a re-delivery after a crash harmless.
//
// The postgres, kafka and nats connectors implement it.
type ExactlyOnceSink interface {
	Sink
	// OpenWriter opens the writer named writer: a name that is the same
	// for the same job lineage and sink across restarts (the executor uses
	// "weir-<sink>-<namespace>-<random token kept in the store>"), so a restarted writer finds its progress
	// and, for Kafka, fences its predecessor. A writer is used by one
	// goroutine at a time.
	OpenWriter(ctx context.Context, writer string) (SinkWriter, error)
}

// SinkWriter delivers outbox entries to an external system exactly once.
//
// The contract: Delivered returns the highest sequence number whose rows
// the external system holds (0 for none). Deliver writes the rows of the
// given entries (in increasing Seq order, each above what Delivered last
// said) and records the last entry's Seq in the same external transaction
// (a PostgreSQL transaction, a Kafka transaction) or, where the system has
// no transactions (NATS JetStream), makes each message's id depend only on
// (writer, Seq, row) so the system's deduplication drops a replay. After
// any error the caller closes the writer, opens a new one and asks
// Delivered again: a failed Deliver may or may not have taken effect.
//
// Errors: a *pgerr.Error (a missing target table, mismatched columns, a
// value the target refuses) is permanent and fails the job; an error that
// Retryable reports true for (a broker or server that went away, a timeout)
// is retried with backoff.
type SinkWriter interface {
	Delivered(ctx context.Context) (uint64, error)
	Deliver(ctx context.Context, entries []OutboxEntry) error
	Close() error
}

// OutboxEntry is the output of one committed bundle for one sink: the rows
// in the order the bundle produced them. Deletes, when not nil, marks the
// rows that retract their primary key (an updating stream whose row went
// away): PostgreSQL deletes the row, Kafka writes a tombstone, NATS
// publishes a message with the header Weir-Op: delete.
type OutboxEntry struct {
	Seq     uint64
	Rows    []datum.Row
	Deletes []bool
}

// Deleted reports whether row i of the entry is a deletion.
func (e *OutboxEntry) Deleted(i int) bool { return e.Deletes != nil && e.Deletes[i] }

// RetryableError marks a failure of the external system that a later
// attempt may not meet (a connection refused or reset, a timeout, a broker
// without a leader). The executor backs off and retries.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retry wraps err as retryable (nil stays nil).
func Retry(err error) error {
	if err == nil {
		return nil
	}
	return &RetryableError{Err: err}
}

// Retryf is Retry(fmt.Errorf(format, args...)).
func Retryf(format string, args ...any) error { return Retry(fmt.Errorf(format, args...)) }

// Retryable reports whether err (or an error it wraps) is a RetryableError.
func Retryable(err error) bool {
	var re *RetryableError
	return errors.As(err, &re)
}
