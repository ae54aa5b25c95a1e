package datum

import (
	"encoding/binary"
	"errors"
	"math"
)

// errCorrupt is returned when bytes do not decode; it means a bug or on-disk
// corruption, never bad user input.
var errCorrupt = errors.New("datum: corrupt encoding")

// Key encoding tags. NULL sorts last, as in Compare.
const (
	keyTagBool      = 0x10
	keyTagInt       = 0x21
	keyTagFloat     = 0x22
	keyTagString    = 0x30
	keyTagBytes     = 0x31
	keyTagTimestamp = 0x40
	keyTagDate      = 0x41
	keyTagInterval  = 0x42
	keyTagNull      = 0xF0
)

// AppendKey appends an order-preserving, self-delimiting encoding of d:
// for two datums of the same kind, bytes.Compare of their encodings agrees
// with Compare. Used for Pebble keys (primary keys, group keys).
func AppendKey(b []byte, d Datum) []byte {
	switch d.k {
	case KindNull:
		return append(b, keyTagNull)
	case KindBool:
		return append(b, keyTagBool, byte(d.i))
	case KindInt:
		b = append(b, keyTagInt)
		return binary.BigEndian.AppendUint64(b, uint64(d.i)^(1<<63))
	case KindFloat:
		b = append(b, keyTagFloat)
		bits := uint64(d.i)
		if bits&(1<<63) != 0 {
			bits = ^bits
		} else {
			bits |= 1 << 63
		}
		return binary.BigEndian.AppendUint64(b, bits)
	case KindString, KindBytes:
		if d.k == KindString {
			b = append(b, keyTagString)
		} else {
			b = append(b, keyTagBytes)
		}
		for i := 0; i < len(d.s); i++ {
			c := d.s[i]
			if c == 0 {
				b = append(b, 0, 0xFF)
			} else {
				b = append(b, c)
			}
		}
		return append(b, 0, 1)
	case KindTimestamp:
		b = append(b, keyTagTimestamp)
		return binary.BigEndian.AppendUint64(b, uint64(d.i)^(1<<63))
	case KindDate:
		b = append(b, keyTagDate)
		return binary.BigEndian.AppendUint64(b, uint64(d.i)^(1<<63))
	case KindInterval:
		b = append(b, keyTagInterval)
		b = binary.BigEndian.AppendUint32(b, uint32(d.m)^(1<<31))
		return binary.BigEndian.AppendUint64(b, uint64(d.i)^(1<<63))
	}
	panic("datum: unknown kind")
}

// AppendKeyRow appends the key encoding of every datum of r.
func AppendKeyRow(b []byte, r Row) []byte {
	for _, d := range r {
		b = AppendKey(b, d)
	}
	return b
}

// DecodeKey decodes one datum encoded by AppendKey and returns the rest.
func DecodeKey(b []byte) (Datum, []byte, error) {
	if len(b) == 0 {
		return Null, nil, errCorrupt
	}
	tag, b := b[0], b[1:]
	u64 := func() (uint64, bool) {
		if len(b) < 8 {
			return 0, false
		}
		v := binary.BigEndian.Uint64(b)
		b = b[8:]
		return v, true
	}
	switch tag {
	case keyTagNull:
		return Null, b, nil
	case keyTagBool:
		if len(b) < 1 {
			return Null, nil, errCorrupt
		}
		return NewBool(b[0] != 0), b[1:], nil
	case keyTagInt, keyTagTimestamp, keyTagDate:
		v, ok := u64()
		if !ok {
			return Null, nil, errCorrupt
		}
		i := int64(v ^ (1 << 63))
		switch tag {
		case keyTagInt:
			return NewInt(i), b, nil
		case keyTagTimestamp:
			return NewTimestamp(i), b, nil
		}
		return NewDate(i), b, nil
	case keyTagFloat:
		v, ok := u64()
		if !ok {
			return Null, nil, errCorrupt
		}
		if v&(1<<63) != 0 {
			v &^= 1 << 63
		} else {
			v = ^v
		}
		return NewFloat(math.Float64frombits(v)), b, nil
	case keyTagInterval:
		if len(b) < 4 {
			return Null, nil, errCorrupt
		}
		m := int32(binary.BigEndian.Uint32(b) ^ (1 << 31))
		b = b[4:]
		v, ok := u64()
		if !ok {
			return Null, nil, errCorrupt
		}
		return NewInterval(m, int64(v^(1<<63))), b, nil
	case keyTagString, keyTagBytes:
		out := make([]byte, 0, 16)
		for i := 0; i < len(b); i++ {
			if b[i] != 0 {
				out = append(out, b[i])
				continue
			}
			if i+1 >= len(b) {
				return Null, nil, errCorrupt
			}
			switch b[i+1] {
			case 0xFF:
				out = append(out, 0)
				i++
			case 1:
				if tag == keyTagString {
					return NewString(string(out)), b[i+2:], nil
				}
				return NewBytes(out), b[i+2:], nil
			default:
				return Null, nil, errCorrupt
			}
		}
		return Null, nil, errCorrupt
	}
	return Null, nil, errCorrupt
}

