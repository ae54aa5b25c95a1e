package state

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Key prefixes. Every key in the store starts with one of these bytes, so the
// subsystems sharing the one Pebble DB never collide and each owns a
// contiguous span that can be scanned, checkpointed or range-deleted alone.
// The layout under 'c', 'l', 't', 'q' and 'm' belongs to the packages that
// write those keys; the layout under 's', 'T' and '!' is defined in this file
// and nowhere else.
const (
	PrefixCatalog  byte = 'c' // catalog objects
	PrefixLog      byte = 'l' // log-source records
	PrefixTable    byte = 't' // table rows
	PrefixState    byte = 's' // operator state (ValueState, BagState, MapState)
	PrefixTimer    byte = 'T' // timer journal (Timers)
	PrefixQueue    byte = 'q' // inter-stage queues
	PrefixMeta     byte = 'm' // job runtime metadata: positions, watermarks, counters
	prefixInternal byte = '!' // the store's own bookkeeping (the boot epoch)
)

// epochKey holds the store's boot epoch: a counter incremented and synced by
// every Open. BagState sequence numbers start with it, so a sequence number
// handed out after a restart sorts after every one handed out before.
var epochKey = []byte{prefixInternal, 'e', 'p', 'o', 'c', 'h'}

// Hash is the 64-bit hash of an encoded grouping key that decides which key
// range the key belongs to. Every package that routes records by key must use
// it, so that a key's records, state and timers meet in the same range.
func Hash(key []byte) uint64 { return xxhash.Sum64(key) }

// InRange reports whether hash lies in the key range [lo, hi). hi == 0 stands
// for 2^64, the end of the hash space: [0, 0) is the whole space and [lo, 0)
// runs from lo to the end. (A uint64 cannot hold 2^64; an empty range is never
// useful, so 0 is free to mean "no upper bound".)
func InRange(hash, lo, hi uint64) bool {
	return hash >= lo && (hi == 0 || hash < hi)
}

// StateKeyPrefix returns 's' + ns (8 bytes BE) + op + 0x00: the span of all
// state of operator op in state namespace ns. op must not contain 0x00 (the
// terminator keeps "ab" from being a prefix of "abc"'s keys).
func StateKeyPrefix(ns uint64, op string) []byte {
	return appendOpPrefix(make([]byte, 0, 10+len(op)), PrefixState, ns, op)
}

// StateKey returns StateKeyPrefix(ns, op) + hash (8 bytes BE) + key: the key
// of a ValueState entry. Because the hash follows the operator prefix, the
// state of a key range [lo, hi) of one operator is one contiguous span (see
// StateSpan).
func StateKey(ns uint64, op string, hash uint64, key []byte) []byte {
	k := make([]byte, 0, 18+len(op)+len(key))
	k = appendOpPrefix(k, PrefixState, ns, op)
	k = binary.BigEndian.AppendUint64(k, hash)
	return append(k, key...)
}

// StateSpan returns the span [start, end) holding all state of operator op
// whose hash lies in the key range [lo, hi) (hi == 0: to the end), whatever
// the state's shape. A range move or a per-range snapshot works on this span.
func StateSpan(ns uint64, op string, lo, hi uint64) (start, end []byte) {
	return spanOf(StateKeyPrefix(ns, op), lo, hi)
}

// TimerKeyPrefix returns 'T' + ns (8 BE) + op + 0x00 + domain: the span of
// one operator's timers in one time domain.
func TimerKeyPrefix(ns uint64, op string, d Domain) []byte {
	p := appendOpPrefix(make([]byte, 0, 11+len(op)), PrefixTimer, ns, op)
	return append(p, byte(d))
}

// TimerKey returns TimerKeyPrefix(ns, op, d) + ts (8 bytes, sign bit
// flipped, BE) + hash (8 BE) + key. Flipping the sign bit makes the unsigned
// byte order of ts equal its signed order, so the journal sorts by (ts, hash,
// key): the order timers fire in.
func TimerKey(ns uint64, op string, d Domain, ts int64, hash uint64, key []byte) []byte {
	return appendTimerID(TimerKeyPrefix(ns, op, d), ts, hash, key)
}

// PrefixEnd returns the smallest key greater than every key that starts with
// prefix, or nil (no upper bound) if there is none (prefix is all 0xff).
func PrefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := append([]byte(nil), prefix[:i+1]...)
			end[i]++
			return end
		}
	}
	return nil
}

func appendOpPrefix(dst []byte, prefix byte, ns uint64, op string) []byte {
	if strings.IndexByte(op, 0) >= 0 {
		panic(fmt.Sprintf("state: operator name %q contains 0x00", op))
	}
	dst = append(dst, prefix)
	dst = binary.BigEndian.AppendUint64(dst, ns)
	dst = append(dst, op...)
	return append(dst, 0)
}

