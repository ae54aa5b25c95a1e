package expr

import (
	"strconv"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Arrays and records.
//
// Weir has no array type. An array value is TEXT holding PostgreSQL's text
// form of a one-dimensional array: '{a,b,NULL}', '{"x y",z}', '{}'. The
// forms int2vector and oidvector print ('1 2': space-separated, subscripts
// from 0) and explicit bounds ('[0:1]={5,6}') are read too, so the
// pg_catalog columns clients index (indkey, conkey, indoption, ...) work as
// they do in PostgreSQL. The element type is not part of the value: where
// the binder knows it (ARRAY[1, 2] builds an array of integers) a subscript
// or unnest is typed by it; elsewhere an element is an untyped value (like
// an untyped literal) that takes the type its context wants, so
// attnum = indkey[0] compares smallints.
//
// Functions: ARRAY[...] (the call array(...)), x[i] (array_element),
// array_upper, array_lower, array_length, cardinality, array_to_string,
// string_to_array, and x op ANY/ALL (array) for the comparison operators
// (the calls "= any", "<> all", ...). Records (the composite values of
// set-returning functions like information_schema._pg_expandarray) are
// TEXT in PostgreSQL's record form '(1,2)': row(...) builds one and
// record_field(r, i) reads field i (from 1), untyped.

// Array is a parsed array value: its elements (strings, or NULL) and the
// subscript of the first (1, or 0 for the vector forms).
type Array struct {
	Lower int
	Elems []datum.Datum
}

// Upper is the subscript of the last element (Lower-1 when empty).
func (a Array) Upper() int { return a.Lower + len(a.Elems) - 1 }

// At returns the element at subscript i (NULL outside the bounds).
func (a Array) At(i int64) datum.Datum {
	j := i - int64(a.Lower)
	if j < 0 || j >= int64(len(a.Elems)) {
		return datum.Null
	}
	return a.Elems[j]
}

func errArrayLiteral(s, detail string) error {
	return pgerr.New(pgerr.InvalidTextRepresentation, "malformed array literal: %q", s).WithDetail("%s", detail)
}

// ParseArray reads an array's text form (see the package comment on
// arrays for the forms accepted).
func ParseArray(s string) (Array, error) {
	t := strings.TrimSpace(s)
	a := Array{Lower: 1}
	if t == "" {
		return Array{Lower: 0}, nil // an empty vector
	}
	if t[0] == '[' {
		// [lo:hi]={...}
		eq := strings.Index(t, "]=")
		colon := strings.IndexByte(t, ':')
		if eq < 0 || colon < 0 || colon > eq {
			return a, errArrayLiteral(s, "Array dimensions are malformed.")
		}
		lo, err := strconv.Atoi(strings.TrimSpace(t[1:colon]))
		if err != nil {
			return a, errArrayLiteral(s, "Array dimensions are malformed.")
		}
		a.Lower = lo
		t = strings.TrimSpace(t[eq+2:])
		if t == "" || t[0] != '{' {
			return a, errArrayLiteral(s, "Array contents must start with \"{\".")
		}
	}
	if t[0] != '{' {
		// int2vector / oidvector: space-separated, subscripts from 0.
		a.Lower = 0
		for _, f := range strings.Fields(t) {
			a.Elems = append(a.Elems, datum.NewString(f))
		}
		return a, nil
	}
	if t[len(t)-1] != '}' {
		return a, errArrayLiteral(s, "Junk after closing right brace.")
	}
	body := t[1 : len(t)-1]
	if strings.TrimSpace(body) == "" {
		return a, nil
	}
	var cur strings.Builder
	quoted, wasQuoted := false, false
	flush := func() error {
		v := cur.String()
		if !wasQuoted {
			v = strings.TrimSpace(v)
			if strings.EqualFold(v, "NULL") {
				a.Elems = append(a.Elems, datum.Null)
				cur.Reset()
				return nil
			}
			if v == "" {
				return errArrayLiteral(s, "Unexpected \",\" character.")
			}
		}
		a.Elems = append(a.Elems, datum.NewString(v))
		cur.Reset()
		wasQuoted = false
		return nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			cur.WriteByte(body[i])
		case c == '"':
			quoted = !quoted
			wasQuoted = true
		case c == '{' && !quoted:
			return a, pgerr.New(pgerr.FeatureNotSupported, "multidimensional arrays are not supported")
		case c == ',' && !quoted:
			if err := flush(); err != nil {
				return a, err
			}
		case (c == ' ' || c == '\t' || c == '\n') && !quoted && wasQuoted:
			// whitespace after a quoted element
		default:
			cur.WriteByte(c)
		}
	}
	if quoted {
		return a, errArrayLiteral(s, "Unexpected end of input.")
	}
	if err := flush(); err != nil {
		return a, err
	}
	return a, nil
}

