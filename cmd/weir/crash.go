package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weir-sql/weir/executor"
)

// Crash testing (crashtest/): WEIR_CRASH_COMMIT makes the process kill
// itself with SIGKILL at the edges of store commits, so crashes land exactly
// before a batch is applied or right after it is durable but before anyone
// learned of it. Its value is a probability per commit edge ("0.01"), or
// "before=P,after=P" for the two edges separately. WEIR_CRASH_SEED seeds
// the choice (default: random).
func commitCrashHook() func(after bool) { return envCrashHook("WEIR_CRASH_COMMIT", true, 0) }

// envCrashHook returns killAtEdges with the probabilities of the env
// variable name ("before=P,after=P" or "P"), or nil when it is unset. With
// seeded, WEIR_CRASH_SEED (xor salt, so hooks sharing it differ) seeds the
// choice; else it is random. A bad value exits the process with status 2.
func envCrashHook(name string, seeded bool, salt uint64) func(after bool) {
	spec := os.Getenv(name)
	if spec == "" {
		return nil
	}
	before, after, err := parseCrashSpec(spec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "weir: %s: %v\n", name, err)
		os.Exit(2)
	}
	seed := rand.Uint64()
	if s := os.Getenv("WEIR_CRASH_SEED"); seeded && s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			fmt.Fprintf(os.Stderr, "weir: WEIR_CRASH_SEED: %v\n", err)
			os.Exit(2)
		}
		seed ^= salt
	}
	return killAtEdges(before, after, seed)
}

// killAtEdges returns a hook that kills the process with SIGKILL with
// probability before (after=false) or after (after=true) per call.
func killAtEdges(before, after float64, seed uint64) func(after bool) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var mu sync.Mutex
	return func(isAfter bool) {
		p := before
		if isAfter {
			p = after
		}
		mu.Lock()
		hit := rng.Float64() < p
		mu.Unlock()
		if hit {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // never returns: the signal is on its way
		}
	}
}

// reconfigureCrashHook kills the process around reconfiguration commits
// with the probabilities of WEIR_CRASH_RECONF ("before=P,after=P" or "P");
// nil when unset.
func reconfigureCrashHook() func(after bool) { return envCrashHook("WEIR_CRASH_RECONF", false, 0) }

// sinkCrashHook kills the process right before and right after an
// exactly-once sink's external commit (the PostgreSQL COMMIT, the Kafka
// EndTxn) with the probabilities of WEIR_CRASH_SINK ("before=P,after=P"
// or "P"), seeded by WEIR_CRASH_SEED; nil when unset.
func sinkCrashHook() func(after bool) { return envCrashHook("WEIR_CRASH_SINK", true, 0x5eed) }

// chaosFromEnv reads WEIR_CHAOS ("SEED" or "SEED,INTERVAL", e.g.
// "7,20ms"): every interval the executor does one random split, merge,
// move or resize of each job (crash and chaos tests).
func chaosFromEnv() (executor.ScaleConfig, error) {
	spec := os.Getenv("WEIR_CHAOS")
	if spec == "" {
		return executor.ScaleConfig{}, nil
	}
	seedText, ivText, _ := strings.Cut(spec, ",")
	seed, err := strconv.ParseInt(strings.TrimSpace(seedText), 10, 64)
	if err != nil {
		return executor.ScaleConfig{}, fmt.Errorf("WEIR_CHAOS: bad seed %q", seedText)
	}
	cfg := executor.ScaleConfig{Chaos: true, ChaosSeed: seed, Interval: 20 * time.Millisecond}
	if ivText != "" {
		if cfg.Interval, err = time.ParseDuration(strings.TrimSpace(ivText)); err != nil || cfg.Interval <= 0 {
			return cfg, fmt.Errorf("WEIR_CHAOS: bad interval %q", ivText)
		}
	}
	return cfg, nil
}

func parseCrashSpec(spec string) (before, after float64, err error) {
	if !strings.Contains(spec, "=") {
		p, err := strconv.ParseFloat(spec, 64)
		return p, p, err
	}
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return 0, 0, fmt.Errorf("want before=P,after=P, got %q", spec)
		}
		p, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, 0, err
		}
		switch k {
		case "before":
			before = p
		case "after":
			after = p
		default:
			return 0, 0, fmt.Errorf("unknown edge %q", k)
		}
	}
	return before, after, nil
}
