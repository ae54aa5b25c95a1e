package executor

// Source partitions found while a job runs.
//
// A source's partition count is asked once, at a lineage's first start,
// and persisted with the stage's unit table; so are the partitions'
// starting positions when the source chooses them
// (connector.StartingSource: a Kafka source with start = 'latest'), as the
// units' committed offsets, so a restart continues from them rather than
// from wherever "latest" is then.
//
// A source whose partitions can grow (connector.PartitionWatcher: a Kafka
// topic) gets a watcher goroutine per stage, counted in the job's
// WaitGroup, which blocks in WaitPartitions and, when the source has more
// partitions than the stage, takes the job's lifecycle semaphore (so it
// excludes the autoscaler's reconfigurations and pauses) and adds one unit
// per new partition:
//
//  1. The new runners enter the stage's unit list first, publishing the
//     lowest watermark, so from then on no downstream worker can read a
//     stage watermark that ignores them.
//  2. Their starting watermark is the minimum of the other units'
//     published watermarks, read after step 1: at least every stage
//     watermark a downstream worker has read so far (each unit's only
//     grows), so a record of a new partition judged on time reaches its
//     window before it fires. Records of a new partition older than that
//     are late, as for any partition behind the others.
//  3. One batch commits the new partition count, the unit table and the
//     units' progress (offset 0: the partition's start; that watermark).
//     A crash before it leaves the old table, and the restarted watcher
//     finds the partitions again; after it, they restart like any unit.
//  4. The runners load and start.
//
// The watcher ends with the job, or when its units have all finished
// (a drain).

import (
	"context"
	"encoding/binary"

	"github.com/weir-sql/weir/connector"
)

// startOffsets asks a StartingSource where each of n partitions starts
// (nil for other sources: they start at 0).
func startOffsets(src connector.Source, n int) ([]int64, error) {
	ss, ok := src.(connector.StartingSource)
	if !ok {
		return nil, nil
	}
	out := make([]int64, n)
	for p := range out {
		off, err := ss.StartOffset(p, n)
		if err != nil {
			return nil, err
		}
		out[p] = off
	}
	return out, nil
}

// watchPartitions adds units for the partitions st's source gains.
func (j *Job) watchPartitions(st *stageRT, pw connector.PartitionWatcher) {
	defer j.wg.Done()
	ctx, cancel := context.WithCancel(j.ctx)
	defer cancel()
	go func() {
		select {
		case <-j.unitsDone:
			cancel()
		case <-ctx.Done():
		}
	}()
	j.life.init()
	have := st.nparts // read before any change: this goroutine is the only writer
	for {
		n, err := pw.WaitPartitions(ctx, have)
		if ctx.Err() != nil || j.draining.Load() {
			return
		}
		if err != nil || n <= have {
			continue
		}
		select {
		case j.life.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		err = j.addPartitions(st, n)
		have = st.nparts
		<-j.life.sem
		if err != nil {
			if j.ctx.Err() == nil {
				j.fail(err)
			}
			return
		}
	}
}

// addPartitions adds units for partitions st.nparts..n-1 (see the file
// comment). It must be called with the lifecycle semaphore held.
func (j *Job) addPartitions(st *stageRT, n int) error {
	old := st.nparts
	if n <= old {
		return nil
	}
	add := n - old
	// Count the new units in before they exist, unless the job is ending.
	j.runMu.Lock()
	if j.running.Load() == 0 || j.draining.Load() || j.ctx.Err() != nil {
		j.runMu.Unlock()
		return nil
	}
	st.live.Add(int32(add))
	j.running.Add(int32(add))
	j.wg.Add(add)
	j.runMu.Unlock()
	started := 0
	defer func() {
		if d := add - started; d > 0 {
			j.unhold(st, d)
		}
	}()
	tbl := st.table
	tbl.Units = append([]unit(nil), tbl.Units...)
	workers := max(j.Workers(), 1)
	var runners []*worker
	for p := old; p < n; p++ {
		u := unit{ID: tbl.NextID, Part: int32(p), Hi: -1, Worker: int32(p % workers)}
		tbl.NextID++
		tbl.Units = append(tbl.Units, u)
		w := j.newRunner(st, u)
		w.nparts = n
		w.pubWM.Store(minWM)
		w.pubNatural.Store(minWM)
		runners = append(runners, w)
	}
	olds := st.list()
	st.setList(append(append([]*worker(nil), olds...), runners...))
	wm, natural := int64(maxWM), int64(maxWM)
	for _, w := range olds {
		wm = min(wm, w.pubWM.Load())
		natural = min(natural, w.pubNatural.Load())
	}
	store := j.x.cfg.Store
	ns := j.meta.StateNS
	b := store.NewBatch()
	defer b.Close()
	for _, w := range runners {
		m := workerMeta{MaxTS: minWM, WM: wm, NaturalWM: natural, Source: true}
		b.Set(workerMetaKey(ns, st.plan.ID, w.idx), m.encode())
	}
	b.Set(numPartsKey(ns, st.plan.ID), binary.BigEndian.AppendUint32(nil, uint32(n)))
	b.Set(unitsKey(ns, st.plan.ID), tbl.encode())
	if err := store.Commit(b); err != nil {
		st.setList(olds)
		return err
	}
	st.table = tbl
	st.nparts = n
	for _, w := range runners {
		if err := w.init(false); err != nil {
			return err
		}
	}
	j.x.cfg.Logf("job %s: source %s has %d partitions (was %d)", j.meta.Name, st.plan.Source.Name, n, old)
	for _, w := range runners {
		started++
		go w.run()
	}
	if st.down != nil {
		st.down.wakeWorkers()
	}
	j.notifyProgress()
	return nil
}