// FormatArray returns the text form of a one-dimensional array of values
// of type t (NULL elements print as NULL).
func FormatArray(elems []datum.Datum, t datum.Type) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if e.IsNull() {
			b.WriteString("NULL")
			continue
		}
		writeArrayElem(&b, elemText(e, t))
	}
	b.WriteByte('}')
	return b.String()
}

// elemText is an element's text: its output form (booleans as t/f).
func elemText(v datum.Datum, t datum.Type) string {
	if v.Kind() == datum.KindBool {
		return v.Format()
	}
	return textOf(v, t)
}

func writeArrayElem(b *strings.Builder, s string) {
	if !needsArrayQuotes(s) {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}

func needsArrayQuotes(s string) bool {
	if s == "" || strings.EqualFold(s, "NULL") {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '}', ',', '"', '\\', ' ', '\t', '\n', '\r':
			return true
		}
	}
	return false
}

// FormatRecord returns PostgreSQL's text form of a record: (a,b,,"x y").
// NULL fields are empty.
func FormatRecord(fields []datum.Datum, types []datum.Type) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		if f.IsNull() {
			continue
		}
		t := datum.TypeText
		if i < len(types) {
			t = types[i]
		}
		s := elemText(f, t)
		quote := s == ""
		for j := 0; j < len(s) && !quote; j++ {
			switch s[j] {
			case '(', ')', ',', '"', '\\', ' ', '\t', '\n', '\r':
				quote = true
			}
		}
		if !quote {
			b.WriteString(s)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b.WriteByte(s[j])
			}
			b.WriteByte(s[j])
		}
		b.WriteByte('"')
	}
	b.WriteByte(')')
	return b.String()
}

// ParseRecord reads a record's text form into its fields (strings, or NULL
// for empty unquoted fields).
func ParseRecord(s string) ([]datum.Datum, error) {
	t := strings.TrimSpace(s)
	if len(t) < 2 || t[0] != '(' || t[len(t)-1] != ')' {
		return nil, pgerr.New(pgerr.InvalidTextRepresentation, "malformed record literal: %q", s)
	}
	body := t[1 : len(t)-1]
	var out []datum.Datum
	var cur strings.Builder
	quoted, wasQuoted := false, false
	flush := func() {
		if cur.Len() == 0 && !wasQuoted {
			out = append(out, datum.Null)
		} else {
			out = append(out, datum.NewString(cur.String()))
		}
		cur.Reset()
		wasQuoted = false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\' && i+1 < len(body):
			i++
			cur.WriteByte(body[i])
		case c == '"' && quoted && i+1 < len(body) && body[i+1] == '"':
			i++
			cur.WriteByte('"')
		case c == '"':
			quoted = !quoted
			wasQuoted = true
		case c == ',' && !quoted:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out, nil
}

// ArrayElemType returns the element type of an array-valued expression
// when it is known (an ARRAY[...] constructor, string_to_array), else
// TypeUnknown: the elements then take the type their context wants.
func ArrayElemType(e Expr) datum.Type {
	switch x := e.(type) {
	case *Call:
		switch x.Fn {
		case "array":
			if len(x.Args) > 0 {
				return x.Args[0].Type()
			}
		case "string_to_array":
			return datum.TypeText
		case "array_append", "array_prepend", "array_cat":
			for _, a := range x.Args {
				if t := ArrayElemType(a); t != datum.TypeUnknown {
					return t
				}
			}
		}
	case *Cast:
		return ArrayElemType(x.Arg)
	}
	return datum.TypeUnknown
}

// isArrayArg reports whether an expression of type t can be an array
// (arrays are text).
func isArrayArg(t datum.Type) bool {
	return t == datum.TypeUnknown || isStringType(t)
}

// arrayArg coerces an array argument to TEXT.
func arrayArg(fn string, e Expr) (Expr, error) {
	if !isArrayArg(e.Type()) {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "%s: argument of type %s is not an array", fn, pgTypeName(e.Type()))
	}
	if e.Type() == datum.TypeUnknown {
		return coerce(e, datum.TypeText)
	}
	return e, nil
}

