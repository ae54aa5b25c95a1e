package server

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// This file converts datums to and from PostgreSQL's text and binary wire
// formats. Result values are encoded by their column's type (the type the
// client was told in RowDescription); a datum whose kind differs from the
// type's (an int in a numeric column) is converted. Parameters and binary
// COPY fields are decoded by the parameter's or column's type.

// Format codes.
const (
	fmtText   int16 = 0
	fmtBinary int16 = 1
)

// pgEpochMicros is 2000-01-01 00:00:00 UTC in microseconds since the Unix
// epoch: PostgreSQL's binary timestamps count from there.
const pgEpochMicros = 946684800 * 1_000_000

// pgEpochDays is 2000-01-01 in days since the Unix epoch.
const pgEpochDays = 10957

const usPerDay = 86400 * 1_000_000

// wireOID returns the type OID reported to clients. An unresolved type is
// reported as text, as PostgreSQL does for unknown-typed output columns.
func wireOID(t datum.Type) uint32 {
	if t == datum.TypeUnknown {
		return 25
	}
	return t.OID()
}

// typeSize returns pg_type.typlen for RowDescription.
func typeSize(t datum.Type) int16 {
	switch t {
	case datum.TypeBool:
		return 1
	case datum.TypeInt2:
		return 2
	case datum.TypeInt4, datum.TypeFloat4, datum.TypeDate, datum.TypeOID:
		return 4
	case datum.TypeInt8, datum.TypeFloat8, datum.TypeTimestamp, datum.TypeTimestampTZ:
		return 8
	case datum.TypeInterval, datum.TypeUUID:
		return 16
	}
	return -1
}

// appendText appends d's text form for a column of type t.
func appendText(b []byte, t datum.Type, d datum.Datum) []byte {
	switch d.Kind() {
	case datum.KindBool:
		if d.Bool() {
			return append(b, 't')
		}
		return append(b, 'f')
	case datum.KindInt:
		if t == datum.TypeBool {
			if d.Int() != 0 {
				return append(b, 't')
			}
			return append(b, 'f')
		}
		return strconv.AppendInt(b, d.Int(), 10)
	case datum.KindFloat:
		f := d.Float()
		switch t {
		case datum.TypeNumeric:
			return append(b, formatNumeric(f)...)
		case datum.TypeFloat4:
			return append(b, formatFloat(f, 32)...)
		case datum.TypeInt2, datum.TypeInt4, datum.TypeInt8, datum.TypeOID:
			return strconv.AppendInt(b, int64(math.RoundToEven(f)), 10)
		}
		return append(b, formatFloat(f, 64)...)
	case datum.KindString:
		return append(b, d.Str()...)
	case datum.KindBytes:
		b = append(b, `\x`...)
		return hex.AppendEncode(b, d.Bytes())
	case datum.KindTimestamp:
		us := d.Micros()
		switch us {
		case math.MaxInt64:
			return append(b, "infinity"...)
		case math.MinInt64:
			return append(b, "-infinity"...)
		}
		b = append(b, datum.FormatTimestamp(us)...)
		if t == datum.TypeTimestampTZ {
			b = append(b, "+00"...)
		}
		return b
	case datum.KindDate:
		if t == datum.TypeTimestamp || t == datum.TypeTimestampTZ {
			b = append(b, datum.FormatTimestamp(d.Micros()*usPerDay)...)
			if t == datum.TypeTimestampTZ {
				b = append(b, "+00"...)
			}
			return b
		}
		return append(b, d.Format()...)
	case datum.KindInterval:
		return append(b, d.Format()...)
	}
	return b
}

