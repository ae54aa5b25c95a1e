package state

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func commitTimers(t *testing.T, s *Store, tm *Timers) {
	t.Helper()
	b := s.NewBatch()
	defer b.Close()
	tm.Flush(b)
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
}

func popAll(t *testing.T, tm *Timers, limit int64) []string {
	t.Helper()
	var fired []string
	if err := tm.PopDue(limit, func(x Timer) error {
		fired = append(fired, fmt.Sprintf("%d/%s", x.TS, x.Key))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return fired
}

// TestTimersLoadRacesCommit holds a background load after it took its Pebble
// snapshot, commits a Set and a Delete inside the slice it is reading, then
// lets it finish: the installed slice must reflect both, although the
// snapshot has neither.
func TestTimersLoadRacesCommit(t *testing.T) {
	s := mustOpen(t, vfs.NewMem(), "/db")
	defer s.Close()
	tm := NewTimers(s, 1, "w", EventTime, 0, 0)
	tm.SetMemoryLimit(8) // slices of 4; prefetch below 2 left
	for ts := int64(0); ts < 10; ts++ {
		tm.Set(ts, 0, []byte("a"))
	}
	commitTimers(t, s, tm)
	if err := tm.Load(); err != nil {
		t.Fatal(err)
	}

	snapped, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	tm.testingLoadHook = func() {
		once.Do(func() {
			close(snapped)
			<-hold
		})
	}
	// Memory holds ts 0..3; popping three leaves one: a prefetch of [4, 8)
	// starts and stops after its snapshot.
	if got := popAll(t, tm, 3); !slices.Equal(got, []string{"0/a", "1/a", "2/a"}) {
		t.Fatalf("fired %v", got)
	}
	<-snapped
	tm.Set(5, 0, []byte("b"))
	tm.Delete(6, 0, []byte("a"))
	commitTimers(t, s, tm)
	close(hold)

	want := []string{"3/a", "4/a", "5/a", "5/b", "7/a", "8/a", "9/a"}
	if got := popAll(t, tm, 100); !slices.Equal(got, want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
}

// TestTimersPrefetch pops many journaled timers through a small memory
// limit: order must hold, and the next slice must be requested before memory
// runs dry, by the pop that brought it low, not by one that needs it.
func TestTimersPrefetch(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := mustOpen(t, be.fs, be.dir)
			defer s.Close()
			const n = 20000
			w := NewTimers(s, 1, "w", ProcessingTime, 0, 0)
			for i := 0; i < n; i++ {
				w.Set(int64(i/2), uint64(i%2), []byte("k"))
			}
			commitTimers(t, s, w)
			w.Close()

			tm := NewTimers(s, 1, "w", ProcessingTime, 0, 0)
			tm.SetMemoryLimit(1000)
			if err := tm.Load(); err != nil {
				t.Fatal(err)
			}
			next := 0
			for limit := int64(0); next < n; limit += 10 {
				if err := tm.PopDue(limit, func(x Timer) error {
					if x.TS != int64(next/2) || x.Hash != uint64(next%2) {
						return fmt.Errorf("fired %d/%d, want %d/%d", x.TS, x.Hash, next/2, next%2)
					}
					next++
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				tm.mu.Lock()
				low := tm.mu.mem.Len() <= tm.sliceSize()/2
				ld := tm.mu.load
				if low && !tm.mu.all && ld == nil {
					t.Fatalf("memory low (%d timers) with no load under way", tm.mu.mem.Len())
				}
				tm.mu.Unlock()
				// Let the bundle's processing outlast a storage read: the load
				// finishes (but is not installed) before the next pop.
				if ld != nil {
					<-ld.done
				}
			}
			st := tm.Stats()
			t.Logf("%+v", st)
			if st.Loads < n/500 {
				t.Fatalf("only %d loads for %d timers in slices of 500", st.Loads, n)
			}
			// Only Load waited: every later slice was ready in time.
			if st.Waits != 1 {
				t.Fatalf("PopDue waited for storage %d times", st.Waits-1)
			}
			if _, ok := tm.Next(); ok {
				t.Fatal("timers left")
			}
		})
	}
}

// TestTimersNoGoroutineLeak checks that Close, and Store.Close for Timers
// left open, stop every loader.
func TestTimersNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	s := mustOpen(t, vfs.NewMem(), "/db")
	var all []*Timers
	for r := 0; r < 8; r++ {
		tm := NewTimers(s, 1, "w", EventTime, uint64(r)<<61, uint64(r+1)<<61)
		tm.SetMemoryLimit(4)
		for i := 0; i < 50; i++ {
			tm.Set(int64(i), uint64(r)<<61, []byte("k"))
		}
		commitTimers(t, s, tm)
		all = append(all, tm)
	}
	for i, tm := range all {
		if err := tm.Load(); err != nil {
			t.Fatal(err)
		}
		popAll(t, tm, 3) // leaves a prefetch running
		if i%2 == 0 {
			tm.Close()
			if err := tm.PopDue(100, nil); err != ErrTimersClosed {
				t.Fatalf("PopDue after Close: %v", err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Our loaders are joined by Close: none may remain, at once.
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "(*Timers).runLoad") {
		t.Fatalf("a timer loader survived Close:\n%s", stacks)
	}
	// Pebble's own goroutines wind down shortly after its Close returns, so
	// the total is polled, up to a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		stacks = string(buf[:runtime.Stack(buf, true)])
		t.Fatalf("%d goroutines before, %d after:\n%s", before, after, stacks)
	}
}

func TestTimersErrorsAndRange(t *testing.T) {
	s := mustOpen(t, vfs.NewMem(), "/db")
	defer s.Close()
	tm := NewTimers(s, 1, "w", EventTime, 10, 20)
	tm.Set(1, 10, []byte("a"))
	tm.Set(1, 19, []byte("b"))
	boom := fmt.Errorf("boom")
	if err := tm.PopDue(5, func(Timer) error { return boom }); err != boom {
		t.Fatalf("callback error: %v", err)
	}
	// The timer the callback failed on stays removed.
	if got := popAll(t, tm, 5); !slices.Equal(got, []string{"1/b"}) {
		t.Fatalf("fired %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Set outside the range did not panic")
		}
	}()
	tm.Set(1, 20, []byte("c"))
}
