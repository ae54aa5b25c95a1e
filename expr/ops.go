package expr

import "github.com/weir-sql/weir/datum"

// Operator names as they appear in Call.Fn. The planner builds calls with
// ResolveCall(op, args); compile.go implements them.
const (
	opAnd           = "and"
	opOr            = "or"
	opNot           = "not"
	opNeg           = "neg"
	opIsNull        = "is null"
	opIsNotNull     = "is not null"
	opIsTrue        = "is true"
	opIsFalse       = "is false"
	opIsNotTrue     = "is not true"
	opIsNotFalse    = "is not false"
	opIsDistinct    = "is distinct from"
	opIsNotDistinct = "is not distinct from"
	opIn            = "in"
	opNotIn         = "not in"
	opConcat        = "||"
	opLike          = "like"
	opNotLike       = "not like"
	opILike         = "ilike"
	opNotILike      = "not ilike"
	opRegex         = "~"
	opNotRegex      = "!~"
	opRegexI        = "~*"
	opNotRegexI     = "!~*"
	opPow           = "^"
	opEq, opNe      = "=", "<>"
	opLt, opLe      = "<", "<="
	opGt, opGe      = ">", ">="
	opAdd, opSub    = "+", "-"
	opMul, opDiv    = "*", "/"
	opMod           = "%"
)

// opAliases maps other spellings planners may use to the canonical names.
var opAliases = map[string]string{
	"!=":             opNe,
	"==":             opEq,
	"~~":             opLike,
	"!~~":            opNotLike,
	"~~*":            opILike,
	"!~~*":           opNotILike,
	"unary -":        opNeg,
	"u-":             opNeg,
	"is unknown":     opIsNull, // boolean IS UNKNOWN is IS NULL
	"is not unknown": opIsNotNull,
}

// opSymbol is the operator's spelling in PostgreSQL error messages.
func opSymbol(op string) string {
	switch op {
	case opLike:
		return "~~"
	case opNotLike:
		return "!~~"
	case opILike:
		return "~~*"
	case opNotILike:
		return "!~~*"
	case opNeg:
		return "-"
	case opIsDistinct, opIsNotDistinct, opIn, opNotIn:
		return "="
	}
	return op
}

var numericTypes = []datum.Type{datum.TypeInt2, datum.TypeInt4, datum.TypeInt8, datum.TypeNumeric, datum.TypeFloat4, datum.TypeFloat8}

// comparableTypes have =, <>, <, <=, >, >= (and IS DISTINCT FROM) on
// (T, T). VARCHAR compares as TEXT.
var comparableTypes = []datum.Type{
	datum.TypeBool, datum.TypeInt2, datum.TypeInt4, datum.TypeInt8, datum.TypeNumeric,
	datum.TypeFloat4, datum.TypeFloat8, datum.TypeText, datum.TypeBytea, datum.TypeTimestamp,
	datum.TypeTimestampTZ, datum.TypeDate, datum.TypeInterval, datum.TypeUUID, datum.TypeJSON,
	datum.TypeOID,
}

// operatorTable holds the signatures of the table-driven operators
// (arithmetic, comparison, pattern matching). The others (AND, OR, NOT, IS
// ..., IN, ||) are typed in resolveOperator.
var operatorTable = buildOperators()

