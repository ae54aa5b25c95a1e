package expr

import (
	"math"
	"math/bits"
	"strconv"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Integer arithmetic is done in int64 with overflow detection, then checked
// against the result type's range (smallint, integer, bigint), so that
// int4 + int4 overflows at 2^31 as in PostgreSQL.

func mulOverflows(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	// Signed correction of the high word.
	shi := int64(hi)
	if a < 0 {
		shi -= b
	}
	if b < 0 {
		shi -= a
	}
	r := int64(lo)
	return r, shi != r>>63
}

func intOp(op string, a, b, lo, hi int64, t datum.Type) (int64, error) {
	var r int64
	var ovf bool
	switch op {
	case opAdd:
		r, ovf = addOverflows(a, b)
	case opSub:
		r, ovf = subOverflows(a, b)
	case opMul:
		r, ovf = mulOverflows(a, b)
	case opDiv:
		if b == 0 {
			return 0, errDivByZero()
		}
		if b == -1 {
			r, ovf = subOverflows(0, a)
		} else {
			r = a / b
		}
	case opMod:
		if b == 0 {
			return 0, errDivByZero()
		}
		if b == -1 {
			return 0, nil
		}
		r = a % b
	default:
		return 0, pgerr.New(pgerr.InternalError, "expr: bad integer operator %s", op)
	}
	if ovf || r < lo || r > hi {
		return 0, errOutOfRange(t)
	}
	return r, nil
}

// intArithConst specializes <int expr> op <int constant>. If col >= 0 the
// left operand is column col, read inline.
func intArithConst(op string, t datum.Type, l Evaluator, col int, k int64) Evaluator {
	lo, hi := intRange(t)
	if col >= 0 && (op == opAdd || op == opSub || op == opMul) {
		return intColConst(op, t, col, k, lo, hi)
	}
	switch op {
	case opAdd:
		return func(row datum.Row) (datum.Datum, error) {
			d, err := l(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			r, ovf := addOverflows(d.Int(), k)
			if ovf || r < lo || r > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(r), nil
		}
	case opSub:
		return func(row datum.Row) (datum.Datum, error) {
			d, err := l(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			r, ovf := subOverflows(d.Int(), k)
			if ovf || r < lo || r > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(r), nil
		}
	case opMul:
		return func(row datum.Row) (datum.Datum, error) {
			d, err := l(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			r, ovf := mulOverflows(d.Int(), k)
			if ovf || r < lo || r > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(r), nil
		}
	case opDiv, opMod:
		if k == 0 || k == -1 {
			return nil // rare: the generic path has the checks
		}
		if op == opDiv {
			return func(row datum.Row) (datum.Datum, error) {
				d, err := l(row)
				if err != nil || d.IsNull() {
					return datum.Null, err
				}
				return datum.NewInt(d.Int() / k), nil
			}
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := l(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			return datum.NewInt(d.Int() % k), nil
		}
	}
	return nil
}

func intColConst(op string, t datum.Type, col int, k, lo, hi int64) Evaluator {
	switch op {
	case opAdd:
		return func(row datum.Row) (datum.Datum, error) {
			d := row[col]
			if d.IsNull() {
				return datum.Null, nil
			}
			r, ovf := addOverflows(d.Int(), k)
			if ovf || r < lo || r > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(r), nil
		}
	case opSub:
		return func(row datum.Row) (datum.Datum, error) {
			d := row[col]
			if d.IsNull() {
				return datum.Null, nil
			}
			r, ovf := subOverflows(d.Int(), k)
			if ovf || r < lo || r > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(r), nil
		}
	}
	return func(row datum.Row) (datum.Datum, error) {
		d := row[col]
		if d.IsNull() {
			return datum.Null, nil
		}
		r, ovf := mulOverflows(d.Int(), k)
		if ovf || r < lo || r > hi {
			return datum.Null, errOutOfRange(t)
		}
		return datum.NewInt(r), nil
	}
}

// intArith specializes <int expr> op <int expr>.
func intArith(op string, t datum.Type, l, r Evaluator) Evaluator {
	lo, hi := intRange(t)
	switch op {
	case opAdd:
		return func(row datum.Row) (datum.Datum, error) {
			a, err := l(row)
			if err != nil || a.IsNull() {
				return datum.Null, err
			}
			b, err := r(row)
			if err != nil || b.IsNull() {
				return datum.Null, err
			}
			v, ovf := addOverflows(a.Int(), b.Int())
			if ovf || v < lo || v > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(v), nil
		}
	case opSub:
		return func(row datum.Row) (datum.Datum, error) {
			a, err := l(row)
			if err != nil || a.IsNull() {
				return datum.Null, err
			}
			b, err := r(row)
			if err != nil || b.IsNull() {
				return datum.Null, err
			}
			v, ovf := subOverflows(a.Int(), b.Int())
			if ovf || v < lo || v > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(v), nil
		}
	case opMul:
		return func(row datum.Row) (datum.Datum, error) {
			a, err := l(row)
			if err != nil || a.IsNull() {
				return datum.Null, err
			}
			b, err := r(row)
			if err != nil || b.IsNull() {
				return datum.Null, err
			}
			v, ovf := mulOverflows(a.Int(), b.Int())
			if ovf || v < lo || v > hi {
				return datum.Null, errOutOfRange(t)
			}
			return datum.NewInt(v), nil
		}
	case opDiv, opMod:
		return func(row datum.Row) (datum.Datum, error) {
			a, err := l(row)
			if err != nil || a.IsNull() {
				return datum.Null, err
			}
			b, err := r(row)
			if err != nil || b.IsNull() {
				return datum.Null, err
			}
			v, err := intOp(op, a.Int(), b.Int(), lo, hi, t)
			if err != nil {
				return datum.Null, err
			}
			return datum.NewInt(v), nil
		}
	}
	return nil
}

// floatOp implements + - * / on doubles (and NUMERIC, stored as double) with
// PostgreSQL's checks: division by zero, overflow to infinity from finite
// inputs, underflow to zero from non-zero inputs.
func floatOp(op string, a, b float64) (float64, error) {
	var r float64
	switch op {
	case opAdd:
		r = a + b
	case opSub:
		r = a - b
	case opMul:
		r = a * b
		if r == 0 && a != 0 && b != 0 {
			return 0, errFloatUnderflow()
		}
	case opDiv:
		if b == 0 {
			return 0, errDivByZero()
		}
		r = a / b
		if r == 0 && a != 0 && !math.IsInf(b, 0) {
			return 0, errFloatUnderflow()
		}
	case opMod:
		if b == 0 {
			return 0, errDivByZero()
		}
		return math.Mod(a, b), nil
	case opPow:
		return power(a, b)
	default:
		return 0, pgerr.New(pgerr.InternalError, "expr: bad float operator %s", op)
	}
	if math.IsInf(r, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0) {
		return 0, errFloatOverflow()
	}
	return r, nil
}

// floatArithConst specializes <float expr> op <constant>; col >= 0 reads
// the left operand inline from that column.
func floatArithConst(op string, l Evaluator, col int, k float64) Evaluator {
	if col >= 0 && (op == opAdd || op == opSub || op == opMul) && !math.IsInf(k, 0) && !math.IsNaN(k) && k != 0 {
		if op == opSub {
			k = -k
		}
		if op == opMul {
			return func(row datum.Row) (datum.Datum, error) {
				d := row[col]
				if d.IsNull() {
					return datum.Null, nil
				}
				a := d.AsFloat()
				r := a * k
				if math.IsInf(r, 0) && !math.IsInf(a, 0) {
					return datum.Null, errFloatOverflow()
				}
				if r == 0 && a != 0 {
					return datum.Null, errFloatUnderflow()
				}
				return datum.NewFloat(r), nil
			}
		}
		return func(row datum.Row) (datum.Datum, error) {
			d := row[col]
			if d.IsNull() {
				return datum.Null, nil
			}
			a := d.AsFloat()
			r := a + k
			if math.IsInf(r, 0) && !math.IsInf(a, 0) {
				return datum.Null, errFloatOverflow()
			}
			return datum.NewFloat(r), nil
		}
	}
	switch op {
	case opAdd, opSub:
		if math.IsInf(k, 0) || math.IsNaN(k) {
			return nil
		}
		if op == opSub {
			k = -k
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := l(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			a := d.AsFloat()
			r := a + k
			if math.IsInf(r, 0) && !math.IsInf(a, 0) {
				return datum.Null, errFloatOverflow()
			}
			return datum.NewFloat(r), nil
		}
	case opMul:
		if math.IsInf(k, 0) || math.IsNaN(k) || k == 0 {
			return nil
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := l(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			a := d.AsFloat()
			r := a * k
			if math.IsInf(r, 0) && !math.IsInf(a, 0) {
				return datum.Null, errFloatOverflow()
			}
			if r == 0 && a != 0 {
				return datum.Null, errFloatUnderflow()
			}
			return datum.NewFloat(r), nil
		}
	}
	return floatArith(op, l, constEval(datum.NewFloat(k)))
}

func floatArith(op string, l, r Evaluator) Evaluator {
	if op == opAdd {
		return func(row datum.Row) (datum.Datum, error) {
			a, err := l(row)
			if err != nil || a.IsNull() {
				return datum.Null, err
			}
			b, err := r(row)
			if err != nil || b.IsNull() {
				return datum.Null, err
			}
			x, y := a.AsFloat(), b.AsFloat()
			v := x + y
			if math.IsInf(v, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
				return datum.Null, errFloatOverflow()
			}
			return datum.NewFloat(v), nil
		}
	}
	return func(row datum.Row) (datum.Datum, error) {
		a, err := l(row)
		if err != nil || a.IsNull() {
			return datum.Null, err
		}
		b, err := r(row)
		if err != nil || b.IsNull() {
			return datum.Null, err
		}
		v, err := floatOp(op, a.AsFloat(), b.AsFloat())
		if err != nil {
			return datum.Null, err
		}
		return datum.NewFloat(v), nil
	}
}

// arith is the general binary arithmetic on non-NULL values of types lt and
// rt with result type res.
func arith(op string, a, b datum.Datum, lt, rt, res datum.Type) (datum.Datum, error) {
	ak, bk := a.Kind(), b.Kind()
	switch {
	case ak == datum.KindInt && bk == datum.KindInt && res.Kind() == datum.KindInt:
		lo, hi := intRange(res)
		v, err := intOp(op, a.Int(), b.Int(), lo, hi, res)
		if err != nil {
			return datum.Null, err
		}
		return datum.NewInt(v), nil
	case (ak == datum.KindInt || ak == datum.KindFloat) && (bk == datum.KindInt || bk == datum.KindFloat) && res.Kind() != datum.KindDate:
		v, err := floatOp(op, a.AsFloat(), b.AsFloat())
		if err != nil {
			return datum.Null, err
		}
		if res.Kind() == datum.KindInt { // hand-built trees only
			i, err := floatToInt(v, datum.TypeFloat8, res)
			return datum.NewInt(i), err
		}
		if res == datum.TypeNumeric {
			v = numericNorm(v)
		}
		return datum.NewFloat(v), nil
	}
	return dateArith(op, a, b, lt, rt)
}

// dateArith implements the date/time operators.
func dateArith(op string, a, b datum.Datum, lt, rt datum.Type) (datum.Datum, error) {
	ak, bk := a.Kind(), b.Kind()
	fail := func() (datum.Datum, error) { return datum.Null, errNoOperator(op, []datum.Type{lt, rt}) }
	switch op {
	case opAdd:
		switch {
		case ak == datum.KindInterval && bk != datum.KindInterval:
			return dateArith(op, b, a, rt, lt)
		case ak == datum.KindTimestamp && bk == datum.KindInterval:
			us, err := tsAddInterval(a.Micros(), b.Months(), b.Micros())
			return datum.NewTimestamp(us), err
		case ak == datum.KindDate && bk == datum.KindInterval:
			ts, err := dateToTS(a.Micros())
			if err != nil {
				return datum.Null, err
			}
			us, err := tsAddInterval(ts, b.Months(), b.Micros())
			return datum.NewTimestamp(us), err
		case ak == datum.KindInt && bk == datum.KindDate:
			return dateArith(op, b, a, rt, lt)
		case ak == datum.KindDate && bk == datum.KindInt:
			return dateAddDays(a.Micros(), b.Int())
		case ak == datum.KindInterval && bk == datum.KindInterval:
			return intervalAdd(a, b, 1)
		}
	case opSub:
		switch {
		case ak == datum.KindTimestamp && bk == datum.KindInterval:
			if b.Months() == math.MinInt32 || b.Micros() == math.MinInt64 {
				return datum.Null, errOutOfRange(datum.TypeInterval)
			}
			us, err := tsAddInterval(a.Micros(), -b.Months(), -b.Micros())
			return datum.NewTimestamp(us), err
		case ak == datum.KindDate && bk == datum.KindInterval:
			ts, err := dateToTS(a.Micros())
			if err != nil {
				return datum.Null, err
			}
			if b.Months() == math.MinInt32 || b.Micros() == math.MinInt64 {
				return datum.Null, errOutOfRange(datum.TypeInterval)
			}
			us, err := tsAddInterval(ts, -b.Months(), -b.Micros())
			return datum.NewTimestamp(us), err
		case ak == datum.KindTimestamp && bk == datum.KindTimestamp:
			if isInfTS(a.Micros()) || isInfTS(b.Micros()) {
				return datum.Null, pgerr.New(pgerr.DatetimeFieldOverflow, "cannot subtract infinite timestamps")
			}
			d, ovf := subOverflows(a.Micros(), b.Micros())
			if ovf {
				return datum.Null, errOutOfRange(datum.TypeInterval)
			}
			return datum.NewInterval(0, d), nil
		case ak == datum.KindDate && bk == datum.KindInt:
			if b.Int() == math.MinInt64 {
				return datum.Null, errOutOfRange(datum.TypeDate)
			}
			return dateAddDays(a.Micros(), -b.Int())
		case ak == datum.KindDate && bk == datum.KindDate:
			return datum.NewInt(a.Micros() - b.Micros()), nil
		case ak == datum.KindInterval && bk == datum.KindInterval:
			return intervalAdd(a, b, -1)
		}
	case opMul:
		switch {
		case ak != datum.KindInterval && bk == datum.KindInterval:
			return dateArith(op, b, a, rt, lt)
		case ak == datum.KindInterval && (bk == datum.KindFloat || bk == datum.KindInt):
			return intervalMul(a.Months(), a.Micros(), b.AsFloat())
		}
	case opDiv:
		if ak == datum.KindInterval && (bk == datum.KindFloat || bk == datum.KindInt) {
			return intervalDiv(a.Months(), a.Micros(), b.AsFloat())
		}
	}
	return fail()
}

// maxDays bounds dates so that they convert to timestamps.
const maxDays = math.MaxInt64/usPerDay - 1

func dateAddDays(days, n int64) (datum.Datum, error) {
	r, ovf := addOverflows(days, n)
	if ovf || r > maxDays || r < -maxDays {
		return datum.Null, errOutOfRange(datum.TypeDate)
	}
	return datum.NewDate(r), nil
}

func intervalAdd(a, b datum.Datum, sign int64) (datum.Datum, error) {
	m := int64(a.Months()) + sign*int64(b.Months())
	if m > math.MaxInt32 || m < math.MinInt32 {
		return datum.Null, errOutOfRange(datum.TypeInterval)
	}
	var us int64
	var ovf bool
	if sign > 0 {
		us, ovf = addOverflows(a.Micros(), b.Micros())
	} else {
		us, ovf = subOverflows(a.Micros(), b.Micros())
	}
	if ovf {
		return datum.Null, errOutOfRange(datum.TypeInterval)
	}
	return datum.NewInterval(int32(m), us), nil
}

// numericNorm rounds a NUMERIC result (NUMERIC is a float64 in Weir) to 15
// significant digits, as PostgreSQL converts double precision to numeric:
// 0.1 + 0.2 is 0.3 and 12.345 % 5 is 2.345, not binary noise.
func numericNorm(x float64) float64 {
	if x == math.Trunc(x) || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], x, 'g', 15, 64)
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return x
	}
	return v
}

// power is x ^ y with PostgreSQL's errors.
func power(x, y float64) (float64, error) {
	if x == 0 && y < 0 {
		return 0, pgerr.New("2201F", "zero raised to a negative power is undefined")
	}
	if x < 0 && y != math.Trunc(y) && !math.IsInf(y, 0) && !math.IsNaN(y) {
		return 0, pgerr.New("2201F", "a negative number raised to a non-integer power yields a complex result")
	}
	r := math.Pow(x, y)
	if math.IsInf(r, 0) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
		return 0, errFloatOverflow()
	}
	if r == 0 && x != 0 && !math.IsInf(y, 0) && !math.IsInf(x, 0) {
		return 0, errFloatUnderflow()
	}
	return r, nil
}

// compileConcat compiles text || text (arguments already cast to text by
// the resolver) and bytea || bytea.
func (c *compiler) compileConcat(x *Call) (Evaluator, error) {
	evs, err := c.compileAll(x.Args)
	if err != nil {
		return nil, err
	}
	l, r := evs[0], evs[1]
	lt, rt := x.Args[0].Type(), x.Args[1].Type()
	bytesRes := x.Typ == datum.TypeBytea
	return func(row datum.Row) (datum.Datum, error) {
		a, err := l(row)
		if err != nil || a.IsNull() {
			return datum.Null, err
		}
		b, err := r(row)
		if err != nil || b.IsNull() {
			return datum.Null, err
		}
		if bytesRes {
			return datum.NewBytes([]byte(a.Str() + b.Str())), nil
		}
		return datum.NewString(textArg(a, lt) + textArg(b, rt)), nil
	}, nil
}

// textArg is a value's text for || on hand-built trees that did not cast.
func textArg(d datum.Datum, t datum.Type) string {
	if d.Kind() == datum.KindString {
		return d.Str()
	}
	return textOf(d, t)
}
