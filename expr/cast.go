package expr

import (
	"math"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

func errOutOfRange(t datum.Type) error {
	switch t {
	case datum.TypeInt2:
		return pgerr.New(pgerr.NumericValueOutOfRange, "smallint out of range")
	case datum.TypeInt4:
		return pgerr.New(pgerr.NumericValueOutOfRange, "integer out of range")
	case datum.TypeOID:
		return pgerr.New(pgerr.NumericValueOutOfRange, "OID out of range")
	case datum.TypeDate:
		return pgerr.New(pgerr.DatetimeFieldOverflow, "date out of range")
	case datum.TypeTimestamp, datum.TypeTimestampTZ:
		return pgerr.New(pgerr.DatetimeFieldOverflow, "timestamp out of range")
	case datum.TypeInterval:
		return pgerr.New(pgerr.DatetimeFieldOverflow, "interval out of range")
	}
	return pgerr.New(pgerr.NumericValueOutOfRange, "bigint out of range")
}

func errFloatOverflow() error {
	return pgerr.New(pgerr.NumericValueOutOfRange, "value out of range: overflow")
}

func errFloatUnderflow() error {
	return pgerr.New(pgerr.NumericValueOutOfRange, "value out of range: underflow")
}

func errDivByZero() error { return pgerr.New(pgerr.DivisionByZero, "division by zero") }

// parseAs reads text as a value of type t (the input function).
func parseAs(t datum.Type, s string) (datum.Datum, error) {
	d, err := datum.Parse(t, s)
	if err != nil {
		return datum.Null, err
	}
	if t == datum.TypeFloat4 {
		if f := d.Float(); !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
			return datum.Null, pgerr.New(pgerr.NumericValueOutOfRange, "%q is out of range for type real", s)
		}
	}
	return d, nil
}

// textOf is the text a value converts to in CAST(v AS TEXT) and ||:
// PostgreSQL's output format, except that booleans cast to 'true'/'false'
// and timestamptz carries its (UTC) offset.
func textOf(v datum.Datum, from datum.Type) string {
	switch v.Kind() {
	case datum.KindBool:
		if v.Bool() {
			return "true"
		}
		return "false"
	case datum.KindTimestamp:
		if from == datum.TypeTimestampTZ && !isInfTS(v.Micros()) {
			return v.Format() + "+00"
		}
		if isInfTS(v.Micros()) {
			if v.Micros() > 0 {
				return "infinity"
			}
			return "-infinity"
		}
	}
	return v.Format()
}

func isInfTS(us int64) bool { return us == math.MaxInt64 || us == math.MinInt64 }

// floatToInt converts with PostgreSQL's rounding: numeric rounds half away
// from zero, float4/float8 round half to even (rint); out of range is 22003.
func floatToInt(f float64, from, to datum.Type) (int64, error) {
	var r float64
	if from == datum.TypeNumeric || from == datum.TypeUnknown {
		r = math.Round(f)
	} else {
		r = math.RoundToEven(f)
	}
	if math.IsNaN(r) || r < -9223372036854775808.0 || r >= 9223372036854775808.0 {
		return 0, errOutOfRange(to)
	}
	i := int64(r)
	if lo, hi := intRange(to); i < lo || i > hi {
		return 0, errOutOfRange(to)
	}
	return i, nil
}

// castDatum converts v (of type from; TypeUnknown means "judge by v's
// kind") to type to with CAST semantics.
func castDatum(v datum.Datum, from, to datum.Type) (datum.Datum, error) {
	if v.IsNull() {
		return datum.Null, nil
	}
	if to.Kind() == datum.KindString {
		if v.Kind() == datum.KindString {
			return v, nil
		}
		return datum.NewString(textOf(v, from)), nil
	}
	switch v.Kind() {
	case datum.KindString:
		return parseAs(to, v.Str())
	case datum.KindInt:
		switch to.Kind() {
		case datum.KindInt:
			i := v.Int()
			if to == datum.TypeOID && from != datum.TypeOID && i < 0 && i >= math.MinInt32 {
				i += 1 << 32 // PostgreSQL: -1::oid = 4294967295
			}
			if lo, hi := intRange(to); i < lo || i > hi {
				return datum.Null, errOutOfRange(to)
			}
			return datum.NewInt(i), nil
		case datum.KindFloat:
			return datum.NewFloat(float64(v.Int())), nil
		case datum.KindBool:
			return datum.NewBool(v.Int() != 0), nil
		}
	case datum.KindFloat:
		f := v.Float()
		switch to.Kind() {
		case datum.KindFloat:
			if to == datum.TypeFloat4 && !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
				return datum.Null, errFloatOverflow()
			}
			if to == datum.TypeNumeric && from != datum.TypeNumeric {
				return datum.NewFloat(numericNorm(f)), nil
			}
			return v, nil
		case datum.KindInt:
			i, err := floatToInt(f, from, to)
			if err != nil {
				return datum.Null, err
			}
			return datum.NewInt(i), nil
		}
	case datum.KindBool:
		switch to.Kind() {
		case datum.KindInt:
			if v.Bool() {
				return datum.NewInt(1), nil
			}
			return datum.NewInt(0), nil
		case datum.KindBool:
			return v, nil
		}
	case datum.KindTimestamp:
		switch to.Kind() {
		case datum.KindTimestamp:
			return v, nil
		case datum.KindDate:
			us := v.Micros()
			if isInfTS(us) {
				return datum.Null, errOutOfRange(datum.TypeDate)
			}
			return datum.NewDate(floorDiv(us, usPerDay)), nil
		}
	case datum.KindDate:
		switch to.Kind() {
		case datum.KindDate:
			return v, nil
		case datum.KindTimestamp:
			us, err := dateToTS(v.Micros())
			if err != nil {
				return datum.Null, err
			}
			return datum.NewTimestamp(us), nil
		}
	}
	if v.Kind() == to.Kind() {
		return v, nil
	}
	return datum.Null, pgerr.New(codeCannotCoerce, "cannot cast type %s to %s", pgTypeName(from), pgTypeName(to))
}

// dateToTS converts days to microseconds at midnight.
func dateToTS(days int64) (int64, error) {
	const maxDays = math.MaxInt64/usPerDay - 1
	if days > maxDays || days < -maxDays {
		return 0, errOutOfRange(datum.TypeTimestamp)
	}
	return days * usPerDay, nil
}