func buildOperators() map[string][]Overload {
	m := map[string][]Overload{}
	ov := func(op string, l, r, res datum.Type) {
		m[op] = append(m[op], Overload{Args: []datum.Type{l, r}, Result: res})
	}
	ts, tz, date, iv := datum.TypeTimestamp, datum.TypeTimestampTZ, datum.TypeDate, datum.TypeInterval
	f8, i4, i8 := datum.TypeFloat8, datum.TypeInt4, datum.TypeInt8
	for _, t := range numericTypes {
		for _, op := range []string{opAdd, opSub, opMul, opDiv} {
			ov(op, t, t, t)
		}
		m[opNeg] = append(m[opNeg], Overload{Args: []datum.Type{t}, Result: t})
		if t != datum.TypeFloat4 && t != datum.TypeFloat8 {
			ov(opMod, t, t, t)
		}
	}
	// PostgreSQL's cross-type float4/float8 operators (float48pl etc.):
	// real + integer is double precision.
	f4 := datum.TypeFloat4
	for _, op := range []string{opAdd, opSub, opMul, opDiv} {
		ov(op, f4, f8, f8)
		ov(op, f8, f4, f8)
	}
	for _, op := range []string{opEq, opNe, opLt, opLe, opGt, opGe, opIsDistinct, opIsNotDistinct} {
		ov(op, f4, f8, datum.TypeBool)
		ov(op, f8, f4, datum.TypeBool)
	}
	m[opNeg] = append(m[opNeg], Overload{Args: []datum.Type{iv}, Result: iv})
	ov(opPow, f8, f8, f8)
	ov(opPow, datum.TypeNumeric, datum.TypeNumeric, datum.TypeNumeric)

	// Date and time arithmetic.
	ov(opAdd, ts, iv, ts)
	ov(opAdd, iv, ts, ts)
	ov(opAdd, tz, iv, tz)
	ov(opAdd, iv, tz, tz)
	ov(opAdd, date, i8, date)
	ov(opAdd, i8, date, date)
	ov(opAdd, date, iv, ts)
	ov(opAdd, iv, date, ts)
	ov(opAdd, iv, iv, iv)
	ov(opSub, ts, iv, ts)
	ov(opSub, tz, iv, tz)
	ov(opSub, ts, ts, iv)
	ov(opSub, tz, tz, iv)
	ov(opSub, date, i8, date)
	ov(opSub, date, date, i4)
	ov(opSub, date, iv, ts)
	ov(opSub, iv, iv, iv)
	ov(opMul, iv, f8, iv)
	ov(opMul, f8, iv, iv)
	ov(opDiv, iv, f8, iv)

	for _, t := range comparableTypes {
		for _, op := range []string{opEq, opNe, opLt, opLe, opGt, opGe, opIsDistinct, opIsNotDistinct} {
			ov(op, t, t, datum.TypeBool)
		}
	}
	text := datum.TypeText
	for _, op := range []string{opLike, opNotLike, opILike, opNotILike} {
		ov(op, text, text, datum.TypeBool)
		m[op] = append(m[op], Overload{Args: []datum.Type{text, text, text}, Result: datum.TypeBool})
	}
	ov(opLike, datum.TypeBytea, datum.TypeBytea, datum.TypeBool)
	ov(opNotLike, datum.TypeBytea, datum.TypeBytea, datum.TypeBool)
	for _, op := range []string{opRegex, opNotRegex, opRegexI, opNotRegexI} {
		ov(op, text, text, datum.TypeBool)
	}
	// Bitwise operators on integers: & | # (xor) << >> and unary ~.
	for _, t := range []datum.Type{datum.TypeInt2, datum.TypeInt4, datum.TypeInt8} {
		for _, op := range bitOps {
			ov(op, t, t, t)
		}
		m[opRegex] = append(m[opRegex], Overload{Args: []datum.Type{t}, Result: t})
	}
	return m
}

// bitOps are the binary bitwise operators; unary ~ is opRegex with one
// argument.
var bitOps = []string{"&", "|", "#", "<<", ">>"}

func isBitOp(fn string, nargs int) bool {
	if fn == opRegex {
		return nargs == 1
	}
	for _, op := range bitOps {
		if op == fn {
			return nargs == 2
		}
	}
	return false
}

// compileBitwise compiles the integer bitwise operators.
func (c *compiler) compileBitwise(x *Call) (Evaluator, error) {
	evs, err := c.compileAll(x.Args)
	if err != nil {
		return nil, err
	}
	wrap := func(v int64) int64 {
		// Shifts wrap within the type, as in PostgreSQL.
		switch x.Typ {
		case datum.TypeInt2:
			return int64(int16(v))
		case datum.TypeInt4:
			return int64(int32(v))
		}
		return v
	}
	if len(evs) == 1 {
		a := evs[0]
		return func(row datum.Row) (datum.Datum, error) {
			v, err := a(row)
			if err != nil || v.IsNull() {
				return v, err
			}
			return datum.NewInt(wrap(^v.Int())), nil
		}, nil
	}
	a, b := evs[0], evs[1]
	fn := x.Fn
	return func(row datum.Row) (datum.Datum, error) {
		l, err := a(row)
		if err != nil || l.IsNull() {
			return datum.Null, err
		}
		r, err := b(row)
		if err != nil || r.IsNull() {
			return datum.Null, err
		}
		x, y := l.Int(), r.Int()
		var v int64
		switch fn {
		case "&":
			v = x & y
		case "|":
			v = x | y
		case "#":
			v = x ^ y
		case "<<":
			v = wrap(x << (uint64(y) & 63))
		case ">>":
			v = x >> (uint64(y) & 63)
		}
		return datum.NewInt(v), nil
	}, nil
}

// isOperator reports whether op (canonical) is an operator rather than a
// named function.
func isOperator(op string) bool {
	if _, ok := operatorTable[op]; ok {
		return true
	}
	switch op {
	case opAnd, opOr, opNot, opIsNull, opIsNotNull, opIsTrue, opIsFalse, opIsNotTrue,
		opIsNotFalse, opIn, opNotIn, opConcat:
		return true
	}
	return false
}
