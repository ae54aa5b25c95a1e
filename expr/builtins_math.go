package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

const (
	codeInvalidLogArg   = "2201E"
	codeInvalidPowerArg = "2201F"
)

func flt(v float64) (datum.Datum, error) { return datum.NewFloat(v), nil }

// floatFn defines f on DOUBLE and NUMERIC (both float64 here) with the
// argument's type as the result.
func floatFn(f func(x float64) (float64, error)) *FuncDef {
	g := func(a datum.Datum) (datum.Datum, error) {
		v, err := f(a.AsFloat())
		if err != nil {
			return datum.Null, err
		}
		return datum.NewFloat(v), nil
	}
	return fdef(ov1(tF8, tF8, g), ov1(tNum, tNum, g))
}

func checkFloat(r, x float64) (float64, error) {
	if math.IsInf(r, 0) && !math.IsInf(x, 0) {
		return 0, errFloatOverflow()
	}
	return r, nil
}

func mathBuiltins() map[string]*FuncDef {
	absInt := func(t datum.Type) Overload {
		return ov1(t, t, func(a datum.Datum) (datum.Datum, error) {
			v := a.Int()
			if v < 0 {
				if lo, _ := intRange(t); v == lo {
					return datum.Null, errOutOfRange(t)
				}
				v = -v
			}
			return datum.NewInt(v), nil
		})
	}
	absFloat := func(t datum.Type) Overload {
		return ov1(t, t, func(a datum.Datum) (datum.Datum, error) { return flt(math.Abs(a.AsFloat())) })
	}
	modInt := func(t datum.Type) Overload {
		lo, hi := intRange(t)
		return ov2(t, t, t, func(a, b datum.Datum) (datum.Datum, error) {
			v, err := intOp(opMod, a.Int(), b.Int(), lo, hi, t)
			if err != nil {
				return datum.Null, err
			}
			return datum.NewInt(v), nil
		})
	}
	roundOv := func(trunc bool) []Overload {
		one := func(a datum.Datum) (datum.Datum, error) {
			if trunc {
				return flt(math.Trunc(a.AsFloat()))
			}
			return flt(math.RoundToEven(a.AsFloat())) // float8: rint
		}
		oneNum := func(a datum.Datum) (datum.Datum, error) { return flt(roundDecimal(a.AsFloat(), 0, trunc)) }
		two := func(a, n datum.Datum) (datum.Datum, error) { return flt(roundDecimal(a.AsFloat(), n.Int(), trunc)) }
		return []Overload{
			ov1(tF8, tF8, one),
			ov1(tNum, tNum, oneNum),
			ov2(tNum, tInt8, tNum, two),
			ov2(tF8, tInt8, tF8, two), // Weir extension: PostgreSQL has only numeric
		}
	}
	return map[string]*FuncDef{
		"abs": fdef(absInt(datum.TypeInt2), absInt(tInt4), absInt(tInt8),
			absFloat(datum.TypeFloat4), absFloat(tF8), absFloat(tNum)),
		"mod":   fdef(modInt(datum.TypeInt2), modInt(tInt4), modInt(tInt8), ov2(tNum, tNum, tNum, numericBin(opMod))),
		"round": fdef(roundOv(false)...),
		"trunc": fdef(roundOv(true)...),
		"floor": floatFn(func(x float64) (float64, error) { return math.Floor(x), nil }),
		"ceil":  floatFn(func(x float64) (float64, error) { return math.Ceil(x), nil }),
		"sign": floatFn(func(x float64) (float64, error) {
			switch {
			case x > 0:
				return 1, nil
			case x < 0:
				return -1, nil
			}
			return x, nil // 0 or NaN
		}),
		"sqrt": floatFn(func(x float64) (float64, error) {
			if x < 0 {
				return 0, pgerr.New(codeInvalidPowerArg, "cannot take square root of a negative number")
			}
			return math.Sqrt(x), nil
		}),
		"cbrt": fdef(ov1(tF8, tF8, func(a datum.Datum) (datum.Datum, error) { return flt(math.Cbrt(a.Float())) })),
		"power": fdef(
			ov2(tF8, tF8, tF8, floatBin(opPow)),
			ov2(tNum, tNum, tNum, numericBin(opPow)),
		),
		"ln": floatFn(func(x float64) (float64, error) { return logOf(x, math.Log) }),
		"log": fdef(
			ov1(tF8, tF8, func(a datum.Datum) (datum.Datum, error) { return logDatum(a.Float(), math.Log10) }),
			ov1(tNum, tNum, func(a datum.Datum) (datum.Datum, error) { return logDatum(a.Float(), math.Log10) }),
			ov2(tNum, tNum, tNum, func(b, x datum.Datum) (datum.Datum, error) {
				lb, err := logOf(b.Float(), math.Log)
				if err != nil {
					return datum.Null, err
				}
				lx, err := logOf(x.Float(), math.Log)
				if err != nil {
					return datum.Null, err
				}
				if lb == 0 {
					return datum.Null, errDivByZero()
				}
				return flt(lx / lb)
			}),
		),
		"exp": floatFn(func(x float64) (float64, error) {
			r := math.Exp(x)
			if r == 0 && !math.IsInf(x, 0) {
				return 0, errFloatUnderflow()
			}
			return checkFloat(r, x)
		}),
		"pi":      fdef(Overload{Result: tF8, Eval: func([]datum.Datum) (datum.Datum, error) { return flt(math.Pi) }}),
		"degrees": fdef(ov1(tF8, tF8, func(a datum.Datum) (datum.Datum, error) { return flt(a.Float() * 180 / math.Pi) })),
		"radians": fdef(ov1(tF8, tF8, func(a datum.Datum) (datum.Datum, error) { return flt(a.Float() * math.Pi / 180) })),
	}
}

