package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/weir-sql/weir/pgerr"
)

// DRAIN JOB and CANCEL JOB at once (two console buttons, two psql
// sessions): whichever wins, the launch ends DRAINED or CANCELLED in
// weir_jobs, never left DRAINING by a drain that recorded its state after
// the cancel had ended the job.
func TestDrainCancelRace(t *testing.T) {
	e := lcOpen(t, Options{})
	s := e.NewSession()
	lcExec(t, s, `CREATE SOURCE readings (device VARCHAR NOT NULL, temp DOUBLE, ts TIMESTAMP NOT NULL,
                        WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE TABLE out (device VARCHAR, n BIGINT, PRIMARY KEY (device))`)
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("j%d", i)
		lcExec(t, s, "CREATE JOB "+name+" AS INSERT INTO out SELECT device, count(*) FROM readings GROUP BY device")
		lcExec(t, s, "INSERT INTO readings VALUES ('a', 1, TIMESTAMP '2024-01-01 00:00:01')")
		var wg sync.WaitGroup
		for _, stmt := range []string{"DRAIN JOB " + name, "CANCEL JOB " + name} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := e.NewSession().Exec(ctx, stmt); err != nil && pgerr.Code(err) != pgerr.ObjectNotInPrerequisiteState {
					t.Errorf("%s: %v", stmt, err)
				}
			}()
		}
		wg.Wait()
		got := lcRows(t, s, "SELECT state FROM weir_jobs WHERE name = '"+name+"'")
		if len(got) != 1 || (got[0] != "DRAINED" && got[0] != "CANCELLED") {
			t.Fatalf("round %d: weir_jobs %q, want DRAINED or CANCELLED", i, got)
		}
	}
}
