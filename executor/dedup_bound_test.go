package executor

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/weir-sql/weir/connector"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/plan"
	"github.com/weir-sql/weir/state"
)

const sec = int64(1_000_000)

// logWindowJob is the oracle tests' windowed job reading a log source, on
// a store in a temporary directory (closed by the test's cleanup).
type logWindowJob struct {
	st   *state.Store
	hub  *connector.LogHub
	plan *plan.JobPlan
	x    *Executor
}

func newLogWindowJob(t testing.TB, delay int64, tune func(*plan.JobPlan, *Config)) *logWindowJob {
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "store"), state.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	hub, err := connector.NewLogHub(st)
	if err != nil {
		t.Fatal(err)
	}
	jplan := windowJob("", plan.WindowSpec{Kind: plan.Tumble, Size: 10 * sec}, delay, 99, 0)
	src := jplan.Stages[0].Source
	src.Connector, src.Options, src.Bounded = "log", map[string]string{"connector": "log"}, false
	cfg := Config{Store: st, Env: connector.Env{Store: st, Logs: hub, Clock: connector.SystemClock(), BaseDir: dir}}
	tune(jplan, &cfg)
	x := New(cfg)
	t.Cleanup(func() {
		x.Close()
		st.Close()
	})
	return &logWindowJob{st: st, hub: hub, plan: jplan, x: x}
}

// fingerprintFootprint returns the keys and bytes of namespace ns's
// fingerprint store.
func fingerprintFootprint(t testing.TB, st *state.Store, ns uint64) (keys, bytes int64) {
	p := append(nsKey(metaPrefix, ns, 1), metaFinger)
	if err := st.Scan(p, state.PrefixEnd(p), func(k, v []byte) error {
		keys++
		bytes += int64(len(k) + len(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys, bytes
}

// TestFingerprintStorageBounded runs a continuous windowed job for
// thousands of bundles while the watermark advances, and samples the
// fingerprint store: it must stay bounded (the second half of the run
// holds no more than the first half's peak plus one slice's worth), while
// the entries consumed grow without bound. It reports the bytes of
// fingerprint per record in flight (records whose entries' fingerprints
// are still kept).
func TestFingerprintStorageBounded(t *testing.T) {
	const sliceBundles = 16
	lj := newLogWindowJob(t, 2*sec, func(jplan *plan.JobPlan, cfg *Config) {
		jplan.Options.Parallelism = 2
		jplan.Stages[1].Parallelism = 2
		cfg.BundleSize, cfg.hooks, cfg.Scale = 256, &testHooks{sliceBundles: sliceBundles}, ScaleConfig{Off: true}
	})
	st, hub, jplan, x := lj.st, lj.hub, lj.plan, lj.x
	src := jplan.Stages[0].Source
	const ns = 11
	j, err := x.Start(jplan, JobMeta{Name: "fp", ID: 1, StateNS: ns})
	if err != nil {
		t.Fatal(err)
	}
	rounds, perRound := 3000, 64
	if testing.Short() {
		rounds = 800
	}
	base := int64(1_700_000_000_000_000)
	var samples [][2]int64
	for r := 0; r < rounds; r++ {
		rows := make([]datum.Row, perRound)
		for i := range rows {
			n := int64(r*perRound + i)
			rows[i] = datum.Row{datum.NewString(fmt.Sprintf("d%03d", n*7919%300)), datum.NewFloat(1), datum.NewInt(n % 100), datum.NewTimestamp(base + n*10_000)}
		}
		if _, err := hub.Append(src.ID, rows); err != nil {
			t.Fatal(err)
		}
		want := int64((r + 1) * perRound)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		ok, err := j.WaitFor(ctx, func() bool {
			s := j.Status()
			return s.EventsIn >= want && s.Stages[1].Watermark >= s.Stages[0].Watermark
		})
		cancel()
		if !ok || err != nil {
			t.Fatalf("round %d: the job did not take the records: %v (%s)", r, err, func() string { s, e := j.Outcome(); return fmt.Sprint(s, e) }())
		}
		if r%50 == 49 {
			k, b := fingerprintFootprint(t, st, ns)
			samples = append(samples, [2]int64{k, b})
		}
	}
	half := len(samples) / 2
	var firstPeak, lastPeak [2]int64
	for i, s := range samples {
		peak := &firstPeak
		if i >= half {
			peak = &lastPeak
		}
		if s[1] > peak[1] {
			*peak = s
		}
	}
	st2 := j.DedupStats()
	status := j.Status()
	t.Logf("%d records in %d rounds; fingerprint store peak: first half %d keys / %d B, second half %d keys / %d B; %d slices live",
		status.EventsIn, rounds, firstPeak[0], firstPeak[1], lastPeak[0], lastPeak[1], st2.Slices)
	// One producer bundle writes at most one entry per bucket per consumer
	// range; a live slice covers sliceBundles consumer bundles, and a slice
	// is kept until the producers have committed twice more.
	slack := int64(4 * sliceBundles * defaultBuckets)
	if lastPeak[0] > firstPeak[0]+slack {
		t.Fatalf("fingerprint store grows: first half peak %d keys, second half %d", firstPeak[0], lastPeak[0])
	}
	k, b := fingerprintFootprint(t, st, ns)
	// Records in flight: those covered by the live fingerprints. Each
	// fingerprint covers one queue entry; entries of this job carry the
	// partial aggregates of one producer bundle for one bucket.
	if k > 0 {
		t.Logf("now %d fingerprints, %d B: %.1f B per fingerprinted entry; consumed entries cover %.1f records each, so %.2f B per record in flight",
			k, b, float64(b)/float64(k), float64(status.EventsIn)/float64(max(1, st2.Admitted)), float64(b)/float64(k)/(float64(status.EventsIn)/float64(max(1, st2.Admitted))))
	}
	j.Stop()
}
