package executor

import (
	"fmt"
	"strings"
	"testing"
)

// TestWorkerPolicy drives the worker-count policy with measured
// utilization sequences: sustained load grows the workers one at a time
// with a cooldown between steps, up to max; sustained idleness shrinks
// them to min; load that flaps between busy and idle every interval or
// two changes nothing (hysteresis).
func TestWorkerPolicy(t *testing.T) {
	run := func(p *workerPolicy, n int, utils string) (int, string) {
		var trace []string
		for _, c := range utils {
			var u float64
			backlog := false
			switch c {
			case 'H':
				u = 0.95
			case 'B': // input piling up while the workers are fairly busy
				u, backlog = 0.6, true
			case 'b': // input piling up with idle workers: a bottleneck more workers would not relieve
				u, backlog = 0.3, true
			case 'M':
				u = 0.5
			case 'L':
				u = 0.05
			}
			next, _ := p.decide(n, u, backlog, !backlog)
			n = next
			trace = append(trace, fmt.Sprint(n))
		}
		return n, strings.Join(trace, "")
	}
	cases := []struct {
		min, max, n int
		utils       string
		want        string
	}{
		// Three busy intervals per step, then three of cooldown.
		{1, 4, 1, "HHHHHHHHHHHHHHHHHHHH", "11222222333333444444"},
		{1, 4, 1, "BBBBBBBB", "11222222"},
		{1, 4, 1, "bbbbbbbb", "11111111"},
		// Five idle intervals per step down, cooldown in between.
		{1, 4, 4, "LLLLLLLLLLLLLLLLLLLLLLLLLL", "44443333333322222222111111"},
		// Flapping load: never three busy or five idle in a row.
		{1, 4, 2, "HHLHHLLLLHHMHHLLHHLLLL", "2222222222222222222222"},
		// Middling utilization holds.
		{1, 4, 3, "MMMMMMMMMM", "3333333333"},
		// Bounds.
		{2, 3, 3, "HHHHHHHHHH", "3333333333"},
		{2, 3, 2, "LLLLLLLLLL", "2222222222"},
		{2, 3, 1, "M", "2"},
	}
	for _, c := range cases {
		p := &workerPolicy{min: c.min, max: c.max}
		_, got := run(p, c.n, c.utils)
		if got != c.want {
			t.Errorf("min %d max %d from %d, %s:\n got %s\nwant %s", c.min, c.max, c.n, c.utils, got, c.want)
		}
	}
}