// intArg coerces an integer argument (subscript, dimension) to BIGINT.
func intArg(fn string, e Expr) (Expr, error) {
	t := e.Type()
	if t != datum.TypeUnknown && !isIntType(t) {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "%s: argument must be an integer, not type %s", fn, pgTypeName(t))
	}
	return coerce(e, datum.TypeInt8)
}

// parseArrayCached parses an array argument, once when it is constant.
func parseArrayCached(c *compiler, arg Expr) (func(row datum.Row) (Array, bool, error), error) {
	if k, ok := arg.(*Const); ok {
		if k.Val.IsNull() {
			return func(datum.Row) (Array, bool, error) { return Array{}, true, nil }, nil
		}
		a, err := ParseArray(k.Val.Str())
		if err != nil {
			return nil, err
		}
		return func(datum.Row) (Array, bool, error) { return a, false, nil }, nil
	}
	ev, err := c.compile(arg)
	if err != nil {
		return nil, err
	}
	return func(row datum.Row) (Array, bool, error) {
		d, err := ev(row)
		if err != nil || d.IsNull() {
			return Array{}, d.IsNull(), err
		}
		a, err := ParseArray(d.Str())
		return a, false, err
	}, nil
}

// elemAs converts an element (a string or NULL) to type t.
func elemAs(v datum.Datum, t datum.Type) (datum.Datum, error) {
	if v.IsNull() || t == datum.TypeUnknown || t.Kind() == datum.KindString {
		return v, nil
	}
	return parseAs(t, v.Str())
}

// anyOps are the operators usable with ANY/ALL (array).
var anyOps = []string{opEq, opNe, opLt, opLe, opGt, opGe, opLike, opNotLike, opILike, opNotILike,
	opRegex, opNotRegex, opRegexI, opNotRegexI}

// IsArrayOp reports whether fn is an "op ANY"/"op ALL" call name.
func IsArrayOp(fn string) bool {
	_, _, ok := splitArrayOp(fn)
	return ok
}

func splitArrayOp(fn string) (op string, all bool, ok bool) {
	switch {
	case strings.HasSuffix(fn, " any"):
		op = strings.TrimSuffix(fn, " any")
	case strings.HasSuffix(fn, " some"):
		op = strings.TrimSuffix(fn, " some")
	case strings.HasSuffix(fn, " all"):
		op, all = strings.TrimSuffix(fn, " all"), true
	default:
		return "", false, false
	}
	for _, o := range anyOps {
		if o == op {
			return op, all, true
		}
	}
	return "", false, false
}

