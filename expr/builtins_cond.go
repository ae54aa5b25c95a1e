package expr

import (
	"github.com/weir-sql/weir/datum"
)

// Conditional expressions: polymorphic over their arguments' common type.

func condBuiltins() map[string]*FuncDef {
	return map[string]*FuncDef{
		"coalesce": {
			check: func(name string, args []Expr) (Expr, error) { return resolveCommon(name, args, 1, 0, false) },
			compile: func(c *compiler, call *Call) (Evaluator, error) {
				evs, err := c.compileAll(call.Args)
				if err != nil {
					return nil, err
				}
				return func(row datum.Row) (datum.Datum, error) {
					for _, ev := range evs {
						d, err := ev(row)
						if err != nil || !d.IsNull() {
							return d, err
						}
					}
					return datum.Null, nil
				}, nil
			},
		},
		"nullif": {
			check: func(name string, args []Expr) (Expr, error) { return resolveCommon(name, args, 2, 2, true) },
			compile: func(c *compiler, call *Call) (Evaluator, error) {
				evs, err := c.compileAll(call.Args)
				if err != nil {
					return nil, err
				}
				a, b := evs[0], evs[1]
				return func(row datum.Row) (datum.Datum, error) {
					x, err := a(row)
					if err != nil || x.IsNull() {
						return x, err
					}
					y, err := b(row)
					if err != nil {
						return datum.Null, err
					}
					if !y.IsNull() && datum.Compare(x, y) == 0 {
						return datum.Null, nil
					}
					return x, nil
				}, nil
			},
		},
		"greatest": extremumDef(1),
		"least":    extremumDef(-1),
	}
}

// extremumDef is GREATEST (sign 1) or LEAST (sign -1): NULLs are ignored,
// the result is NULL only if all arguments are.
func extremumDef(sign int) *FuncDef {
	return &FuncDef{
		check: func(name string, args []Expr) (Expr, error) { return resolveCommon(name, args, 1, 0, true) },
		compile: func(c *compiler, call *Call) (Evaluator, error) {
			evs, err := c.compileAll(call.Args)
			if err != nil {
				return nil, err
			}
			return func(row datum.Row) (datum.Datum, error) {
				best := datum.Null
				for _, ev := range evs {
					d, err := ev(row)
					if err != nil {
						return datum.Null, err
					}
					if d.IsNull() {
						continue
					}
					if best.IsNull() || datum.Compare(d, best)*sign > 0 {
						best = d
					}
				}
				return best, nil
			}, nil
		},
	}
}
