package expr

import (
	"encoding/json"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Set-returning functions: generate_series, unnest, generate_subscripts,
// information_schema._pg_expandarray, string_to_table,
// regexp_split_to_table, regexp_matches, pg_options_to_table,
// json_each[_text], json_array_elements[_text] and json_object_keys. The
// binder resolves a call with ResolveSetFunc (in FROM, or in a select
// list, where several calls run in lockstep); the batch evaluator runs it
// with SetCall.Run over the arguments' values of each input row. Like
// PostgreSQL's, they are strict: a NULL argument gives no rows. WITH
// ORDINALITY adds a row number (SetCall.WithOrdinality), and a scalar
// function in FROM is a set of one row (ScalarSetCall).

// SetCol is an output column of a set-returning function.
type SetCol struct {
	Name string
	Typ  datum.Type
}

// SetCall is a resolved call of a set-returning function. It is plain
// data; Run computes its rows.
type SetCall struct {
	Fn   string // canonical name
	Args []Expr // typed, coerced to the chosen signature
	// Cols are the output columns: one for a function returning a scalar
	// (named after the function), several for one returning a record
	// (_pg_expandarray: x and n), then "ordinality" WITH ORDINALITY.
	Cols []SetCol
	// Ordinality adds a last column numbering the rows from 1 (WITH
	// ORDINALITY).
	Ordinality bool
}

// WithOrdinality makes the call number its rows in a last bigint column
// named "ordinality" (FROM f(...) WITH ORDINALITY).
func (s *SetCall) WithOrdinality() {
	if !s.Ordinality {
		s.Ordinality = true
		s.Cols = append(s.Cols, SetCol{Name: "ordinality", Typ: datum.TypeInt8})
	}
}

// ScalarSetCall makes a call of a scalar function in FROM (FROM
// lower('A') AS l): a set of one row holding the value, NULL included.
// e is the bound call and name its column name.
func ScalarSetCall(name string, e Expr) *SetCall {
	return &SetCall{Fn: scalarSetFunc, Args: []Expr{e}, Cols: []SetCol{{Name: name, Typ: e.Type()}}}
}

// scalarSetFunc is the Fn of ScalarSetCall's calls.
const scalarSetFunc = "__scalar"

// String prints the call.
func (s *SetCall) String() string {
	if s.Fn == scalarSetFunc {
		return s.Args[0].String()
	}
	if s.Ordinality {
		return s.Fn + "(" + joinExprs(s.Args) + ") WITH ORDINALITY"
	}
	return s.Fn + "(" + joinExprs(s.Args) + ")"
}

// Composite reports whether the function returns records (several
// columns) rather than scalars.
func (s *SetCall) Composite() bool {
	n := len(s.Cols)
	if s.Ordinality {
		n--
	}
	return n > 1
}

type setFuncDef struct {
	// resolve types a call (args as written) and returns the coerced
	// arguments and output columns.
	resolve func(name string, args []Expr) ([]Expr, []SetCol, error)
	run     func(call *SetCall, args []datum.Datum, emit func(datum.Row) error) error
}

var setFuncs = map[string]*setFuncDef{
	"generate_series":                    {resolve: resolveSeries, run: runSeries},
	"unnest":                             {resolve: resolveUnnest, run: runUnnest},
	"generate_subscripts":                {resolve: resolveSubscripts, run: runSubscripts},
	"information_schema._pg_expandarray": {resolve: resolveExpand, run: runExpand},
	"string_to_table":                    {resolve: resolveStringToTable, run: runStringToTable},
	"regexp_split_to_table":              {resolve: resolveRegexpSplit, run: runRegexpSplit},
	"regexp_matches":                     {resolve: resolveRegexpMatches, run: runRegexpMatches},
	"pg_options_to_table":                {resolve: resolveOptions, run: runOptions},
}

func init() {
	for _, f := range []string{"array_elements", "array_elements_text", "each", "each_text", "object_keys"} {
		setFuncs["json_"+f] = &setFuncDef{resolve: resolveJSONSet, run: runJSONSet}
	}
}

func canonicalSetFunc(name string) string {
	name = strings.ToLower(name)
	if n := strings.TrimPrefix(name, "pg_catalog."); n != name {
		return n
	}
	if name == "_pg_expandarray" {
		return "information_schema._pg_expandarray"
	}
	return name
}

// IsSetFunc reports whether name (any case, possibly schema-qualified) is
// a set-returning function.
func IsSetFunc(name string) bool {
	_, ok := setFuncs[canonicalSetFunc(name)]
	return ok
}

// ResolveSetFunc types a call of the set-returning function name.
func ResolveSetFunc(name string, args []Expr) (*SetCall, error) {
	fn := canonicalSetFunc(name)
	def, ok := setFuncs[fn]
	if !ok {
		return nil, errNoFunction(name, argTypes(args))
	}
	out, cols, err := def.resolve(fn, args)
	if err != nil {
		return nil, err
	}
	return &SetCall{Fn: fn, Args: out, Cols: cols}, nil
}

// Run computes the call's rows for argument values args (of the types of
// s.Args), passing each (one value per column) to emit. An error from
// emit stops it and is returned.
func (s *SetCall) Run(args []datum.Datum, emit func(datum.Row) error) error {
	if s.Ordinality {
		n := int64(0)
		inner := emit
		emit = func(r datum.Row) error {
			n++
			return inner(append(r[:len(r):len(r)], datum.NewInt(n)))
		}
	}
	if s.Fn == scalarSetFunc {
		return emit(datum.Row{args[0]})
	}
	if s.IsMultiUnnest() {
		// unnest(a, b, ...) reads a NULL array as an empty one.
		args = append([]datum.Datum(nil), args...)
		for i, a := range args {
			if a.IsNull() {
				args[i] = datum.NewString("{}")
			}
		}
	}
	for _, a := range args {
		if a.IsNull() {
			return nil
		}
	}
	def, ok := setFuncs[s.Fn]
	if !ok {
		return pgerr.New(pgerr.InternalError, "expr: unknown set-returning function %s", s.Fn)
	}
	return def.run(s, args, emit)
}

var seriesOverloads = func() []Overload {
	var ovs []Overload
	for _, t := range []datum.Type{datum.TypeInt4, datum.TypeInt8, datum.TypeNumeric} {
		ovs = append(ovs, Overload{Args: []datum.Type{t, t}, Result: t}, Overload{Args: []datum.Type{t, t, t}, Result: t})
	}
	for _, t := range []datum.Type{datum.TypeTimestamp, datum.TypeTimestampTZ} {
		ovs = append(ovs, Overload{Args: []datum.Type{t, t, datum.TypeInterval}, Result: t})
	}
	return ovs
}()

func resolveSeries(name string, args []Expr) ([]Expr, []SetCol, error) {
	ts := argTypes(args)
	i, params, st := pickOverload(seriesOverloads, ts, false)
	switch st {
	case pickNone:
		return nil, nil, errNoFunction(name, ts)
	case pickAmbiguous:
		return nil, nil, errAmbiguousFunction(name, ts)
	}
	out, err := coerceArgs(args, params)
	if err != nil {
		return nil, nil, err
	}
	return out, []SetCol{{Name: name, Typ: seriesOverloads[i].Result}}, nil
}

func errZeroStep() error {
	return pgerr.New(pgerr.InvalidParameterValue, "step size cannot equal zero")
}

func runSeries(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	start, stop := args[0], args[1]
	switch start.Kind() {
	case datum.KindInt:
		step := int64(1)
		if len(args) == 3 {
			step = args[2].Int()
		}
		if step == 0 {
			return errZeroStep()
		}
		a, b := start.Int(), stop.Int()
		for v := a; (step > 0 && v <= b) || (step < 0 && v >= b); v += step {
			if err := emit(datum.Row{datum.NewInt(v)}); err != nil {
				return err
			}
			if (step > 0 && v > math.MaxInt64-step) || (step < 0 && v < math.MinInt64-step) {
				break
			}
		}
	case datum.KindFloat:
		step := 1.0
		if len(args) == 3 {
			step = args[2].Float()
		}
		if step == 0 {
			return errZeroStep()
		}
		a, b := start.Float(), stop.Float()
		for i := 0; ; i++ {
			v := numericNorm(a + float64(i)*step)
			if (step > 0 && v > b) || (step < 0 && v < b) {
				break
			}
			if err := emit(datum.Row{datum.NewFloat(v)}); err != nil {
				return err
			}
		}
	case datum.KindTimestamp:
		iv := args[2]
		if iv.Months() == 0 && iv.Micros() == 0 {
			return errZeroStep()
		}
		a, b := start.Micros(), stop.Micros()
		forward := iv.Months() > 0 || (iv.Months() == 0 && iv.Micros() > 0)
		v := a
		for i := int64(1); (forward && v <= b) || (!forward && v >= b); i++ {
			if err := emit(datum.Row{datum.NewTimestamp(v)}); err != nil {
				return err
			}
			next, err := addInterval(a, datum.NewInterval(iv.Months()*int32(i), iv.Micros()*i))
			if err != nil {
				return err
			}
			if next == v {
				break
			}
			v = next
		}
	default:
		return pgerr.New(pgerr.InternalError, "expr: generate_series of %s", start.Kind())
	}
	return nil
}

// addInterval adds an interval to a timestamp (microseconds).
func addInterval(ts int64, iv datum.Datum) (int64, error) {
	call := &Call{Fn: opAdd, Args: []Expr{
		&Const{Val: datum.NewTimestamp(ts), Typ: datum.TypeTimestamp},
		&Const{Val: iv, Typ: datum.TypeInterval},
	}, Typ: datum.TypeTimestamp}
	ev, err := (&compiler{}).compile(call)
	if err != nil {
		return 0, err
	}
	v, err := ev(nil)
	if err != nil {
		return 0, err
	}
	return v.Micros(), nil
}

// resolveUnnest types unnest(a [, b ...]): with several arrays (only in
// FROM, as in PostgreSQL) one column per array, zipped.
func resolveUnnest(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) == 0 {
		return nil, nil, errNoFunction(name, nil)
	}
	out := make([]Expr, len(args))
	cols := make([]SetCol, len(args))
	for i, a := range args {
		arr, err := arrayArg(name, a)
		if err != nil {
			return nil, nil, err
		}
		out[i], cols[i] = arr, SetCol{Name: name, Typ: ArrayElemType(a)}
	}
	return out, cols, nil
}

