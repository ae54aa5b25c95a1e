package executor

import "github.com/weir-sql/weir/state"

// testHooks let this package's tests reach inside a running job: force the
// fingerprint filters' answers, shrink fingerprint slices, observe every
// bundle commit (crash tests) and re-deliver queue entries (dedup tests).
// Config.hooks is nil outside tests.
type testHooks struct {
	// alwaysMaybe makes every Bloom filter answer "maybe".
	alwaysMaybe bool
	// dropFilters discards the filters of the slices restored at start.
	dropFilters bool
	// sliceBundles closes a fingerprint slice after this many bundles.
	sliceBundles int
	// keepSlices keeps at least this many closed slices.
	keepSlices int
	// beforeCommit and afterCommit run around every bundle's Store.Commit,
	// in the worker's goroutine, with the complete batch (afterCommit only
	// when the commit succeeded).
	beforeCommit func(w *worker, b *state.Batch)
	afterCommit  func(w *worker, b *state.Batch)
	// redeliver runs after a producer handed its bundle's deliveries over
	// and before it publishes the commit: the deliveries it returns (of
	// this bundle or the producer's previous one) are handed over again,
	// like a producer's retries.
	redeliver func(w *worker, ds []delivery) []delivery
	// slowUnit, when it returns n > 0, caps the records a source unit reads
	// per bundle at n (an artificially slowed worker).
	slowUnit func(w *worker) int
	// sinkDie, when it returns true, ends a sink's delivery loop right
	// before (after=false) or right after (after=true) its external
	// commit, as a crash there would: nothing more is delivered or
	// deleted from the outbox by this process.
	sinkDie func(sw *sinkWriter, after bool) bool
	// deliverRows caps the rows of one sink delivery (default
	// maxDeliverRows), so a test sees many deliveries.
	deliverRows int
}
