package expr

import (
	"github.com/weir-sql/weir/datum"
)

// typeAny is a pseudo-type used only in overload signatures: a parameter that
// accepts a value of any type (PostgreSQL's "any"/"anynonarray"). It never
// appears as the type of an expression.
const typeAny datum.Type = 255

// Type categories, as in PostgreSQL's pg_type.typcategory. Implicit casts
// never cross categories; CommonType requires one category.
const (
	catUnknown  = 'X'
	catBool     = 'B'
	catNumeric  = 'N'
	catString   = 'S'
	catDatetime = 'D'
	catTimespan = 'T'
	catBytea    = 'b' // user-defined in PostgreSQL; kept apart
	catUUID     = 'u'
	catJSON     = 'j'
	catAny      = '*'
)

func category(t datum.Type) byte {
	switch t {
	case datum.TypeBool:
		return catBool
	case datum.TypeInt2, datum.TypeInt4, datum.TypeInt8, datum.TypeFloat4, datum.TypeFloat8, datum.TypeNumeric, datum.TypeOID:
		return catNumeric
	case datum.TypeText, datum.TypeVarchar:
		return catString
	case datum.TypeTimestamp, datum.TypeTimestampTZ, datum.TypeDate:
		return catDatetime
	case datum.TypeInterval:
		return catTimespan
	case datum.TypeBytea:
		return catBytea
	case datum.TypeUUID:
		return catUUID
	case datum.TypeJSON:
		return catJSON
	case typeAny:
		return catAny
	}
	return catUnknown
}

// preferred reports PostgreSQL's typispreferred: the type that wins
// ambiguities within its category.
func preferred(t datum.Type) bool {
	switch t {
	case datum.TypeBool, datum.TypeFloat8, datum.TypeText, datum.TypeTimestampTZ, datum.TypeInterval:
		return true
	}
	return false
}

// numRank orders the numeric types along PostgreSQL's implicit casts:
// smallint → integer → bigint → numeric → real → double precision.
func numRank(t datum.Type) int {
	switch t {
	case datum.TypeInt2:
		return 1
	case datum.TypeInt4:
		return 2
	case datum.TypeInt8:
		return 3
	case datum.TypeNumeric:
		return 4
	case datum.TypeFloat4:
		return 5
	case datum.TypeFloat8:
		return 6
	}
	return 0
}

func isIntType(t datum.Type) bool {
	return t == datum.TypeInt2 || t == datum.TypeInt4 || t == datum.TypeInt8 || t == datum.TypeOID
}

func isStringType(t datum.Type) bool { return t == datum.TypeText || t == datum.TypeVarchar }

// implicitCast reports whether PostgreSQL converts from to to without an
// explicit CAST (pg_cast castcontext 'i'), or the types are the same.
func implicitCast(from, to datum.Type) bool {
	if from == to || from == datum.TypeUnknown || to == typeAny {
		return true
	}
	if rf, rt := numRank(from), numRank(to); rf > 0 && rt > 0 {
		return rf < rt
	}
	switch from {
	case datum.TypeInt2, datum.TypeInt4, datum.TypeInt8:
		return to == datum.TypeOID
	case datum.TypeText:
		return to == datum.TypeVarchar
	case datum.TypeVarchar:
		return to == datum.TypeText
	case datum.TypeDate:
		return to == datum.TypeTimestamp || to == datum.TypeTimestampTZ
	case datum.TypeTimestamp:
		return to == datum.TypeTimestampTZ
	}
	return false
}

// sameRep reports types that are binary-coercible in both directions: a
// conversion between them needs no Cast node (PostgreSQL's RelabelType).
func sameRep(a, b datum.Type) bool {
	return a == b || (isStringType(a) && isStringType(b))
}

// CommonType picks the type a set of values is converted to when they meet
// in one result (CASE, COALESCE, GREATEST, IN lists, UNION), with
// PostgreSQL's rules (select_common_type): unknown inputs are ignored, all
// others must share a category; the first preferred type of the category
// wins, else the last type every earlier one converts to implicitly. All
// unknown gives TEXT. It reports false if there is no common type (or no
// inputs).
func CommonType(ts ...datum.Type) (datum.Type, bool) {
	t, _, _, ok := commonType(ts)
	return t, ok
}

// commonType is CommonType that also reports the first pair of input types
// that cannot be matched, for error messages.
func commonType(ts []datum.Type) (res, bad1, bad2 datum.Type, ok bool) {
	if len(ts) == 0 {
		return datum.TypeUnknown, 0, 0, false
	}
	p := datum.TypeUnknown
	for _, t := range ts {
		if t == datum.TypeUnknown {
			continue
		}
		if p == datum.TypeUnknown {
			p = t
			continue
		}
		if t == p {
			continue
		}
		if category(t) != category(p) {
			return datum.TypeUnknown, p, t, false
		}
		if !preferred(p) && implicitCast(p, t) && !implicitCast(t, p) {
			p = t
		}
	}
	if p == datum.TypeUnknown {
		return datum.TypeText, 0, 0, true
	}
	for _, t := range ts {
		if !implicitCast(t, p) {
			return datum.TypeUnknown, t, p, false
		}
	}
	return p, 0, 0, true
}

// pgTypeName is the type's name as PostgreSQL spells it in error messages.
func pgTypeName(t datum.Type) string {
	if t == typeAny {
		return "any"
	}
	return t.PGName()
}

// intRange is the value range of an integer type.
func intRange(t datum.Type) (lo, hi int64) {
	switch t {
	case datum.TypeInt2:
		return -1 << 15, 1<<15 - 1
	case datum.TypeInt4:
		return -1 << 31, 1<<31 - 1
	case datum.TypeOID:
		return 0, 1<<32 - 1
	}
	return -1 << 63, 1<<63 - 1
}
