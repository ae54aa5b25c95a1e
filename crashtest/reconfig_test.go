package crashtest

import (
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chaosSQL is windowSQL with the autoscaler's worker count free between 1
// and 4, so that chaos mode also grows and shrinks the workers.
var chaosSQL = strings.Replace(windowSQL, "WITH (parallelism = '3')", "WITH (max_workers = '4')", 1)

// TestCrashReconfigure is the crash test of key-range reconfiguration: the
// windowed job of TestCrashWindowedJob runs with chaos mode on (every few
// milliseconds a random split, merge or move of a key range, a split of a
// file partition's remaining work, or a change of the worker count) and is
// killed with SIGKILL at random moments and, on every other run, right
// before or right after a reconfiguration commits its new ownership
// (WEIR_CRASH_RECONF), i.e. mid-move. Each round restarts until the job
// finishes; the table must equal the oracle exactly, every round.
func TestCrashReconfigure(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewSource(seed))
	n, bundle, minKills := 50_000, "100", 20
	if *stressFlag {
		n, bundle, minKills = 500_000, "200", 100
	}
	dir := t.TempDir()
	want, bad := writeReadings(t, filepath.Join(dir, "readings.csv"), n, rng)
	writeFile(t, filepath.Join(dir, "job.sql"), chaosSQL)
	env := []string{"WEIR_BUNDLE_SIZE=" + bundle, "WEIR_LOG=1"}
	chaos := func() string {
		return fmt.Sprintf("WEIR_CHAOS=%d,%s", rng.Int63(), []string{"2ms", "5ms", "20ms"}[rng.Intn(3)])
	}

	full := runWeir(t, dir, append(env, chaos()), 0, "run", "job.sql", "--data", "calibrate", "--resume")
	if !full.exited || full.code != 0 {
		t.Fatalf("uninterrupted run failed (%d):\n%s", full.code, full.stderr)
	}
	verifyWindowed(t, dir, "calibrate", want, bad, n)
	t.Logf("uninterrupted chaos run %v: %d reconfigurations", full.elapsed.Round(time.Millisecond), reconfigs(full.stderr))
	if reconfigs(full.stderr) == 0 {
		t.Fatalf("chaos mode made no reconfiguration:\n%s", full.stderr)
	}
	work := max(full.elapsed, 50*time.Millisecond)
	share := work / time.Duration(minKills/2)

	kills, reconfKills, runs, total := 0, 0, 0, reconfigs(full.stderr)
	for round := 0; kills+reconfKills < minKills || reconfKills < minKills/4; round++ {
		data := fmt.Sprintf("data-%d", round)
		for {
			runs++
			if runs > 20*minKills+200 {
				t.Fatalf("no end after %d runs (%d kills, %d at reconfigurations)", runs, kills, reconfKills)
			}
			runEnv := append(env[:len(env):len(env)], chaos())
			killAfter := 20*time.Millisecond + time.Duration(rng.Int63n(int64(share)))
			if runs%2 == 0 {
				runEnv = append(runEnv, "WEIR_CRASH_RECONF=before=0.1,after=0.1")
				killAfter = 0 // the reconfiguration hook kills it, or it finishes
			}
			res := runWeir(t, dir, runEnv, killAfter, "run", "job.sql", "--data", data, "--resume")
			total += reconfigs(res.stderr)
			switch {
			case res.killed:
				kills++
				continue
			case res.selfKilled:
				reconfKills++
				continue
			case res.code != 0:
				t.Fatalf("run %d exited %d:\n%s", runs, res.code, res.stderr)
			}
			break
		}
		verifyWindowed(t, dir, data, want, bad, n)
		t.Logf("round %d: table equals the oracle (%d rows, %d dead letters)", round, len(want), bad)
	}
	t.Logf("seed %d: %d runs, %d SIGKILLs at random moments, %d at reconfiguration commits, %d reconfigurations seen", seed, runs, kills, reconfKills, total)
}

// reconfigs counts the reconfigurations a run logged.
func reconfigs(stderr string) int {
	n := 0
	for _, l := range strings.Split(stderr, "\n") {
		if !strings.Contains(l, "called off") && (strings.Contains(l, "split a") || strings.Contains(l, "merged two") || strings.Contains(l, "moved a unit")) {
			n++
		}
	}
	return n
}
