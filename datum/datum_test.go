package datum

import (
	"bytes"
	"math"
	"math/rand"
	"testing"
)

func randDatum(rng *rand.Rand) Datum {
	switch rng.Intn(9) {
	case 0:
		return Null
	case 1:
		return NewBool(rng.Intn(2) == 0)
	case 2:
		return NewInt(rng.Int63() - rng.Int63())
	case 3:
		return NewFloat(rng.NormFloat64() * 1e6)
	case 4:
		b := make([]byte, rng.Intn(6))
		for i := range b {
			b[i] = byte(rng.Intn(3)) // zeros and ones, the escaping's hard cases
		}
		return NewString(string(b))
	case 5:
		return NewTimestamp(rng.Int63n(1e15) - 5e14)
	case 6:
		return NewDate(rng.Int63n(40000) - 20000)
	case 7:
		return NewInterval(int32(rng.Intn(30)), rng.Int63n(1e12))
	default:
		return NewBytes([]byte{byte(rng.Intn(256)), 0})
	}
}

func TestKeyEncodingOrderAndRoundTrip(t *testing.T) {
	seed := int64(42)
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < 20000; i++ {
		a, b := randDatum(rng), randDatum(rng)
		ka, kb := AppendKey(nil, a), AppendKey(nil, b)
		da, rest, err := DecodeKey(ka)
		if err != nil || len(rest) != 0 || Compare(da, a) != 0 || da.Kind() != a.Kind() {
			t.Fatalf("seed %d: key round trip of %v gave %v (%v)", seed, Row{a}, Row{da}, err)
		}
		if a.Kind() == b.Kind() {
			if got, want := sign(bytes.Compare(ka, kb)), sign(Compare(a, b)); got != want && a.Kind() != KindInterval {
				t.Fatalf("seed %d: order of %v vs %v: key says %d, Compare says %d", seed, Row{a}, Row{b}, got, want)
			}
		}
		va := AppendValue(nil, a)
		dv, rest, err := DecodeValue(va)
		if err != nil || len(rest) != 0 || dv != a && !(a.Kind() == KindFloat && math.IsNaN(a.Float())) {
			t.Fatalf("seed %d: value round trip of %v gave %v", seed, Row{a}, Row{dv})
		}
	}
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func TestRowRoundTrip(t *testing.T) {
	r := Row{NewInt(1), Null, NewString("héllo"), NewFloat(2.5), NewTimestamp(1700000000000000)}
	got, rest, err := DecodeRow(AppendRow(nil, r))
	if err != nil || len(rest) != 0 || CompareRows(got, r) != 0 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestTextFormats(t *testing.T) {
	cases := []struct {
		typ  Type
		in   string
		want string
	}{
		{TypeInt8, " 42 ", "42"},
		{TypeFloat8, "1e20", "1e+20"},
		{TypeFloat8, "2.50", "2.5"},
		{TypeBool, "true", "t"},
		{TypeTimestamp, "2024-01-02 03:04:05", "2024-01-02 03:04:05"},
		{TypeTimestamp, "2024-01-02T03:04:05.120Z", "2024-01-02 03:04:05.12"},
		{TypeTimestamp, "2024-01-02 03:04:05+02", "2024-01-02 01:04:05"},
		{TypeDate, "2024-02-29", "2024-02-29"},
		{TypeInterval, "1 minute", "00:01:00"},
		{TypeInterval, "1 day 02:00:00", "1 day 02:00:00"},
		{TypeInterval, "90 seconds", "00:01:30"},
		{TypeInterval, "1 year 2 mons", "1 year 2 mons"},
		{TypeBytea, `\x00ff`, `\x00ff`},
	}
	for _, c := range cases {
		d, err := Parse(c.typ, c.in)
		if err != nil {
			t.Errorf("Parse(%s, %q): %v", c.typ, c.in, err)
			continue
		}
		if got := d.Format(); got != c.want {
			t.Errorf("Parse(%s, %q).Format() = %q, want %q", c.typ, c.in, got, c.want)
		}
	}
	for _, bad := range []struct {
		typ Type
		in  string
	}{{TypeInt4, "3000000000"}, {TypeInt8, "x"}, {TypeTimestamp, "yesterday-ish"}, {TypeBool, "maybe"}} {
		if _, err := Parse(bad.typ, bad.in); err == nil {
			t.Errorf("Parse(%s, %q) should fail", bad.typ, bad.in)
		}
	}
}

func TestHashIntFloatAgree(t *testing.T) {
	if NewInt(3).Hash() != NewFloat(3).Hash() {
		t.Fatal("3 and 3.0 must hash alike")
	}
	if NewInt(3).Hash() == NewInt(4).Hash() {
		t.Fatal("suspicious collision")
	}
}
