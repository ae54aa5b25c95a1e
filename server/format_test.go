package server

import (
	"math"
	"testing"

	"github.com/weir-sql/weir/datum"
)

func TestFormatFloat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		bits int
		want string
	}{
		{1234567, 64, "1234567"}, {1e15, 64, "1e+15"}, {123456789012345, 64, "123456789012345"},
		{0.0001, 64, "0.0001"}, {0.00001, 64, "1e-05"}, {0.1, 64, "0.1"}, {math.NaN(), 64, "NaN"},
		{math.Inf(-1), 64, "-Infinity"}, {float64(float32(0.1)), 32, "0.1"}, {1234567, 32, "1.234567e+06"},
		{123456, 32, "123456"}, {0, 64, "0"}, {math.Copysign(0, -1), 64, "-0"},
	} {
		if got := formatFloat(c.f, c.bits); got != c.want {
			t.Errorf("formatFloat(%v, %d) = %q, want %q", c.f, c.bits, got, c.want)
		}
	}
}

func TestNumericBinary(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 1.5, 123.45, -0.001, 10000, 1e20, 1.25e-10, 99999999.99999, math.NaN(), math.Inf(1), math.Inf(-1)} {
		b := appendNumeric(nil, f)
		got, err := decodeNumeric(b)
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		if got != f && !(math.IsNaN(f) && math.IsNaN(got)) {
			t.Errorf("numeric %v round-tripped to %v (%x)", f, got, b)
		}
	}
	// 123.45 as PostgreSQL encodes it: ndigits 2, weight 0, sign 0, dscale 2, digits 123, 4500.
	if got := appendNumeric(nil, 123.45); string(got) != "\x00\x02\x00\x00\x00\x00\x00\x02\x00\x7b\x11\x94" {
		t.Errorf("123.45 encoded as %x", got)
	}
}

func TestBinaryRoundTrip(t *testing.T) {
	for _, c := range []struct {
		typ datum.Type
		d   datum.Datum
	}{
		{datum.TypeBool, datum.NewBool(true)}, {datum.TypeInt2, datum.NewInt(-3)}, {datum.TypeInt4, datum.NewInt(1 << 30)},
		{datum.TypeInt8, datum.NewInt(math.MinInt64)}, {datum.TypeFloat8, datum.NewFloat(-2.5)},
		{datum.TypeFloat4, datum.NewFloat(0.5)}, {datum.TypeText, datum.NewString("héllo")},
		{datum.TypeBytea, datum.NewBytes([]byte{0, 255})}, {datum.TypeTimestamp, datum.NewTimestamp(-1)},
		{datum.TypeTimestampTZ, datum.NewTimestamp(1_700_000_000_123_456)}, {datum.TypeDate, datum.NewDate(-3)},
		{datum.TypeInterval, datum.NewInterval(-14, 3*usPerDay+5)}, {datum.TypeOID, datum.NewInt(4000000000)},
		{datum.TypeUUID, datum.NewString("12345678-9abc-def0-0102-030405060708")},
		{datum.TypeJSON, datum.NewString(`{"a":1}`)}, {datum.TypeNumeric, datum.NewFloat(-12.5)},
		{datum.TypeTimestamp, datum.NewTimestamp(math.MaxInt64)},
	} {
		b, err := appendBinary(nil, c.typ, c.d)
		if err != nil {
			t.Fatalf("%v %v: %v", c.typ, c.d, err)
		}
		got, err := decodeBinary(c.typ, b)
		if err != nil {
			t.Fatalf("%v %v: %v", c.typ, c.d, err)
		}
		if datum.Compare(got, c.d) != 0 {
			t.Errorf("%v: %v round-tripped to %v", c.typ, c.d, got)
		}
		// The text form parses back too.
		txt := appendText(nil, c.typ, c.d)
		if c.typ == datum.TypeTimestamp && c.d.Micros() == math.MaxInt64 {
			continue
		}
		got, err = decodeText(c.typ, string(txt))
		if err != nil || datum.Compare(got, c.d) != 0 {
			t.Errorf("%v: text %q read back as %v (%v)", c.typ, txt, got, err)
		}
	}
	if got := string(appendText(nil, datum.TypeTimestampTZ, datum.NewTimestamp(0))); got != "1970-01-01 00:00:00+00" {
		t.Errorf("timestamptz text %q", got)
	}
}