// DecodeKeyRow decodes n datums encoded by AppendKey.
func DecodeKeyRow(b []byte, n int) (Row, []byte, error) {
	r := make(Row, n)
	var err error
	for i := 0; i < n; i++ {
		if r[i], b, err = DecodeKey(b); err != nil {
			return nil, nil, err
		}
	}
	return r, b, nil
}

// AppendValue appends a compact (not order-preserving) encoding of d.
func AppendValue(b []byte, d Datum) []byte {
	b = append(b, byte(d.k))
	switch d.k {
	case KindNull:
	case KindBool:
		b = append(b, byte(d.i))
	case KindInt, KindTimestamp, KindDate:
		b = binary.AppendVarint(b, d.i)
	case KindFloat:
		b = binary.LittleEndian.AppendUint64(b, uint64(d.i))
	case KindString, KindBytes:
		b = binary.AppendUvarint(b, uint64(len(d.s)))
		b = append(b, d.s...)
	case KindInterval:
		b = binary.AppendVarint(b, int64(d.m))
		b = binary.AppendVarint(b, d.i)
	}
	return b
}

// DecodeValue decodes one datum encoded by AppendValue and returns the rest.
func DecodeValue(b []byte) (Datum, []byte, error) {
	if len(b) == 0 {
		return Null, nil, errCorrupt
	}
	k := Kind(b[0])
	b = b[1:]
	switch k {
	case KindNull:
		return Null, b, nil
	case KindBool:
		if len(b) < 1 {
			return Null, nil, errCorrupt
		}
		return NewBool(b[0] != 0), b[1:], nil
	case KindInt, KindTimestamp, KindDate:
		v, n := binary.Varint(b)
		if n <= 0 {
			return Null, nil, errCorrupt
		}
		return Datum{k: k, i: v}, b[n:], nil
	case KindFloat:
		if len(b) < 8 {
			return Null, nil, errCorrupt
		}
		return Datum{k: k, i: int64(binary.LittleEndian.Uint64(b))}, b[8:], nil
	case KindString, KindBytes:
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return Null, nil, errCorrupt
		}
		return Datum{k: k, s: string(b[n : n+int(l)])}, b[n+int(l):], nil
	case KindInterval:
		m, n := binary.Varint(b)
		if n <= 0 {
			return Null, nil, errCorrupt
		}
		b = b[n:]
		v, n := binary.Varint(b)
		if n <= 0 {
			return Null, nil, errCorrupt
		}
		return NewInterval(int32(m), v), b[n:], nil
	}
	return Null, nil, errCorrupt
}

// AppendRow appends a row: its length then each datum's value encoding.
func AppendRow(b []byte, r Row) []byte {
	b = binary.AppendUvarint(b, uint64(len(r)))
	for _, d := range r {
		b = AppendValue(b, d)
	}
	return b
}

// DecodeRow decodes a row encoded by AppendRow and returns the rest.
func DecodeRow(b []byte) (Row, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	b = b[w:]
	r := make(Row, n)
	var err error
	for i := range r {
		if r[i], b, err = DecodeValue(b); err != nil {
			return nil, nil, err
		}
	}
	return r, b, nil
}
