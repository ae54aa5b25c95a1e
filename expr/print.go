package expr

import (
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
)

// Printing is deterministic: the same tree always prints the same text, so
// it can name operators and appear in EXPLAIN output and golden files.
// Operators are fully parenthesized: ((a + b) > 1).

func (e *Col) String() string {
	if e.Name == "" {
		return "$" + strconv.Itoa(e.Idx)
	}
	return quoteName(e.Name)
}

func (e *Const) String() string { return formatConst(e.Val, e.Typ) }

func (e *Param) String() string { return "$" + strconv.Itoa(e.Index) }

func (e *Cast) String() string {
	return "CAST(" + e.Arg.String() + " AS " + e.To.String() + ")"
}

func (e *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if e.Operand != nil {
		b.WriteString(" ")
		b.WriteString(e.Operand.String())
	}
	for _, w := range e.Whens {
		b.WriteString(" WHEN ")
		b.WriteString(w.Cond.String())
		b.WriteString(" THEN ")
		b.WriteString(w.Then.String())
	}
	if e.Else != nil {
		b.WriteString(" ELSE ")
		b.WriteString(e.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

func (e *Apply) String() string { return e.Name + "(" + joinExprs(e.Args) + ")" }

func (e *AggFunc) String() string {
	if e.Arg == nil {
		return e.Fn + "(*)"
	}
	arg := e.Arg.String()
	if e.Fn == "string_agg" {
		arg += ", " + quoteString(e.Delim)
	}
	if e.Distinct {
		return e.Fn + "(DISTINCT " + arg + ")"
	}
	return e.Fn + "(" + arg + ")"
}

// infixOps print as (a OP b).
var infixOps = map[string]string{
	opAdd: "+", opSub: "-", opMul: "*", opDiv: "/", opMod: "%", opPow: "^",
	opEq: "=", opNe: "<>", opLt: "<", opLe: "<=", opGt: ">", opGe: ">=",
	opAnd: "AND", opOr: "OR", opConcat: "||",
	opLike: "LIKE", opNotLike: "NOT LIKE", opILike: "ILIKE", opNotILike: "NOT ILIKE",
	opRegex: "~", opNotRegex: "!~", opRegexI: "~*", opNotRegexI: "!~*",
	opIsDistinct: "IS DISTINCT FROM", opIsNotDistinct: "IS NOT DISTINCT FROM",
	"&": "&", "|": "|", "#": "#", "<<": "<<", ">>": ">>",
}

// postfixOps print as (a OP).
var postfixOps = map[string]string{
	opIsNull: "IS NULL", opIsNotNull: "IS NOT NULL", opIsTrue: "IS TRUE", opIsFalse: "IS FALSE",
	opIsNotTrue: "IS NOT TRUE", opIsNotFalse: "IS NOT FALSE",
}

func (e *Call) String() string {
	args := e.Args
	if sym, ok := infixOps[e.Fn]; ok && len(args) == 2 {
		return "(" + args[0].String() + " " + sym + " " + args[1].String() + ")"
	}
	if sym, ok := infixOps[e.Fn]; ok && len(args) == 3 && strings.HasSuffix(sym, "LIKE") {
		return "(" + args[0].String() + " " + sym + " " + args[1].String() + " ESCAPE " + args[2].String() + ")"
	}
	if op, all, ok := splitArrayOp(e.Fn); ok && len(args) == 2 {
		q := " ANY ("
		if all {
			q = " ALL ("
		}
		sym := infixOps[op]
		return "(" + args[0].String() + " " + sym + q + args[1].String() + "))"
	}
	if sym, ok := postfixOps[e.Fn]; ok && len(args) == 1 {
		return "(" + args[0].String() + " " + sym + ")"
	}
	switch e.Fn {
	case opNot:
		if len(args) == 1 {
			return "(NOT " + args[0].String() + ")"
		}
	case opNeg:
		if len(args) == 1 {
			return "(- " + args[0].String() + ")"
		}
	case opRegex:
		if len(args) == 1 {
			return "(~ " + args[0].String() + ")"
		}
	case opIn, opNotIn:
		if len(args) >= 1 {
			kw := " IN ("
			if e.Fn == opNotIn {
				kw = " NOT IN ("
			}
			return "(" + args[0].String() + kw + joinExprs(args[1:]) + "))"
		}
	case "array_element":
		if len(args) == 2 {
			return args[0].String() + "[" + args[1].String() + "]"
		}
	case "extract":
		if k, ok := args0Const(args); ok && len(args) == 2 {
			return "extract(" + strings.ToLower(k) + " FROM " + args[1].String() + ")"
		}
	}
	return e.Fn + "(" + joinExprs(args) + ")"
}

func args0Const(args []Expr) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	k, ok := args[0].(*Const)
	if !ok || k.Val.Kind() != datum.KindString || !isSimpleIdent(strings.ToLower(k.Val.Str())) {
		return "", false
	}
	return k.Val.Str(), true
}

func joinExprs(es []Expr) string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.String())
	}
	return b.String()
}

func isSimpleIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case (c >= '0' && c <= '9') || c == '$':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// quoteName prints a (possibly dotted) column name, double-quoting parts
// that are not plain lower-case identifiers.
func quoteName(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		if !isSimpleIdent(p) {
			parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		}
	}
	return strings.Join(parts, ".")
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// formatConst prints a constant as a SQL literal of its type.
func formatConst(v datum.Datum, t datum.Type) string {
	if v.IsNull() {
		return "NULL"
	}
	switch v.Kind() {
	case datum.KindBool:
		if v.Bool() {
			return "true"
		}
		return "false"
	case datum.KindInt:
		return strconv.FormatInt(v.Int(), 10)
	case datum.KindFloat:
		s := datum.FormatFloat(v.Float())
		if s == "NaN" || strings.HasSuffix(s, "Infinity") {
			return quoteString(s) + "::" + t.String()
		}
		return s
	case datum.KindString:
		switch t {
		case datum.TypeUUID, datum.TypeJSON:
			return quoteString(v.Str()) + "::" + t.String()
		}
		return quoteString(v.Str())
	case datum.KindBytes:
		return quoteString(v.Format()) + "::BYTEA"
	case datum.KindTimestamp:
		kw := "TIMESTAMP "
		if t == datum.TypeTimestampTZ {
			kw = "TIMESTAMPTZ "
		}
		return kw + quoteString(textOf(v, t))
	case datum.KindDate:
		return "DATE " + quoteString(v.Format())
	case datum.KindInterval:
		return "INTERVAL " + quoteString(v.Format())
	}
	return quoteString(v.Format())
}