func arrayBuiltins() map[string]*FuncDef {
	m := map[string]*FuncDef{
		"array": {
			keep: true, // ARRAY[1, 2][1] knows its element type
			check: func(name string, args []Expr) (Expr, error) {
				if len(args) == 0 {
					return &Call{Fn: name, Typ: datum.TypeText}, nil
				}
				ct, b1, b2, ok := commonType(argTypes(args))
				if !ok {
					return nil, pgerr.New(pgerr.DatatypeMismatch, "ARRAY types %s and %s cannot be matched", pgTypeName(b1), pgTypeName(b2))
				}
				out, err := coerceArgs(args, repeatType(ct, len(args)))
				if err != nil {
					return nil, err
				}
				return &Call{Fn: name, Args: out, Typ: datum.TypeText}, nil
			},
			compile: func(c *compiler, call *Call) (Evaluator, error) {
				evs, err := c.compileAll(call.Args)
				if err != nil {
					return nil, err
				}
				t := datum.TypeText
				if len(call.Args) > 0 {
					t = call.Args[0].Type()
				}
				return func(row datum.Row) (datum.Datum, error) {
					vals := make([]datum.Datum, len(evs))
					for i, ev := range evs {
						v, err := ev(row)
						if err != nil {
							return datum.Null, err
						}
						vals[i] = v
					}
					return datum.NewString(FormatArray(vals, t)), nil
				}, nil
			},
		},
		"array_element": {
			check: func(name string, args []Expr) (Expr, error) {
				if len(args) != 2 {
					return nil, errNoFunction(name, argTypes(args))
				}
				arr, err := arrayArg("array subscript", args[0])
				if err != nil {
					return nil, err
				}
				idx, err := intArg("array subscript", args[1])
				if err != nil {
					return nil, err
				}
				return &Call{Fn: name, Args: []Expr{arr, idx}, Typ: ArrayElemType(args[0])}, nil
			},
			compile: func(c *compiler, call *Call) (Evaluator, error) {
				arr, err := parseArrayCached(c, call.Args[0])
				if err != nil {
					return nil, err
				}
				idx, err := c.compile(call.Args[1])
				if err != nil {
					return nil, err
				}
				t := call.Typ
				return func(row datum.Row) (datum.Datum, error) {
					a, null, err := arr(row)
					if err != nil || null {
						return datum.Null, err
					}
					i, err := idx(row)
					if err != nil || i.IsNull() {
						return datum.Null, err
					}
					return elemAs(a.At(i.Int()), t)
				}, nil
			},
		},
		"record_field": {
			check: func(name string, args []Expr) (Expr, error) {
				if len(args) != 2 {
					return nil, errNoFunction(name, argTypes(args))
				}
				rec, err := arrayArg("record field", args[0])
				if err != nil {
					return nil, err
				}
				idx, err := intArg("record field", args[1])
				if err != nil {
					return nil, err
				}
				return &Call{Fn: name, Args: []Expr{rec, idx}, Typ: datum.TypeUnknown}, nil
			},
			compile: func(c *compiler, call *Call) (Evaluator, error) {
				evs, err := c.compileAll(call.Args)
				if err != nil {
					return nil, err
				}
				return func(row datum.Row) (datum.Datum, error) {
					r, err := evs[0](row)
					if err != nil || r.IsNull() {
						return datum.Null, err
					}
					i, err := evs[1](row)
					if err != nil || i.IsNull() {
						return datum.Null, err
					}
					fields, err := ParseRecord(r.Str())
					if err != nil {
						return datum.Null, err
					}
					if n := i.Int(); n >= 1 && n <= int64(len(fields)) {
						return fields[n-1], nil
					}
					return datum.Null, nil
				}, nil
			},
		},
		"row": {
			check: func(name string, args []Expr) (Expr, error) {
				out := make([]Expr, len(args))
				for i, a := range args {
					var err error
					if out[i], err = coerce(a, typeAny); err != nil {
						return nil, err
					}
				}
				return &Call{Fn: name, Args: out, Typ: datum.TypeText}, nil
			},
			compile: func(c *compiler, call *Call) (Evaluator, error) {
				evs, err := c.compileAll(call.Args)
				if err != nil {
					return nil, err
				}
				types := argTypes(call.Args)
				return func(row datum.Row) (datum.Datum, error) {
					vals := make([]datum.Datum, len(evs))
					for i, ev := range evs {
						v, err := ev(row)
						if err != nil {
							return datum.Null, err
						}
						vals[i] = v
					}
					return datum.NewString(FormatRecord(vals, types)), nil
				}, nil
			},
		},
		"array_upper":  arrayDimFunc(func(a Array) (int64, bool) { return int64(a.Upper()), len(a.Elems) > 0 }),
		"array_lower":  arrayDimFunc(func(a Array) (int64, bool) { return int64(a.Lower), len(a.Elems) > 0 }),
		"array_length": arrayDimFunc(func(a Array) (int64, bool) { return int64(len(a.Elems)), len(a.Elems) > 0 }),
		"cardinality": fdef(ov1(tText, tInt4, func(x datum.Datum) (datum.Datum, error) {
			a, err := ParseArray(x.Str())
			if err != nil {
				return datum.Null, err
			}
			return i64(int64(len(a.Elems)))
		})),
		"array_to_string": fdef(
			ov2(tText, tText, tText, func(x, sep datum.Datum) (datum.Datum, error) {
				return arrayToString(x, sep, datum.Null)
			}),
			Overload{Args: []datum.Type{tText, tText, tText}, Result: tText, CalledOnNull: true,
				f3: func(x, sep, null datum.Datum) (datum.Datum, error) {
					if x.IsNull() || sep.IsNull() {
						return datum.Null, nil
					}
					return arrayToString(x, sep, null)
				}}),
		"string_to_array": fdef(
			Overload{Args: []datum.Type{tText, tText}, Result: tText, CalledOnNull: true,
				f2: func(s, sep datum.Datum) (datum.Datum, error) { return stringToArray(s, sep, datum.Null) }},
			Overload{Args: []datum.Type{tText, tText, tText}, Result: tText, CalledOnNull: true,
				f3: func(s, sep, null datum.Datum) (datum.Datum, error) { return stringToArray(s, sep, null) }}),
		"array_remove": fdef(Overload{Args: []datum.Type{tText, tText}, Result: tText, CalledOnNull: true,
			f2: func(x, v datum.Datum) (datum.Datum, error) {
				if x.IsNull() {
					return datum.Null, nil
				}
				a, err := ParseArray(x.Str())
				if err != nil {
					return datum.Null, err
				}
				var keep []datum.Datum
				for _, e := range a.Elems {
					if e.IsNull() && v.IsNull() || !e.IsNull() && !v.IsNull() && e.Str() == v.Format() {
						continue
					}
					keep = append(keep, e)
				}
				return datum.NewString(FormatArray(keep, tText)), nil
			}}),
		"array_append": fdef(Overload{Args: []datum.Type{tText, tText}, Result: tText, CalledOnNull: true,
			f2: func(x, v datum.Datum) (datum.Datum, error) { return arrayConcat(x, v, false) }}),
		"array_prepend": fdef(Overload{Args: []datum.Type{tText, tText}, Result: tText, CalledOnNull: true,
			f2: func(v, x datum.Datum) (datum.Datum, error) { return arrayConcat(x, v, true) }}),
		"array_position": fdef(ov2(tText, tText, tInt4, func(x, v datum.Datum) (datum.Datum, error) {
			a, err := ParseArray(x.Str())
			if err != nil {
				return datum.Null, err
			}
			for i, e := range a.Elems {
				if !e.IsNull() && e.Str() == v.Format() {
					return i64(int64(a.Lower + i))
				}
			}
			return datum.Null, nil
		})),
	}
	for _, op := range anyOps {
		for _, q := range []string{"any", "some", "all"} {
			m[op+" "+q] = arrayOpDef()
		}
	}
	return m
}