// formatFloat formats a float like PostgreSQL 12+ (shortest exact digits;
// exponent notation below 1e-4 and from 1e15 for float8, 1e6 for float4).
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	i := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	dig := 15
	if bits == 32 {
		dig = 6
	}
	if exp < -4 || exp >= dig {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// formatNumeric formats a numeric (held as float64) in plain notation.
func formatNumeric(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// appendBinary appends d's binary form for a column of type t.
func appendBinary(b []byte, t datum.Type, d datum.Datum) ([]byte, error) {
	asInt := func() int64 {
		if d.Kind() == datum.KindFloat {
			return int64(math.RoundToEven(d.Float()))
		}
		return d.Int()
	}
	switch t {
	case datum.TypeBool:
		if d.Bool() {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case datum.TypeInt2:
		return binary.BigEndian.AppendUint16(b, uint16(asInt())), nil
	case datum.TypeInt4:
		return binary.BigEndian.AppendUint32(b, uint32(asInt())), nil
	case datum.TypeOID:
		return binary.BigEndian.AppendUint32(b, uint32(asInt())), nil
	case datum.TypeInt8:
		return binary.BigEndian.AppendUint64(b, uint64(asInt())), nil
	case datum.TypeFloat4:
		return binary.BigEndian.AppendUint32(b, math.Float32bits(float32(d.AsFloat()))), nil
	case datum.TypeFloat8:
		return binary.BigEndian.AppendUint64(b, math.Float64bits(d.AsFloat())), nil
	case datum.TypeNumeric:
		if d.Kind() == datum.KindInt {
			return appendNumericDigits(b, strconv.FormatInt(d.Int(), 10)), nil
		}
		return appendNumeric(b, d.Float()), nil
	case datum.TypeBytea:
		return append(b, d.Str()...), nil
	case datum.TypeTimestamp, datum.TypeTimestampTZ:
		us := d.Micros()
		if d.Kind() == datum.KindDate {
			us *= usPerDay
		}
		if us != math.MaxInt64 && us != math.MinInt64 {
			us -= pgEpochMicros
		}
		return binary.BigEndian.AppendUint64(b, uint64(us)), nil
	case datum.TypeDate:
		days := d.Micros()
		if d.Kind() == datum.KindTimestamp {
			days = floorDiv(days, usPerDay)
		}
		return binary.BigEndian.AppendUint32(b, uint32(int32(days-pgEpochDays))), nil
	case datum.TypeInterval:
		us := d.Micros()
		days := us / usPerDay
		b = binary.BigEndian.AppendUint64(b, uint64(us-days*usPerDay))
		b = binary.BigEndian.AppendUint32(b, uint32(int32(days)))
		return binary.BigEndian.AppendUint32(b, uint32(d.Months())), nil
	case datum.TypeUUID:
		u, ok := parseUUID(d.Str())
		if !ok {
			return b, pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type uuid: %q", d.Str())
		}
		return append(b, u[:]...), nil
	}
	// text, varchar, json, unknown: the text form is the binary form.
	return appendText(b, t, d), nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendNumeric appends PostgreSQL's binary numeric for f: int16 ndigits,
// int16 weight, uint16 sign, int16 dscale, then ndigits base-10000 digits.
func appendNumeric(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, 0, 0, 0, 0, 0xC0, 0, 0, 0)
	case math.IsInf(f, 1):
		return append(b, 0, 0, 0, 0, 0xD0, 0, 0, 0)
	case math.IsInf(f, -1):
		return append(b, 0, 0, 0, 0, 0xF0, 0, 0, 0)
	}
	return appendNumericDigits(b, strconv.FormatFloat(f, 'f', -1, 64))
}

// appendNumericDigits encodes a plain decimal string ("-12.345").
func appendNumericDigits(b []byte, s string) []byte {
	sign := uint16(0)
	if strings.HasPrefix(s, "-") {
		sign = 0x4000
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	dscale := len(frac)
	// Pad the integer part on the left and the fraction on the right to
	// whole base-10000 digits.
	if r := len(intPart) % 4; r != 0 {
		intPart = strings.Repeat("0", 4-r) + intPart
	}
	if r := len(frac) % 4; r != 0 {
		frac += strings.Repeat("0", 4-r)
	}
	all := intPart + frac
	digits := make([]int16, 0, len(all)/4)
	for i := 0; i < len(all); i += 4 {
		v, _ := strconv.Atoi(all[i : i+4])
		digits = append(digits, int16(v))
	}
	weight := len(intPart)/4 - 1
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight = 0
		sign = 0
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(digits)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, uint16(d))
	}
	return b
}

// decodeNumeric reads PostgreSQL's binary numeric into a float64.
func decodeNumeric(b []byte) (float64, error) {
	if len(b) < 8 {
		return 0, badBinary("numeric")
	}
	n := int(binary.BigEndian.Uint16(b))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	switch sign {
	case 0xC000:
		return math.NaN(), nil
	case 0xD000:
		return math.Inf(1), nil
	case 0xF000:
		return math.Inf(-1), nil
	}
	if len(b) != 8+2*n {
		return 0, badBinary("numeric")
	}
	if n == 0 {
		return 0, nil
	}
	var s strings.Builder
	if sign == 0x4000 {
		s.WriteByte('-')
	}
	for i := 0; i < n; i++ {
		d := binary.BigEndian.Uint16(b[8+2*i:])
		if d > 9999 {
			return 0, badBinary("numeric")
		}
		s.WriteString(strconv.Itoa(int(d) + 10000)[1:])
	}
	// The digits read as an integer times 10000^(weight-n+1).
	s.WriteString("e")
	s.WriteString(strconv.Itoa(4 * (weight - n + 1)))
	return strconv.ParseFloat(s.String(), 64)
}

func badBinary(typ string) error {
	return pgerr.New(pgerr.ProtocolViolation, "incorrect binary data format for type %s", typ)
}

// decodeText reads a parameter or COPY field in text form as type t. An
// unresolved type takes the text as a string.
func decodeText(t datum.Type, s string) (datum.Datum, error) {
	switch t {
	case datum.TypeUnknown:
		if !utf8.ValidString(s) {
			return datum.Null, pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
		}
		return datum.NewString(s), nil
	case datum.TypeUUID:
		u, ok := parseUUID(s)
		if !ok {
			return datum.Null, pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type uuid: %q", s)
		}
		return datum.NewString(formatUUID(u)), nil
	case datum.TypeOID:
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
		if err != nil {
			return datum.Null, pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type oid: %q", s)
		}
		return datum.NewInt(int64(v)), nil
	}
	return datum.Parse(t, s)
}

// decodeBinary reads a parameter or COPY field in binary form as type t.
func decodeBinary(t datum.Type, b []byte) (datum.Datum, error) {
	intOf := func() (int64, bool) {
		switch len(b) {
		case 2:
			return int64(int16(binary.BigEndian.Uint16(b))), true
		case 4:
			return int64(int32(binary.BigEndian.Uint32(b))), true
		case 8:
			return int64(binary.BigEndian.Uint64(b)), true
		}
		return 0, false
	}
	switch t {
	case datum.TypeBool:
		if len(b) != 1 {
			return datum.Null, badBinary("boolean")
		}
		return datum.NewBool(b[0] != 0), nil
	case datum.TypeInt2, datum.TypeInt4, datum.TypeInt8:
		v, ok := intOf()
		if !ok {
			return datum.Null, badBinary(strings.ToLower(t.String()))
		}
		return datum.NewInt(v), nil
	case datum.TypeOID:
		if len(b) != 4 {
			return datum.Null, badBinary("oid")
		}
		return datum.NewInt(int64(binary.BigEndian.Uint32(b))), nil
	case datum.TypeFloat4, datum.TypeFloat8:
		switch len(b) {
		case 4:
			return datum.NewFloat(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
		case 8:
			return datum.NewFloat(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
		}
		return datum.Null, badBinary(strings.ToLower(t.String()))
	case datum.TypeNumeric:
		f, err := decodeNumeric(b)
		if err != nil {
			return datum.Null, err
		}
		return datum.NewFloat(f), nil
	case datum.TypeBytea:
		return datum.NewBytes(append([]byte(nil), b...)), nil
	case datum.TypeTimestamp, datum.TypeTimestampTZ:
		if len(b) != 8 {
			return datum.Null, badBinary("timestamp")
		}
		us := int64(binary.BigEndian.Uint64(b))
		if us != math.MaxInt64 && us != math.MinInt64 {
			us += pgEpochMicros
		}
		return datum.NewTimestamp(us), nil
	case datum.TypeDate:
		if len(b) != 4 {
			return datum.Null, badBinary("date")
		}
		return datum.NewDate(int64(int32(binary.BigEndian.Uint32(b))) + pgEpochDays), nil
	case datum.TypeInterval:
		if len(b) != 16 {
			return datum.Null, badBinary("interval")
		}
		us := int64(binary.BigEndian.Uint64(b))
		days := int64(int32(binary.BigEndian.Uint32(b[8:])))
		months := int32(binary.BigEndian.Uint32(b[12:]))
		return datum.NewInterval(months, us+days*usPerDay), nil
	case datum.TypeUUID:
		if len(b) != 16 {
			return datum.Null, badBinary("uuid")
		}
		var u [16]byte
		copy(u[:], b)
		return datum.NewString(formatUUID(u)), nil
	case datum.TypeJSON:
		// jsonb's binary form starts with a version byte (1).
		if len(b) > 0 && b[0] == 1 {
			b = b[1:]
		}
	}
	if !utf8.Valid(b) {
		return datum.Null, pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
	}
	return decodeText(t, string(b))
}

func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	s = strings.ReplaceAll(s, "-", "")
	if len(s) != 32 {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(s)); err != nil {
		return u, false
	}
	return u, true
}

func formatUUID(u [16]byte) string {
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}
