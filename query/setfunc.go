package query

import (
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/planner"
)

// execSetFunc runs set-returning functions over each input row. One call
// streams its rows; several run in lockstep (each call's rows are
// collected, and the shorter results are padded with NULLs).
func (r *runner) execSetFunc(n *planner.SetFunc, emit emitFunc) error {
	width := len(n.Input.Schema())
	argEvals := make([][]evaluator, len(n.Calls))
	ncols := 0
	for i, c := range n.Calls {
		var err error
		if argEvals[i], err = r.compileAll(c.Args); err != nil {
			return err
		}
		ncols += len(c.Cols)
	}
	if len(n.Cols) != width+ncols {
		return internalf("set-returning function node with %d columns for %d", len(n.Cols), width+ncols)
	}
	argsOf := func(i int, row datum.Row) ([]datum.Datum, error) {
		args := make([]datum.Datum, len(argEvals[i]))
		for j, ev := range argEvals[i] {
			v, err := ev(row)
			if err != nil {
				return nil, err
			}
			args[j] = v
		}
		return args, nil
	}
	return r.exec(n.Input, func(row datum.Row) error {
		if len(n.Calls) == 1 {
			args, err := argsOf(0, row)
			if err != nil {
				return err
			}
			return n.Calls[0].Run(args, func(res datum.Row) error {
				if err := r.tick(); err != nil {
					return err
				}
				out := make(datum.Row, width+len(res))
				copy(out, row[:width])
				copy(out[width:], res)
				return emit(out)
			})
		}
		results := make([][]datum.Row, len(n.Calls))
		longest := 0
		for i, c := range n.Calls {
			args, err := argsOf(i, row)
			if err != nil {
				return err
			}
			err = c.Run(args, func(res datum.Row) error {
				results[i] = append(results[i], res)
				return r.tick()
			})
			if err != nil {
				return err
			}
			longest = max(longest, len(results[i]))
		}
		for k := 0; k < longest; k++ {
			out := make(datum.Row, width, width+ncols)
			copy(out, row[:width])
			for i, c := range n.Calls {
				if k < len(results[i]) {
					out = append(out, results[i][k]...)
					continue
				}
				for range c.Cols {
					out = append(out, datum.Null)
				}
			}
			if err := emit(out); err != nil {
				return err
			}
		}
		return nil
	})
}
