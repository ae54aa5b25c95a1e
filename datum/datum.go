package datum

import (
	"bytes"
	"math"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Datum is one SQL value. The zero Datum is NULL.
//
// Layout: i holds bools (0/1), ints, float bits, timestamp and interval
// microseconds and date days; m holds an interval's months; s holds strings
// and bytes.
type Datum struct {
	k Kind
	m int32
	i int64
	s string
}

// Row is a tuple of datums; its schema is known from context.
type Row []Datum

// Null is the SQL NULL.
var Null = Datum{}

func NewBool(b bool) Datum {
	if b {
		return Datum{k: KindBool, i: 1}
	}
	return Datum{k: KindBool}
}
func NewInt(v int64) Datum     { return Datum{k: KindInt, i: v} }
func NewFloat(v float64) Datum { return Datum{k: KindFloat, i: int64(math.Float64bits(v))} }
func NewString(v string) Datum { return Datum{k: KindString, s: v} }
func NewBytes(v []byte) Datum  { return Datum{k: KindBytes, s: string(v)} }

// NewBytesString is NewBytes for bytes already held in a string (no copy).
func NewBytesString(v string) Datum { return Datum{k: KindBytes, s: v} }
func NewTimestamp(us int64) Datum   { return Datum{k: KindTimestamp, i: us} }
func NewDate(days int64) Datum      { return Datum{k: KindDate, i: days} }

// NewInterval returns an interval of months plus microseconds.
func NewInterval(months int32, us int64) Datum { return Datum{k: KindInterval, m: months, i: us} }

func (d Datum) Kind() Kind     { return d.k }
func (d Datum) IsNull() bool   { return d.k == KindNull }
func (d Datum) Bool() bool     { return d.i != 0 }
func (d Datum) Int() int64     { return d.i }
func (d Datum) Float() float64 { return math.Float64frombits(uint64(d.i)) }
func (d Datum) Str() string    { return d.s }
func (d Datum) Bytes() []byte  { return []byte(d.s) }

// Micros returns a timestamp's or interval's microseconds, a date's days.
func (d Datum) Micros() int64 { return d.i }

// Months returns an interval's months.
func (d Datum) Months() int32 { return d.m }

// AsFloat returns an int or float datum as float64.
func (d Datum) AsFloat() float64 {
	if d.k == KindInt {
		return float64(d.i)
	}
	return d.Float()
}

// Compare orders two datums: NULL sorts after every value (PostgreSQL's
// default for ascending order); ints and floats compare numerically; other
// kinds compare only with their own kind (a mismatch orders by kind).
func Compare(a, b Datum) int {
	if a.k == KindNull || b.k == KindNull {
		switch {
		case a.k == b.k:
			return 0
		case a.k == KindNull:
			return 1
		default:
			return -1
		}
	}
	if a.k != b.k {
		if (a.k == KindInt || a.k == KindFloat) && (b.k == KindInt || b.k == KindFloat) {
			return cmpFloat(a.AsFloat(), b.AsFloat())
		}
		return cmpInt(int64(a.k), int64(b.k))
	}
	switch a.k {
	case KindFloat:
		return cmpFloat(a.Float(), b.Float())
	case KindString, KindBytes:
		return strings.Compare(a.s, b.s)
	case KindInterval:
		return cmpInt(intervalApproxMicros(a), intervalApproxMicros(b))
	default:
		return cmpInt(a.i, b.i)
	}
}

func intervalApproxMicros(d Datum) int64 { return int64(d.m)*30*86400*1e6 + d.i }

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpFloat orders NaN above every other float, as PostgreSQL does.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	case math.IsNaN(a) && math.IsNaN(b):
		return 0
	case math.IsNaN(a):
		return 1
	default:
		return -1
	}
}

// Equal reports whether a and b are the same value (NULL equals NULL here:
// this is identity for grouping, not SQL's three-valued '=').
func Equal(a, b Datum) bool { return Compare(a, b) == 0 }

// CompareRows compares rows column by column.
func CompareRows(a, b Row) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmpInt(int64(len(a)), int64(len(b)))
}

// Hash returns a 64-bit hash of d that is equal for Equal datums of the same
// kind (ints and floats that are equal hash alike too).
func (d Datum) Hash() uint64 {
	var buf [16]byte
	return xxhash.Sum64(AppendKey(buf[:0], d.normalizedForHash()))
}

func (d Datum) normalizedForHash() Datum {
	if d.k == KindFloat {
		f := d.Float()
		if f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return NewInt(int64(f))
		}
		if f == 0 {
			return NewInt(0)
		}
	}
	return d
}

// HashRow hashes the datums of r at the given column indexes (all columns if
// cols is nil). Equal keys hash alike, so the hash picks a key range.
func HashRow(r Row, cols []int) uint64 {
	var buf [64]byte
	b := buf[:0]
	if cols == nil {
		for _, d := range r {
			b = AppendKey(b, d.normalizedForHash())
		}
	} else {
		for _, c := range cols {
			b = AppendKey(b, r[c].normalizedForHash())
		}
	}
	return xxhash.Sum64(b)
}

// Copy returns a row that shares no backing array with r.
func (r Row) Copy() Row {
	c := make(Row, len(r))
	copy(c, r)
	return c
}

// String formats r for tests and debugging: (a, b, NULL).
func (r Row) String() string {
	var b bytes.Buffer
	b.WriteByte('(')
	for i, d := range r {
		if i > 0 {
			b.WriteString(", ")
		}
		if d.IsNull() {
			b.WriteString("NULL")
		} else {
			b.WriteString(d.Format())
		}
	}
	b.WriteByte(')')
	return b.String()
}