// arrayDimFunc is array_upper/array_lower/array_length(arr, dim): NULL for
// an empty array or a dimension other than 1.
func arrayDimFunc(f func(Array) (int64, bool)) *FuncDef {
	return fdef(ov2(tText, tInt4, tInt4, func(x, dim datum.Datum) (datum.Datum, error) {
		a, err := ParseArray(x.Str())
		if err != nil {
			return datum.Null, err
		}
		v, ok := f(a)
		if !ok || dim.Int() != 1 {
			return datum.Null, nil
		}
		return i64(v)
	}))
}

// arrayConcat is array_append (v after x's elements) and array_prepend
// (before them); a NULL array is an empty one.
func arrayConcat(x, v datum.Datum, front bool) (datum.Datum, error) {
	var elems []datum.Datum
	if !x.IsNull() {
		a, err := ParseArray(x.Str())
		if err != nil {
			return datum.Null, err
		}
		elems = a.Elems
	}
	e := datum.Null
	if !v.IsNull() {
		e = datum.NewString(v.Format())
	}
	if front {
		elems = append([]datum.Datum{e}, elems...)
	} else {
		elems = append(elems, e)
	}
	return datum.NewString(FormatArray(elems, tText)), nil
}

func arrayToString(x, sep, null datum.Datum) (datum.Datum, error) {
	a, err := ParseArray(x.Str())
	if err != nil {
		return datum.Null, err
	}
	parts := make([]string, 0, len(a.Elems))
	for _, e := range a.Elems {
		switch {
		case !e.IsNull():
			parts = append(parts, e.Str())
		case !null.IsNull():
			parts = append(parts, null.Str())
		}
	}
	return datum.NewString(strings.Join(parts, sep.Str())), nil
}