// IsMultiUnnest reports whether call is unnest of several arrays, which
// PostgreSQL allows in FROM only.
func (s *SetCall) IsMultiUnnest() bool { return s.Fn == "unnest" && len(s.Args) > 1 }

// runUnnest emits the arrays' elements side by side; a shorter array is
// padded with NULLs.
func runUnnest(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	arrays := make([]Array, len(args))
	longest := 0
	for i, x := range args {
		a, err := ParseArray(x.Str())
		if err != nil {
			return err
		}
		arrays[i] = a
		longest = max(longest, len(a.Elems))
	}
	for k := 0; k < longest; k++ {
		row := make(datum.Row, len(arrays))
		for i, a := range arrays {
			if k >= len(a.Elems) {
				row[i] = datum.Null
				continue
			}
			v, err := elemAs(a.Elems[k], s.Cols[i].Typ)
			if err != nil {
				return err
			}
			row[i] = v
		}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}

func resolveSubscripts(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 2 && len(args) != 3 {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	arr, err := arrayArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	dim, err := coerce(args[1], datum.TypeInt4)
	if err != nil || !isIntType(dim.Type()) {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	out := []Expr{arr, dim}
	if len(args) == 3 {
		rev, err := coerce(args[2], datum.TypeBool)
		if err != nil || rev.Type() != datum.TypeBool {
			return nil, nil, errNoFunction(name, argTypes(args))
		}
		out = append(out, rev)
	}
	return out, []SetCol{{Name: name, Typ: datum.TypeInt4}}, nil
}

func runSubscripts(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	a, err := ParseArray(args[0].Str())
	if err != nil {
		return err
	}
	if args[1].Int() != 1 || len(a.Elems) == 0 {
		return nil
	}
	rev := len(args) == 3 && args[2].Bool()
	for i := range a.Elems {
		v := a.Lower + i
		if rev {
			v = a.Upper() - i
		}
		if err := emit(datum.Row{datum.NewInt(int64(v))}); err != nil {
			return err
		}
	}
	return nil
}

func resolveExpand(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 1 {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	arr, err := arrayArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	return []Expr{arr}, []SetCol{{Name: "x", Typ: ArrayElemType(args[0])}, {Name: "n", Typ: datum.TypeInt4}}, nil
}

func runExpand(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	a, err := ParseArray(args[0].Str())
	if err != nil {
		return err
	}
	t := s.Cols[0].Typ
	for i, e := range a.Elems {
		v, err := elemAs(e, t)
		if err != nil {
			return err
		}
		if err := emit(datum.Row{v, datum.NewInt(int64(i + 1))}); err != nil {
			return err
		}
	}
	return nil
}

// textArgs coerces the arguments of a function of n to m text parameters.
func textArgs(name string, args []Expr, n, m int) ([]Expr, error) {
	if len(args) < n || len(args) > m {
		return nil, errNoFunction(name, argTypes(args))
	}
	out := make([]Expr, len(args))
	for i, a := range args {
		c, err := coerce(a, datum.TypeText)
		if err != nil || c.Type().Kind() != datum.KindString {
			return nil, errNoFunction(name, argTypes(args))
		}
		out[i] = c
	}
	return out, nil
}

func resolveStringToTable(name string, args []Expr) ([]Expr, []SetCol, error) {
	out, err := textArgs(name, args, 2, 3)
	return out, []SetCol{{Name: name, Typ: datum.TypeText}}, err
}

// runStringToTable is string_to_table(s, sep [, null]): string_to_array's
// elements as rows.
func runStringToTable(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	null := datum.Null
	if len(args) == 3 {
		null = args[2]
	}
	arr, err := stringToArray(args[0], args[1], null)
	if err != nil || arr.IsNull() {
		return err
	}
	a, err := ParseArray(arr.Str())
	if err != nil {
		return err
	}
	for _, e := range a.Elems {
		if err := emit(datum.Row{e}); err != nil {
			return err
		}
	}
	return nil
}

func resolveRegexpSplit(name string, args []Expr) ([]Expr, []SetCol, error) {
	out, err := textArgs(name, args, 2, 3)
	return out, []SetCol{{Name: name, Typ: datum.TypeText}}, err
}

// regexFlags reads the flags argument of the regexp functions: i (case
// insensitive), c (case sensitive), g (global; regexp_matches only).
func regexFlags(args []datum.Datum, allowG bool) (ci, global bool, err error) {
	if len(args) < 3 {
		return false, false, nil
	}
	for _, f := range args[2].Str() {
		switch {
		case f == 'i':
			ci = true
		case f == 'c':
			ci = false
		case f == 'g' && allowG:
			global = true
		default:
			return false, false, pgerr.New(pgerr.InvalidParameterValue, "invalid regular expression option: \"%c\"", f)
		}
	}
	return ci, global, nil
}

// runRegexpSplit is regexp_split_to_table(s, pattern [, flags]): the
// pieces between matches. As in PostgreSQL an empty match splits between
// characters and never makes an empty piece.
func runRegexpSplit(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	ci, _, err := regexFlags(args, false)
	if err != nil {
		return err
	}
	re, err := compileRegex(args[1].Str(), ci)
	if err != nil {
		return err
	}
	str := args[0].Str()
	start, search := 0, 0
	for search < len(str) {
		loc := re.FindStringIndex(str[search:])
		if loc == nil {
			break
		}
		m0, m1 := search+loc[0], search+loc[1]
		if m1 == m0 {
			if m0 >= len(str) {
				break
			}
			if m0 == start {
				// Empty match where the piece starts: step over one
				// character and look again.
				_, w := utf8.DecodeRuneInString(str[m0:])
				search = m0 + w
				if search >= len(str) {
					break
				}
				continue
			}
		}
		if err := emit(datum.Row{datum.NewString(str[start:m0])}); err != nil {
			return err
		}
		start, search = m1, m1
	}
	return emit(datum.Row{datum.NewString(str[start:])})
}

func resolveRegexpMatches(name string, args []Expr) ([]Expr, []SetCol, error) {
	out, err := textArgs(name, args, 2, 3)
	return out, []SetCol{{Name: name, Typ: datum.TypeText}}, err
}

// runRegexpMatches is regexp_matches(s, pattern [, flags]): each match's
// capture groups (the whole match when there are none) as a text array;
// the first match only, or every one with the g flag.
func runRegexpMatches(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	ci, global, err := regexFlags(args, true)
	if err != nil {
		return err
	}
	re, err := compileRegex(args[1].Str(), ci)
	if err != nil {
		return err
	}
	n := 1
	if global {
		n = -1
	}
	str := args[0].Str()
	for _, m := range re.FindAllStringSubmatchIndex(str, n) {
		var elems []datum.Datum
		if len(m) == 2 {
			elems = append(elems, datum.NewString(str[m[0]:m[1]]))
		}
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] < 0 {
				elems = append(elems, datum.Null)
				continue
			}
			elems = append(elems, datum.NewString(str[m[g]:m[g+1]]))
		}
		if err := emit(datum.Row{datum.NewString(FormatArray(elems, datum.TypeText))}); err != nil {
			return err
		}
	}
	return nil
}

func resolveOptions(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 1 {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	arr, err := arrayArg(name, args[0])
	if err != nil {
		return nil, nil, err
	}
	return []Expr{arr}, []SetCol{{Name: "option_name", Typ: datum.TypeText}, {Name: "option_value", Typ: datum.TypeText}}, nil
}

// runOptions is pg_options_to_table(options): each "name=value" element
// of an options array as a row.
func runOptions(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	a, err := ParseArray(args[0].Str())
	if err != nil {
		return err
	}
	for _, e := range a.Elems {
		if e.IsNull() {
			continue
		}
		name, value, ok := strings.Cut(e.Str(), "=")
		v := datum.NewString(value)
		if !ok {
			v = datum.Null
		}
		if err := emit(datum.Row{datum.NewString(name), v}); err != nil {
			return err
		}
	}
	return nil
}

// JSON set-returning functions: json_array_elements[_text], json_each[_text]
// and json_object_keys. Values keep their text as written, as PostgreSQL's
// json does. (The jsonb_ forms, which sort keys and reformat values, are
// not here.)

func resolveJSONSet(name string, args []Expr) ([]Expr, []SetCol, error) {
	if len(args) != 1 {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	a, err := coerce(args[0], datum.TypeJSON)
	if err != nil || a.Type().Kind() != datum.KindString {
		return nil, nil, errNoFunction(name, argTypes(args))
	}
	valType := datum.TypeJSON
	if strings.HasSuffix(name, "_text") {
		valType = datum.TypeText
	}
	switch strings.TrimPrefix(name, "json_") {
	case "each", "each_text":
		return []Expr{a}, []SetCol{{Name: "key", Typ: datum.TypeText}, {Name: "value", Typ: valType}}, nil
	case "object_keys":
		return []Expr{a}, []SetCol{{Name: name, Typ: datum.TypeText}}, nil
	}
	return []Expr{a}, []SetCol{{Name: "value", Typ: valType}}, nil
}

func errJSON(err error) error {
	return pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type json").WithDetail("%s", err.Error())
}

// jsonText is a JSON value as the _text functions return it: a string's
// contents, NULL for null, else the value's text.
func jsonText(raw json.RawMessage) datum.Datum {
	switch {
	case string(raw) == "null":
		return datum.Null
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return datum.NewString(s)
		}
	}
	return datum.NewString(string(raw))
}

func runJSONSet(s *SetCall, args []datum.Datum, emit func(datum.Row) error) error {
	text := strings.HasSuffix(s.Fn, "_text")
	val := func(raw json.RawMessage) datum.Datum {
		if text {
			return jsonText(raw)
		}
		return datum.NewString(string(raw))
	}
	if !json.Valid([]byte(args[0].Str())) {
		return pgerr.New(pgerr.InvalidTextRepresentation, "invalid input syntax for type json")
	}
	dec := json.NewDecoder(strings.NewReader(args[0].Str()))
	tok, err := dec.Token()
	if err != nil {
		return errJSON(err)
	}
	kind := strings.TrimPrefix(s.Fn, "json_")
	wantObject := kind != "array_elements" && kind != "array_elements_text"
	d, _ := tok.(json.Delim)
	what := map[json.Delim]string{'[': "an array", '{': "an object"}[d]
	if what == "" {
		what = "a scalar"
	}
	switch {
	case kind == "object_keys" && d != '{':
		return pgerr.New(pgerr.InvalidParameterValue, "cannot call %s on %s", s.Fn, what)
	case wantObject && d != '{':
		if d == '[' {
			return pgerr.New(pgerr.InvalidParameterValue, "cannot deconstruct an array as an object")
		}
		return pgerr.New(pgerr.InvalidParameterValue, "cannot deconstruct a scalar")
	case !wantObject && d != '[':
		if d == '{' {
			return pgerr.New(pgerr.InvalidParameterValue, "cannot call %s on a non-array", s.Fn)
		}
		return pgerr.New(pgerr.InvalidParameterValue, "cannot call %s on a scalar", s.Fn)
	}
	for dec.More() {
		var key string
		if wantObject {
			kt, err := dec.Token()
			if err != nil {
				return errJSON(err)
			}
			key, _ = kt.(string)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return errJSON(err)
		}
		var row datum.Row
		switch kind {
		case "each", "each_text":
			row = datum.Row{datum.NewString(key), val(raw)}
		case "object_keys":
			row = datum.Row{datum.NewString(key)}
		default:
			row = datum.Row{val(raw)}
		}
		if err := emit(row); err != nil {
			return err
		}
	}
	return nil
}