func floatBin(op string) func(a, b datum.Datum) (datum.Datum, error) {
	return func(a, b datum.Datum) (datum.Datum, error) {
		v, err := floatOp(op, a.AsFloat(), b.AsFloat())
		if err != nil {
			return datum.Null, err
		}
		return datum.NewFloat(v), nil
	}
}

func numericBin(op string) func(a, b datum.Datum) (datum.Datum, error) {
	return func(a, b datum.Datum) (datum.Datum, error) {
		v, err := floatOp(op, a.AsFloat(), b.AsFloat())
		if err != nil {
			return datum.Null, err
		}
		return datum.NewFloat(numericNorm(v)), nil
	}
}

func logOf(x float64, f func(float64) float64) (float64, error) {
	if x == 0 {
		return 0, pgerr.New(codeInvalidLogArg, "cannot take logarithm of zero")
	}
	if x < 0 {
		return 0, pgerr.New(codeInvalidLogArg, "cannot take logarithm of a negative number")
	}
	return f(x), nil
}

func logDatum(x float64, f func(float64) float64) (datum.Datum, error) {
	v, err := logOf(x, f)
	if err != nil {
		return datum.Null, err
	}
	return datum.NewFloat(v), nil
}

// roundDecimal rounds (or truncates) x to n decimal places (n may be
// negative) on its shortest decimal representation, half away from zero,
// as NUMERIC does: round(2.675, 2) = 2.68 even though the double nearest
// 2.675 is below it.
func roundDecimal(x float64, n int64, trunc bool) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || x == 0 {
		return x
	}
	if n > 400 {
		return x
	}
	if n < -400 {
		return 0
	}
	s := strconv.FormatFloat(math.Abs(x), 'e', -1, 64) // d.ddddde±XX
	mant, expStr, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	point := int64(exp) + 1 // digits before the decimal point
	keep := point + n
	neg := x < 0
	sign := func(v float64) float64 {
		if neg && v != 0 {
			return -v
		}
		return v
	}
	switch {
	case keep >= int64(len(digits)):
		return x
	case keep < 0:
		return 0
	case keep == 0:
		if !trunc && digits[0] >= '5' {
			return sign(math.Pow(10, float64(-n)))
		}
		return 0
	}
	kept := []byte(digits[:keep])
	if !trunc && digits[keep] >= '5' {
		i := len(kept) - 1
		for ; i >= 0; i-- {
			if kept[i] == '9' {
				kept[i] = '0'
				continue
			}
			kept[i]++
			break
		}
		if i < 0 {
			kept = append([]byte{'1'}, kept...)
			point++
		}
	}
	v, err := strconv.ParseFloat("0."+string(kept)+"e"+strconv.FormatInt(point, 10), 64)
	if err != nil {
		return x
	}
	return sign(v)
}