// appendTimerID appends a timer's identity, the part of its journal key after
// TimerKeyPrefix: ts (sign-flipped BE) + hash (BE) + key.
func appendTimerID(dst []byte, ts int64, hash uint64, key []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(ts)^(1<<63))
	dst = binary.BigEndian.AppendUint64(dst, hash)
	return append(dst, key...)
}

// appendCKey appends a cache key, hash (8 BE) + key: the identity of a
// grouping key inside a state object. Its byte order is the order of the
// state's keys in Pebble for ValueState.
func appendCKey(dst []byte, hash uint64, key []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, hash)
	return append(dst, key...)
}

// ckeyHash returns the hash of a cache key without converting it to bytes.
func ckeyHash(ck string) uint64 { return beUint64(ck) }

// beUint64 decodes 8 big-endian bytes at the start of s.
func beUint64(s string) uint64 {
	_ = s[7]
	return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
		uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
}

// appendEscaped appends key in an order-preserving, self-delimiting form:
// 0x00 becomes 0x00 0xff and the end is marked by 0x00 0x01. BagState and
// MapState put more bytes (a sequence number, a map key) after the grouping
// key, so the grouping key must not be a prefix of another one's encoding:
// without the terminator, key "a" + map key "b" and key "ab" + map key ""
// would be the same Pebble key.
func appendEscaped(dst, key []byte) []byte {
	for {
		i := indexByte(key, 0)
		if i < 0 {
			break
		}
		dst = append(dst, key[:i+1]...)
		dst = append(dst, 0xff)
		key = key[i+1:]
	}
	dst = append(dst, key...)
	return append(dst, 0, 1)
}

// groupPrefix returns prefix + hash (8 BE) + escaped key: the Pebble prefix
// under which BagState and MapState store a grouping key's values or
// entries. extra is spare capacity for what the caller appends.
func groupPrefix(prefix []byte, hash uint64, key []byte, extra int) []byte {
	kp := make([]byte, 0, len(prefix)+8+len(key)+2+extra)
	kp = append(kp, prefix...)
	kp = binary.BigEndian.AppendUint64(kp, hash)
	return appendEscaped(kp, key)
}

// decodeEscaped splits an appendEscaped encoding off the front of b.
func decodeEscaped(b []byte) (key, rest []byte, ok bool) {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		switch b[i+1] {
		case 0xff:
			key = append(key, b[:i+1]...)
			b = b[i+2:]
			i = -1
		case 1:
			return append(key, b[:i]...), b[i+2:], true
		default:
			return nil, nil, false
		}
	}
	return nil, nil, false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// FormatKey renders a raw key of the store for humans (tests, debugging). It
// decodes the layouts this package owns; with the store at hand it also
// knows which state shape an operator prefix holds and decodes bag sequence
// numbers and map keys.
func (s *Store) FormatKey(k []byte) string {
	if len(k) == 0 {
		return `""`
	}
	switch k[0] {
	case PrefixState, PrefixTimer:
		if len(k) < 10 {
			break
		}
		ns := binary.BigEndian.Uint64(k[1:9])
		i := indexByte(k[9:], 0)
		if i < 0 {
			break
		}
		op := string(k[9 : 9+i])
		rest := k[10+i:]
		if k[0] == PrefixTimer {
			if len(rest) < 17 {
				break
			}
			ts := int64(binary.BigEndian.Uint64(rest[1:9]) ^ (1 << 63))
			return fmt.Sprintf("T/%d/%s/%c/ts=%d/h=%#x/%q", ns, op, rest[0], ts,
				binary.BigEndian.Uint64(rest[9:17]), rest[17:])
		}
		if len(rest) < 8 {
			break
		}
		head := fmt.Sprintf("s/%d/%s/h=%#x", ns, op, binary.BigEndian.Uint64(rest[:8]))
		rest = rest[8:]
		var kind stateKind
		if s != nil {
			kind = s.kindOf(k[:10+i])
		}
		switch kind {
		case kindBag, kindMap:
			key, tail, ok := decodeEscaped(rest)
			if !ok {
				break
			}
			if kind == kindMap {
				return fmt.Sprintf("%s/%q/map:%q", head, key, tail)
			}
			if len(tail) != bagSeqLen {
				break
			}
			return fmt.Sprintf("%s/%q/seq=%d.%d", head, key,
				binary.BigEndian.Uint32(tail), binary.BigEndian.Uint64(tail[4:]))
		}
		return fmt.Sprintf("%s/%q", head, rest)
	}
	return fmt.Sprintf("%c/%q", k[0], k[1:])
}