func stringToArray(s, sep, null datum.Datum) (datum.Datum, error) {
	if s.IsNull() {
		return datum.Null, nil
	}
	var parts []string
	switch {
	case s.Str() == "":
	case sep.IsNull():
		for _, r := range s.Str() {
			parts = append(parts, string(r))
		}
	case sep.Str() == "":
		parts = []string{s.Str()}
	default:
		parts = strings.Split(s.Str(), sep.Str())
	}
	elems := make([]datum.Datum, len(parts))
	for i, p := range parts {
		if !null.IsNull() && p == null.Str() {
			elems[i] = datum.Null
		} else {
			elems[i] = datum.NewString(p)
		}
	}
	return datum.NewString(FormatArray(elems, datum.TypeText)), nil
}

// arrayOpDef is x op ANY (arr) / x op ALL (arr): x is compared with each
// element as op would compare two values of x's type (elements are read as
// that type). ANY is true if some comparison is, else NULL if x or some
// element is NULL, else false; ALL is false if some comparison is, else
// NULL if x or some element is NULL, else true (true for an empty array).
func arrayOpDef() *FuncDef {
	return &FuncDef{
		check: func(name string, args []Expr) (Expr, error) {
			op, _, _ := splitArrayOp(name)
			if len(args) != 2 {
				return nil, errNoFunction(name, argTypes(args))
			}
			if !isArrayArg(args[1].Type()) {
				return nil, pgerr.New(pgerr.WrongObjectType, "op ANY/ALL (array) requires array on right side")
			}
			arr, err := arrayArg(name, args[1])
			if err != nil {
				return nil, err
			}
			x := args[0]
			elem := ArrayElemType(args[1])
			if x.Type() == datum.TypeUnknown {
				t := elem
				if t == datum.TypeUnknown {
					t = datum.TypeText
				}
				if x, err = coerce(x, t); err != nil {
					return nil, err
				}
			}
			probe, err := resolveOperator(op, []Expr{x, &Const{Val: datum.Null, Typ: datum.TypeUnknown}})
			if err != nil {
				return nil, err
			}
			pc, ok := probe.(*Call)
			if !ok || len(pc.Args) != 2 || pc.Type() != datum.TypeBool {
				return nil, errNoOperator(op, []datum.Type{x.Type(), elem})
			}
			return &Call{Fn: name, Args: []Expr{pc.Args[0], arr}, Typ: datum.TypeBool}, nil
		},
		compile: func(c *compiler, call *Call) (Evaluator, error) {
			op, all, _ := splitArrayOp(call.Fn)
			t := call.Args[0].Type()
			if t == datum.TypeUnknown {
				t = datum.TypeText
			}
			cmpExpr, err := resolveOperator(op, []Expr{&Col{Idx: 0, Typ: t}, &Col{Idx: 1, Typ: t}})
			if err != nil {
				return nil, err
			}
			cmp, err := c.compile(cmpExpr)
			if err != nil {
				return nil, err
			}
			x, err := c.compile(call.Args[0])
			if err != nil {
				return nil, err
			}
			arr, err := parseArrayCached(c, call.Args[1])
			if err != nil {
				return nil, err
			}
			return func(row datum.Row) (datum.Datum, error) {
				a, null, err := arr(row)
				if err != nil || null {
					return datum.Null, err
				}
				if len(a.Elems) == 0 {
					return datum.NewBool(all), nil
				}
				xv, err := x(row)
				if err != nil {
					return datum.Null, err
				}
				if xv.IsNull() {
					return datum.Null, nil
				}
				sawNull := false
				pair := datum.Row{xv, datum.Null}
				for _, e := range a.Elems {
					ev, err := elemAs(e, t)
					if err != nil {
						return datum.Null, err
					}
					if ev.IsNull() {
						sawNull = true
						continue
					}
					pair[1] = ev
					r, err := cmp(pair)
					if err != nil {
						return datum.Null, err
					}
					switch {
					case r.IsNull():
						sawNull = true
					case r.Bool() != all:
						return datum.NewBool(!all), nil
					}
				}
				if sawNull {
					return datum.Null, nil
				}
				return datum.NewBool(all), nil
			}, nil
		},
	}
}
