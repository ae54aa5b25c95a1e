package executor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

// This file carries a job's keys into a new plan: an update (ALTER JOB ...
// UPDATE), a restore (CREATE JOB ... FROM SNAPSHOT) and a relaunch after a
// drain or cancel all move the same four kinds of keys of a namespace:
//
//   - 's' operator state and 'T' timers, under the operator's stable name:
//     renamed by the update's matches (WITH MAPPING), dropped for operators
//     the new plan does not carry;
//   - 'm' unit progress, partition and bucket counts and unit tables, and 'q' queue entries (the
//     buffered in-flight data), under stage ids: remapped from the old
//     plan's stage ids to the new plan's. Stages match by what identifies
//     them across edits: a source stage by its source read, a keyed stage by
//     its first stateful operator. Worker counts are carried with the
//     progress, so key ranges (and queue entries' destinations) stay put.
//
// When nothing needs renaming (same operator names, same stage ids, no
// window size change) an update keeps the namespace and copies nothing;
// otherwise the keys are copied into a fresh namespace, leaving the old one
// untouched until the new job runs, so a failure can restart the old job.
//
// A window aggregation whose window size changes keeps its open windows
// with their old bounds ("windowing changes apply to new data"): their
// state and timers are re-keyed as legacy windows carrying their own size
// (windowagg.go), and new rows open windows of the new size.

// CarryPlan says how a namespace's keys move into a new plan.
type CarryPlan struct {
	// Ops maps each carried stateful operator (and source read) of the old
	// plan to its name in the new one.
	Ops map[string]string
	// Stages maps old stage ids to new ones; an unmapped stage's progress
	// and queue entries are not carried.
	Stages map[int]int
	// Resized holds, per old window aggregation whose window size changes,
	// its old size (micros).
	Resized map[string]int64
	// Identity: the new plan finds everything under the old keys, so the
	// namespace can be kept as it is.
	Identity bool
	// Problems are in-flight data that cannot be carried as it is: queue
	// entries whose consumer or producer has no counterpart, or whose row
	// type or partitioning changes. An update lets the old job consume them
	// first (NeedsQuiesce); a restore or relaunch, which has no old job to
	// run, is refused if such entries exist (KeepInflightProblems).
	Problems []plan.UpdateProblem
	// problemStage is the old consumer stage of each problem.
	problemStage []int
	// Report describes the carry, one line per operator and stage, for
	// EXPLAIN JOB ... UPDATE.
	Report []string
}

// NeedsQuiesce reports whether the old job must consume its in-flight data
// before it stops: rows already windowed with a window size that changes,
// or rows the new plan cannot take (Problems), cannot be carried as they
// are.
func (cp *CarryPlan) NeedsQuiesce() bool { return len(cp.Resized) > 0 || len(cp.Problems) > 0 }

// KeepInflightProblems keeps only the problems of stages that have
// in-flight entries (present, from InflightStages).
func (cp *CarryPlan) KeepInflightProblems(present map[int]bool) {
	var ps []plan.UpdateProblem
	var ids []int
	for i, p := range cp.Problems {
		if present[cp.problemStage[i]] {
			ps = append(ps, p)
			ids = append(ids, cp.problemStage[i])
		}
	}
	cp.Problems, cp.problemStage = ps, ids
}

