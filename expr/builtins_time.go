package expr

import (
	"math"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

const (
	tTS   = datum.TypeTimestamp
	tTZ   = datum.TypeTimestampTZ
	tDate = datum.TypeDate
	tIv   = datum.TypeInterval
)

func timeBuiltins() map[string]*FuncDef {
	return map[string]*FuncDef{
		"now": {
			Volatile: true,
			check: func(name string, args []Expr) (Expr, error) {
				if len(args) != 0 {
					return nil, errNoFunction(name, argTypes(args))
				}
				return nowCall(), nil
			},
			compile: compileNow,
		},
		"current_date":   sqlValueFunc(tDate),
		"localtimestamp": sqlValueFunc(tTS),
		"date_trunc": fdef(
			truncOverload(tTS),
			truncOverload(tTZ),
		),
		"date_part": fdef(partOverload(tTS, tF8), partOverload(tTZ, tF8), partOverload(tDate, tF8), partOverload(tIv, tF8)),
		"extract":   fdef(partOverload(tTS, tNum), partOverload(tTZ, tNum), partOverload(tDate, tNum), partOverload(tIv, tNum)),
		"to_timestamp": fdef(ov1(tF8, tTZ, func(a datum.Datum) (datum.Datum, error) {
			s := a.Float()
			switch {
			case math.IsNaN(s):
				return datum.Null, pgerr.New(pgerr.DatetimeFieldOverflow, "timestamp cannot be NaN")
			case math.IsInf(s, 1):
				return datum.NewTimestamp(math.MaxInt64), nil
			case math.IsInf(s, -1):
				return datum.NewTimestamp(math.MinInt64), nil
			}
			us := math.Round(s * 1e6)
			if us >= 9.2e18 || us <= -9.2e18 {
				return datum.Null, pgerr.New(pgerr.DatetimeFieldOverflow, "timestamp out of range: %q", datum.FormatFloat(s))
			}
			return datum.NewTimestamp(int64(us)), nil
		})),
		"date_bin": fdef(binOverload(tTS), binOverload(tTZ)),
	}
}

func nowCall() *Call { return &Call{Fn: "now", Typ: tTZ} }

// sqlValueFunc defines CURRENT_DATE and LOCALTIMESTAMP as casts of now().
func sqlValueFunc(t datum.Type) *FuncDef {
	return &FuncDef{
		Volatile: true,
		check: func(name string, args []Expr) (Expr, error) {
			if len(args) != 0 {
				return nil, errNoFunction(name, argTypes(args))
			}
			return &Cast{Arg: nowCall(), To: t}, nil
		},
		compile: func(c *compiler, call *Call) (Evaluator, error) {
			now, err := compileNow(c, nowCall())
			if err != nil {
				return nil, err
			}
			return func(row datum.Row) (datum.Datum, error) {
				d, err := now(row)
				if err != nil {
					return d, err
				}
				return castDatum(d, tTZ, t)
			}, nil
		},
	}
}

func compileNow(c *compiler, call *Call) (Evaluator, error) {
	if c.env == nil || c.env.Now == nil {
		return nil, pgerr.New(pgerr.InternalError, "expr: now() needs a clock: compile with CompileWith and an Env with Now")
	}
	clock := c.env.Now
	return func(datum.Row) (datum.Datum, error) { return datum.NewTimestamp(clock()), nil }, nil
}

// truncOverload is date_trunc(unit, t) → t, specialized for a constant
// unit.
func truncOverload(t datum.Type) Overload {
	o := ov2(tText, t, t, func(u, ts datum.Datum) (datum.Datum, error) {
		unit, err := truncUnit(u.Str(), t)
		if err != nil {
			return datum.Null, err
		}
		return datum.NewTimestamp(truncTS(unit, ts.Micros())), nil
	})
	o.spec = func(c *compiler, call *Call) (Evaluator, error) {
		k, ok := call.Args[0].(*Const)
		if !ok {
			return nil, nil
		}
		if k.Val.IsNull() {
			return constEval(datum.Null), nil
		}
		unit, err := truncUnit(k.Val.Str(), t)
		if err != nil {
			return nil, err
		}
		ts, err := c.compile(call.Args[1])
		if err != nil {
			return nil, err
		}
		if col, ok := call.Args[1].(*Col); ok && (unit == unitMinute || unit == unitHour || unit == unitSecond || unit == unitDay) {
			idx := col.Idx
			size := map[timeUnit]int64{unitSecond: usPerSec, unitMinute: usPerMin, unitHour: usPerHour, unitDay: usPerDay}[unit]
			return func(row datum.Row) (datum.Datum, error) {
				d := row[idx]
				if d.IsNull() || isInfTS(d.Micros()) {
					return d, nil
				}
				return datum.NewTimestamp(floorDiv(d.Micros(), size) * size), nil
			}, nil
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := ts(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			return datum.NewTimestamp(truncTS(unit, d.Micros())), nil
		}, nil
	}
	return o
}

// partOf computes extract/date_part of a value of type t.
func partOf(u timeUnit, unitName string, d datum.Datum, t datum.Type) (datum.Datum, error) {
	if !extractUnitOK(u, t) {
		return datum.Null, errUnit(unitName, t, u != unitNone)
	}
	switch t.Kind() {
	case datum.KindInterval:
		return datum.NewFloat(extractInterval(u, d.Months(), d.Micros())), nil
	case datum.KindDate:
		if u == unitEpoch {
			return datum.NewFloat(float64(d.Micros()) * 86400), nil
		}
		us, err := dateToTS(d.Micros())
		if err != nil {
			return datum.Null, err
		}
		v, _ := extractTS(u, us)
		return datum.NewFloat(v), nil
	}
	v, ok := extractTS(u, d.Micros())
	if !ok {
		return datum.Null, nil
	}
	return datum.NewFloat(v), nil
}

// partOverload is extract(field FROM t) / date_part('field', t),
// specialized for a constant field.
func partOverload(t, res datum.Type) Overload {
	o := ov2(tText, t, res, func(u, d datum.Datum) (datum.Datum, error) {
		return partOf(lookupUnit(u.Str()), u.Str(), d, t)
	})
	o.spec = func(c *compiler, call *Call) (Evaluator, error) {
		k, ok := call.Args[0].(*Const)
		if !ok {
			return nil, nil
		}
		if k.Val.IsNull() {
			return constEval(datum.Null), nil
		}
		name := k.Val.Str()
		u := lookupUnit(name)
		if !extractUnitOK(u, t) {
			return nil, errUnit(name, t, u != unitNone)
		}
		a, err := c.compile(call.Args[1])
		if err != nil {
			return nil, err
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := a(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			return partOf(u, name, d, t)
		}, nil
	}
	return o
}

// binOverload is date_bin(stride, source, origin): the start of the
// stride-wide bin, aligned to origin, that contains source.
func binOverload(t datum.Type) Overload {
	return ov3(tIv, t, t, t, func(stride, src, origin datum.Datum) (datum.Datum, error) {
		if stride.Months() != 0 {
			return datum.Null, pgerr.New(pgerr.FeatureNotSupported, "timestamps cannot be binned into intervals containing months or years")
		}
		size := stride.Micros()
		if size <= 0 {
			return datum.Null, pgerr.New(pgerr.InvalidParameterValue, "stride must be greater than zero")
		}
		s, o := src.Micros(), origin.Micros()
		if isInfTS(s) || isInfTS(o) {
			return datum.Null, pgerr.New(pgerr.FeatureNotSupported, "timestamps cannot be binned into infinite values")
		}
		diff, ovf := subOverflows(s, o)
		if ovf {
			return datum.Null, errOutOfRange(t)
		}
		r, ovf := addOverflows(o, floorDiv(diff, size)*size)
		if ovf {
			return datum.Null, errOutOfRange(t)
		}
		return datum.NewTimestamp(r), nil
	})
}