// InflightStages returns the stages of namespace ns (snapshot false) or of
// snapshot keyspace ns (snapshot true) that hold queue entries. It seeks
// once per stage.
func InflightStages(st *state.Store, ns uint64, snapshot bool) (map[int]bool, error) {
	p := nsKey(queuePrefix, ns, 0)
	if snapshot {
		p = append(snapshotKeyPrefix(ns), queuePrefix)
	}
	out := map[int]bool{}
	lo, hi := p, state.PrefixEnd(p)
	for {
		var next []byte
		err := st.Scan(lo, hi, func(k, _ []byte) error {
			if len(k) >= len(p)+2 {
				out[int(binary.BigEndian.Uint16(k[len(p):]))] = true
				next = state.PrefixEnd(k[:len(p)+2])
			}
			return errStopScan
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return nil, err
		}
		if next == nil {
			return out, nil
		}
		lo = next
	}
}

var errStopScan = errors.New("stop")

// PlanCarry plans moving old's keys into nw given the compatibility
// check's matches (planner.CompareForUpdate).
func PlanCarry(old, nw *plan.JobPlan, matches map[string]string) *CarryPlan {
	cp := &CarryPlan{Ops: map[string]string{}, Stages: map[int]int{}, Resized: map[string]int64{}}
	for k, v := range matches {
		cp.Ops[k] = v
	}
	oldOps, newOps := opsByName(old), opsByName(nw)

	// Stages.
	newBySig := map[string]*plan.Stage{}
	for _, st := range nw.Stages {
		if s := stageSig(st, nil); s != "" {
			newBySig[s] = st
		}
	}
	oldByID, newByID := map[int]*plan.Stage{}, map[int]*plan.Stage{}
	for _, st := range nw.Stages {
		newByID[st.ID] = st
	}
	for _, st := range old.Stages {
		oldByID[st.ID] = st
		if s := stageSig(st, matches); s != "" {
			if n, ok := newBySig[s]; ok {
				cp.Stages[st.ID] = n.ID
			}
		}
	}

	// Window sizes.
	for _, o := range sortedKeys(matches) {
		ow, ok1 := oldOps[o].(*plan.WindowAggOp)
		nwa, ok2 := newOps[matches[o]].(*plan.WindowAggOp)
		// (Sliced aggregations cannot change their windows: the check
		// refuses it, their state being laid out by slice.)
		if ok1 && ok2 && !ow.Partial && !nwa.Partial && !ow.Sliced && !nwa.Sliced && ow.Window.Size != nwa.Window.Size {
			cp.Resized[o] = ow.Window.Size
		}
	}

	// Rows in flight to a resized aggregation were windowed with the old
	// size by its partial half.
	for _, st := range old.Stages {
		for _, op := range st.Ops {
			if _, ok := cp.Resized[op.OpName()]; ok {
				cp.problem(st, "its in-flight rows were windowed with the old window size of %s", op.OpName())
			}
		}
	}

	// In-flight data: every queue of the old plan whose consumer is carried
	// must find its producer carried too, feeding the same row type routed
	// by the same key.
	for _, c := range old.Stages {
		nc, cOK := cp.Stages[c.ID]
		for _, in := range c.Inputs {
			np, pOK := cp.Stages[in.Stage]
			prod := oldByID[in.Stage]
			switch {
			case !cOK && !pOK:
				continue
			case !cOK || !pOK:
				cp.problem(c, "its in-flight input from stage %s has no counterpart in the new job", prod.Name)
				continue
			}
			ncs, nps := newByID[nc], newByID[np]
			var nin *plan.StageInput
			for i := range ncs.Inputs {
				if ncs.Inputs[i].Stage == np {
					nin = &ncs.Inputs[i]
				}
			}
			switch {
			case nin == nil:
				cp.problem(c, "stage %s no longer feeds it", nps.Name)
			case schemaTypes(in.Schema) != schemaTypes(nin.Schema):
				cp.problem(c, "its in-flight rows from stage %s change type from (%s) to (%s)", prod.Name, schemaTypes(in.Schema), schemaTypes(nin.Schema))
			case fmt.Sprint(routingKeys(prod)) != fmt.Sprint(routingKeys(nps)):
				cp.problem(c, "its in-flight rows from stage %s are partitioned by other columns", prod.Name)
			}
		}
	}

	// Identity.
	cp.Identity = len(cp.Problems) == 0 && len(cp.Resized) == 0 && len(old.Stages) == len(nw.Stages)
	for o, n := range cp.Ops {
		if o != n {
			cp.Identity = false
		}
	}
	for _, st := range old.Stages {
		if n, ok := cp.Stages[st.ID]; !ok || n != st.ID {
			cp.Identity = false
		}
	}

	// Report.
	for _, name := range sortedKeys(oldOps) {
		op := oldOps[name]
		n, carried := cp.Ops[name]
		switch {
		case carried && cp.Resized[name] != 0:
			nw := newOps[n].(*plan.WindowAggOp)
			cp.Report = append(cp.Report, fmt.Sprintf("%s -> %s: carried; window size %s -> %s applies to new rows, open windows keep their bounds",
				name, n, fmtMicros(cp.Resized[name]), fmtMicros(nw.Window.Size)))
		case carried:
			cp.Report = append(cp.Report, fmt.Sprintf("%s -> %s: carried", name, n))
		case op == nil || !op.Stateful():
			if _, ok := newOps[name]; ok {
				cp.Report = append(cp.Report, fmt.Sprintf("%s: kept (stateless)", name))
			} else {
				cp.Report = append(cp.Report, fmt.Sprintf("%s: dropped (stateless)", name))
			}
		default:
			cp.Report = append(cp.Report, fmt.Sprintf("%s: not carried", name))
		}
	}
	targets := map[string]bool{}
	for _, n := range cp.Ops {
		targets[n] = true
	}
	for _, name := range sortedKeys(newOps) {
		if _, ok := oldOps[name]; ok || targets[name] {
			continue
		}
		if op := newOps[name]; op != nil && op.Stateful() {
			cp.Report = append(cp.Report, fmt.Sprintf("%s: new (starts empty)", name))
		} else {
			cp.Report = append(cp.Report, fmt.Sprintf("%s: new (stateless)", name))
		}
	}
	for _, st := range old.Stages {
		if n, ok := cp.Stages[st.ID]; ok {
			cp.Report = append(cp.Report, fmt.Sprintf("stage %s -> %s: progress and in-flight data carried", st.Name, newByID[n].Name))
		} else {
			cp.Report = append(cp.Report, fmt.Sprintf("stage %s: not carried", st.Name))
		}
	}
	for _, p := range cp.Problems {
		cp.Report = append(cp.Report, fmt.Sprintf("%s: the old job consumes its in-flight rows first: %s", p.Operator, p.Reason))
	}
	return cp
}

func (cp *CarryPlan) problem(c *plan.Stage, format string, args ...any) {
	cp.Problems = append(cp.Problems, plan.UpdateProblem{Operator: "stage " + c.Name, Reason: fmt.Sprintf(format, args...)})
	cp.problemStage = append(cp.problemStage, c.ID)
}

// stageSig identifies a stage across plans: its source read, or its first
// stateful operator. For an old plan, names go through matches (nil: as
// they are); an old operator that is not matched gives no signature.
func stageSig(st *plan.Stage, matches map[string]string) string {
	name := func(n string) string {
		if matches == nil {
			return n
		}
		return matches[n]
	}
	if st.Source != nil {
		if n := name(st.Source.OpName); n != "" {
			return "source " + n
		}
		return ""
	}
	for _, op := range st.Ops {
		if op.Stateful() {
			if n := name(op.OpName()); n != "" {
				return "op " + n
			}
			return ""
		}
	}
	return ""
}

// routingKeys are the columns a stage's output is partitioned by (see
// newJob: a lifted aggregation's partial rows start with its keys).
func routingKeys(st *plan.Stage) []int {
	if st.Output == nil {
		return nil
	}
	if n := len(st.Ops); n > 0 {
		switch last := st.Ops[n-1].(type) {
		case *plan.WindowAggOp:
			if last.Partial {
				return seq(len(last.KeyCols))
			}
		case *plan.AggOp:
			if last.Partial {
				return seq(len(last.KeyCols))
			}
		}
	}
	return st.Output.KeyCols
}

func schemaTypes(s plan.Schema) string {
	parts := make([]string, len(s))
	for i, c := range s {
		parts[i] = c.Type.String()
	}
	return strings.Join(parts, ", ")
}

func opsByName(p *plan.JobPlan) map[string]plan.Op {
	m := map[string]plan.Op{}
	for _, st := range p.Stages {
		if st.Source != nil {
			m[st.Source.OpName] = nil
		}
		for _, op := range st.Ops {
			m[op.OpName()] = op
		}
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fmtMicros(us int64) string {
	switch {
	case us%3_600_000_000 == 0:
		return fmt.Sprintf("%dh", us/3_600_000_000)
	case us%60_000_000 == 0:
		return fmt.Sprintf("%dm", us/60_000_000)
	case us%1_000_000 == 0:
		return fmt.Sprintf("%ds", us/1_000_000)
	}
	return fmt.Sprintf("%dus", us)
}

// CarryOptions modify a carry.
type CarryOptions struct {
	// Reopen reopens workers that a drain finished: their Done and Drained
	// marks are cleared and their watermark goes back from +infinity to the
	// natural watermark, so a relaunch reads exactly the unread rest.
	Reopen bool
}

// CarryStats counts what a carry wrote.
type CarryStats struct {
	Keys, Bytes int64
}

var errCorruptMeta = errors.New("executor: corrupt worker progress")

// CarryNamespace moves namespace from's keys into namespace to for the new
// plan. With from == to (cp.Identity) only progress is rewritten in place
// (for Reopen); otherwise every carried key is copied and from is left as
// it was.
func CarryNamespace(st *state.Store, from, to uint64, cp *CarryPlan, o CarryOptions) (CarryStats, error) {
	if from == to {
		if !cp.Identity {
			return CarryStats{}, errors.New("executor: an in-place carry needs an identity carry plan")
		}
		return reopenInPlace(st, from, o)
	}
	w := newBulkWriter(st)
	var stats CarryStats
	for _, prefix := range jobPrefixes {
		lo := nsKey(prefix, from, 0)
		err := st.Scan(lo, state.PrefixEnd(lo), func(k, v []byte) error {
			return carryKey(w, &stats, cp, o, to, prefix, k[9:], v)
		})
		if err != nil {
			w.abort()
			return stats, err
		}
	}
	return stats, w.finish()
}

// RestoreSnapshot copies snapshot keyspace id into namespace to for the new
// plan.
func RestoreSnapshot(st *state.Store, id, to uint64, cp *CarryPlan, o CarryOptions) (CarryStats, error) {
	w := newBulkWriter(st)
	var stats CarryStats
	base := snapshotKeyPrefix(id)
	err := st.Scan(base, state.PrefixEnd(base), func(k, v []byte) error {
		rest := k[len(base):]
		if len(rest) == 0 {
			return nil
		}
		return carryKey(w, &stats, cp, o, to, rest[0], rest[1:], v)
	})
	if err != nil {
		w.abort()
		return stats, err
	}
	return stats, w.finish()
}

// DeleteJobState removes the state, timers and queue entries of namespace
// ns, keeping its progress (weir_jobs reads a past launch's counters from
// it) and dead letters.
func DeleteJobState(st *state.Store, ns uint64) error {
	b := st.NewBatch()
	defer b.Close()
	for _, p := range []byte{'s', 'T', queuePrefix} {
		k := nsKey(p, ns, 0)
		b.DeleteRange(k, state.PrefixEnd(k))
	}
	return st.Commit(b)
}

// DeleteNamespace removes every runtime key of namespace ns.
func DeleteNamespace(st *state.Store, ns uint64) error {
	b := st.NewBatch()
	defer b.Close()
	DeleteJobData(b, ns)
	return st.Commit(b)
}

// carryKey writes one key of a namespace (prefix, the part after ns, value)
// into namespace to, renamed and remapped by cp.
func carryKey(w *bulkWriter, stats *CarryStats, cp *CarryPlan, o CarryOptions, to uint64, prefix byte, rest, v []byte) error {
	var key []byte
	switch prefix {
	case 's', 'T':
		i := indexByte(rest, 0)
		if i < 0 {
			return nil
		}
		op, tail := string(rest[:i]), rest[i+1:]
		nop, ok := mapOp(cp.Ops, op)
		if !ok {
			return nil // not carried
		}
		if size, resized := cp.Resized[op]; resized {
			var err error
			if prefix == 's' {
				tail, v, err = legacyWindowState(tail, v, size)
			} else {
				tail, err = legacyWindowTimer(tail, size)
			}
			if err != nil {
				return err
			}
		}
		key = nsKey(prefix, to, len(nop)+1+len(tail))
		key = append(append(append(key, nop...), 0), tail...)
	case metaPrefix:
		if len(rest) >= 3 && (rest[0] == metaWorker || rest[0] == metaNumParts || rest[0] == metaUnits) {
			ns, ok := cp.Stages[int(binary.BigEndian.Uint16(rest[1:3]))]
			if !ok {
				return nil
			}
			key = nsKey(prefix, to, len(rest))
			key = append(key, rest[0])
			key = binary.BigEndian.AppendUint16(key, uint16(ns))
			key = append(key, rest[3:]...)
			if rest[0] == metaWorker && o.Reopen {
				var m workerMeta
				if !m.decode(v) {
					return errCorruptMeta
				}
				if reopen(&m) {
					v = m.encode()
				}
			}
		} else if len(rest) > 0 && rest[0] == 'f' {
			// Consumed-entry fingerprints (dedup.go) are not carried: the
			// old job stopped at a bundle boundary, so an entry can come
			// again only from the durable queue, which holds just the
			// unconsumed ones, and producers continue their sequences.
			return nil
		} else {
			key = append(nsKey(prefix, to, len(rest)), rest...)
		}
	case queuePrefix:
		// stage(2) bucket(2) fromStage(2) from(4) seq(8)
		if len(rest) < 18 {
			return nil
		}
		cs, ok1 := cp.Stages[int(binary.BigEndian.Uint16(rest[0:2]))]
		ps, ok2 := cp.Stages[int(binary.BigEndian.Uint16(rest[4:6]))]
		if !ok1 || !ok2 {
			return nil
		}
		key = nsKey(prefix, to, len(rest))
		key = binary.BigEndian.AppendUint16(key, uint16(cs))
		key = append(key, rest[2:4]...)
		key = binary.BigEndian.AppendUint16(key, uint16(ps))
		key = append(key, rest[6:]...)
	default:
		return nil
	}
	stats.Keys++
	stats.Bytes += int64(len(key) + len(v))
	return w.set(key, v)
}

// mapOp renames an operator's state; sub-states named "<op>/<part>"
// follow their operator.
func mapOp(ops map[string]string, op string) (string, bool) {
	if n, ok := ops[op]; ok {
		return n, true
	}
	if i := strings.IndexByte(op, '/'); i > 0 {
		if n, ok := ops[op[:i]]; ok {
			return n + op[i:], true
		}
	}
	return "", false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// reopen clears a drain's marks from a worker's progress; it reports
// whether anything changed.
func reopen(m *workerMeta) bool {
	switch {
	case m.Drained:
		m.Done, m.Drained = false, false
		m.WM = m.NaturalWM
		return true
	case !m.Source && m.Done && m.WM == maxWM && m.NaturalWM != maxWM:
		// A keyed worker finished by a drain upstream.
		m.Done = false
		m.WM = m.NaturalWM
		return true
	}
	return false
}

// reopenInPlace applies Reopen to the progress of namespace ns in place.
func reopenInPlace(st *state.Store, ns uint64, o CarryOptions) (CarryStats, error) {
	var stats CarryStats
	if !o.Reopen {
		return stats, nil
	}
	b := st.NewBatch()
	defer b.Close()
	prefix := append(nsKey(metaPrefix, ns, 1), metaWorker)
	err := st.Scan(prefix, state.PrefixEnd(prefix), func(k, v []byte) error {
		var m workerMeta
		if !m.decode(v) {
			return errCorruptMeta
		}
		if reopen(&m) {
			enc := m.encode()
			b.Set(append([]byte(nil), k...), enc)
			stats.Keys++
			stats.Bytes += int64(len(k) + len(enc))
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	if b.Empty() {
		return stats, nil
	}
	return stats, st.Commit(b)
}

// legacyWindowState re-keys one window of a window aggregation whose size
// changes: the key (hash, start, key encoding) gets the old size appended
// and the value records it (windowagg.go: encodeWin's flag 4).
func legacyWindowState(tail, v []byte, size int64) ([]byte, []byte, error) {
	// tail: hash(8) start(8) enc; v: pane varint, flags, [size varint], accs
	if len(tail) < 16 {
		return nil, nil, errors.New("executor: corrupt window state key")
	}
	_, n := binary.Varint(v)
	if n <= 0 || len(v) < n+1 {
		return nil, nil, errors.New("executor: corrupt window state")
	}
	if v[n]&winFlagSized != 0 {
		return tail, v, nil // already a legacy window
	}
	nv := make([]byte, 0, len(v)+10)
	nv = append(nv, v[:n]...)
	nv = append(nv, v[n]|winFlagSized)
	nv = binary.AppendVarint(nv, size)
	nv = append(nv, v[n+1:]...)
	nk := make([]byte, 0, len(tail)+8)
	nk = append(nk, tail...)
	nk = binary.BigEndian.AppendUint64(nk, uint64(size))
	return nk, nv, nil
}

// legacyWindowTimer re-keys one window timer likewise: the timer key
// (kind, start, enc) becomes (kind|sized, start, size, enc).
func legacyWindowTimer(tail []byte, size int64) ([]byte, error) {
	// tail: domain(1) ts(8) hash(8) kind(1) start(8) enc
	const head = 17
	if len(tail) < head+9 {
		return nil, errors.New("executor: corrupt window timer")
	}
	if tail[head]&timerSized != 0 {
		return tail, nil
	}
	nk := make([]byte, 0, len(tail)+8)
	nk = append(nk, tail[:head]...)
	nk = append(nk, tail[head]|timerSized)
	nk = append(nk, tail[head+1:head+9]...)
	nk = binary.BigEndian.AppendUint64(nk, uint64(size))
	nk = append(nk, tail[head+9:]...)
	return nk, nil
}
