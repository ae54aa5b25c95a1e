package expr

import (
	"encoding/binary"
	"math"
	"sort"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// Aggregates. Result types follow PostgreSQL except where Weir has no
// NUMERIC of its own: sum of integers is BIGINT (overflow is 22003) and avg,
// variance and standard deviation of integers and floats are DOUBLE
// (PostgreSQL gives numeric for integer inputs). sum(real) is REAL,
// sum/avg(numeric) NUMERIC, sum/avg(interval) INTERVAL, min/max the input
// type, count BIGINT.

var aggAliases = map[string]string{
	"every":    "bool_and",
	"stddev":   "stddev_samp",
	"variance": "var_samp",
}

var aggNames = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"stddev_pop": true, "stddev_samp": true, "var_pop": true, "var_samp": true,
	"bool_and": true, "bool_or": true, "string_agg": true, "array_agg": true,
}

func canonicalAgg(fn string) string {
	name := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(fn)), "pg_catalog.")
	if a, ok := aggAliases[name]; ok {
		return a
	}
	return name
}

// IsAggregate reports whether fn (any case) names an aggregate function.
func IsAggregate(fn string) bool { return aggNames[canonicalAgg(fn)] }

// ResolveAggArgs types an aggregate call with its arguments as written
// (none for count(*)): string_agg(value, delimiter) takes a constant
// delimiter (kept in AggFunc.Delim); the others take one argument (see
// ResolveAgg).
func ResolveAggArgs(fn string, args []Expr, distinct bool) (*AggFunc, error) {
	name := canonicalAgg(fn)
	if name == "string_agg" {
		if len(args) != 2 {
			return nil, errNoFunction(name, argTypes(args))
		}
		d, err := coerce(args[1], datum.TypeText)
		if err != nil {
			return nil, err
		}
		k, ok := Fold(d).(*Const)
		if !ok || (!k.Val.IsNull() && k.Val.Kind() != datum.KindString) {
			return nil, pgerr.New(pgerr.FeatureNotSupported, "the delimiter of string_agg must be a constant")
		}
		a, err := ResolveAgg(name, args[0], distinct)
		if err != nil {
			return nil, err
		}
		a.Delim = k.Val.Str()
		return a, nil
	}
	switch len(args) {
	case 0:
		return ResolveAgg(name, nil, distinct)
	case 1:
		return ResolveAgg(name, args[0], distinct)
	}
	return nil, errNoFunction(name, argTypes(args))
}

// ResolveAgg types an aggregate call. arg is nil for count(*). Errors:
// 42883 for an unknown aggregate or an argument type it does not take,
// 42725 for an untyped literal where the type cannot be inferred.
func ResolveAgg(fn string, arg Expr, distinct bool) (*AggFunc, error) {
	name := canonicalAgg(fn)
	if !aggNames[name] {
		var ts []datum.Type
		if arg != nil {
			ts = []datum.Type{arg.Type()}
		}
		return nil, errNoFunction(name, ts)
	}
	if arg == nil {
		if name != "count" {
			return nil, errNoFunction(name, nil)
		}
		if distinct {
			return nil, pgerr.New(pgerr.SyntaxError, "syntax error: count(DISTINCT *)")
		}
		return &AggFunc{Fn: name, Typ: datum.TypeInt8}, nil
	}
	t := arg.Type()
	noFunc := func() (*AggFunc, error) { return nil, errNoFunction(name, []datum.Type{t}) }
	ambiguous := func() (*AggFunc, error) { return nil, errAmbiguousFunction(name, []datum.Type{t}) }
	mk := func(a Expr, res datum.Type) (*AggFunc, error) {
		return &AggFunc{Fn: name, Arg: a, Distinct: distinct, Typ: res}, nil
	}
	switch name {
	case "count":
		a, err := coerce(arg, typeAny)
		if err != nil {
			return nil, err
		}
		return mk(a, datum.TypeInt8)
	case "sum", "avg":
		switch {
		case t == datum.TypeUnknown:
			return ambiguous()
		case t == datum.TypeInt2 || t == datum.TypeInt4 || t == datum.TypeInt8:
			if name == "sum" {
				return mk(arg, datum.TypeInt8)
			}
			return mk(arg, datum.TypeFloat8)
		case t == datum.TypeFloat4:
			if name == "sum" {
				return mk(arg, datum.TypeFloat4)
			}
			return mk(arg, datum.TypeFloat8)
		case t == datum.TypeFloat8 || t == datum.TypeNumeric || t == datum.TypeInterval:
			return mk(arg, t)
		}
		return noFunc()
	case "min", "max":
		if t == datum.TypeUnknown {
			a, err := coerce(arg, datum.TypeText)
			if err != nil {
				return nil, err
			}
			return mk(a, datum.TypeText)
		}
		switch t {
		case datum.TypeBool, datum.TypeJSON, datum.TypeUUID, datum.TypeBytea:
			return noFunc()
		}
		if !comparable(t) {
			return noFunc()
		}
		return mk(arg, t)
	case "stddev_pop", "stddev_samp", "var_pop", "var_samp":
		if t == datum.TypeUnknown {
			return ambiguous()
		}
		if numRank(t) == 0 {
			return noFunc()
		}
		return mk(arg, datum.TypeFloat8)
	case "string_agg":
		if t != datum.TypeUnknown && !isStringType(t) && t != datum.TypeBytea {
			return noFunc()
		}
		a, err := coerce(arg, datum.TypeText)
		if err != nil {
			return nil, err
		}
		return mk(a, datum.TypeText)
	case "array_agg":
		a, err := coerce(arg, typeAny)
		if err != nil {
			return nil, err
		}
		return mk(a, datum.TypeText)
	case "bool_and", "bool_or":
		if t == datum.TypeUnknown {
			a, err := coerce(arg, datum.TypeBool)
			if err != nil {
				return nil, err
			}
			return mk(a, datum.TypeBool)
		}
		if t != datum.TypeBool {
			return noFunc()
		}
		return mk(arg, datum.TypeBool)
	}
	return noFunc()
}

// Acc accumulates one aggregate over the rows of one group. It is not safe
// for concurrent use. Partial accumulators of the same AggFunc merge
// (combiner lifting: aggregate before a shuffle, merge after).
//
// Add and Merge return an error only for sum overflow (22003) and interval
// overflow; the state is unchanged when they do.
type Acc interface {
	// Add folds in one input value; NULL is ignored (count(*) is given any
	// non-NULL value per row).
	Add(v datum.Datum) error
	// Merge folds in a partial accumulator of the same AggFunc.
	Merge(o Acc) error
	// Result is the SQL result: count of no rows is 0, the others NULL;
	// var_samp/stddev_samp need two rows.
	Result() datum.Datum
	// Append appends the state's encoding to b.
	Append(b []byte) []byte
	// Decode replaces the state with one encoded by Append and returns the
	// rest of b.
	Decode(b []byte) ([]byte, error)
}

type aggOp uint8

const (
	aggCountStar aggOp = iota
	aggCount
	aggSumInt
	aggSumFloat
	aggSumInterval
	aggAvgFloat
	aggAvgInterval
	aggMin
	aggMax
	aggVarPop
	aggVarSamp
	aggStddevPop
	aggStddevSamp
	aggBoolAnd
	aggBoolOr
	aggStringAgg
	aggArrayAgg
)

// aggKernel is how one AggFunc accumulates.
type aggKernel struct {
	op       aggOp
	distinct bool
	numeric  bool       // NUMERIC input: sum and avg are normalized like NUMERIC arithmetic
	delim    string     // string_agg's delimiter
	elem     datum.Type // array_agg's element type
}

func newKernel(a *AggFunc) aggKernel {
	name := canonicalAgg(a.Fn)
	var t datum.Type
	if a.Arg != nil {
		t = a.Arg.Type()
	}
	k := t.Kind()
	var op aggOp
	switch name {
	case "count":
		op = aggCount
		if a.Arg == nil {
			op = aggCountStar
		}
	case "sum":
		switch k {
		case datum.KindInt:
			op = aggSumInt
		case datum.KindInterval:
			op = aggSumInterval
		default:
			op = aggSumFloat
		}
	case "avg":
		op = aggAvgFloat
		if k == datum.KindInterval {
			op = aggAvgInterval
		}
	case "min":
		op = aggMin
	case "max":
		op = aggMax
	case "var_pop":
		op = aggVarPop
	case "var_samp":
		op = aggVarSamp
	case "stddev_pop":
		op = aggStddevPop
	case "stddev_samp":
		op = aggStddevSamp
	case "bool_and":
		op = aggBoolAnd
	case "bool_or":
		op = aggBoolOr
	case "string_agg":
		op = aggStringAgg
	case "array_agg":
		op = aggArrayAgg
	default:
		panic("expr: unknown aggregate " + a.Fn)
	}
	distinct := a.Distinct
	switch op {
	case aggCountStar, aggMin, aggMax, aggBoolAnd, aggBoolOr:
		distinct = false // DISTINCT does not change these
	}
	return aggKernel{op: op, distinct: distinct, numeric: t == datum.TypeNumeric, delim: a.Delim, elem: t}
}

// accSlot is the state of one aggregate in one group. Fields by op:
// n counts non-NULL inputs (all ops); i is the integer sum or the boolean;
// f and c are a compensated float sum (Neumaier) or Welford's mean and M2;
// d is min/max or the interval sum; set holds DISTINCT values' key
// encodings (the other fields then accumulate each distinct value once).
type accSlot struct {
	n   int64
	i   int64
	f   float64
	c   float64
	d   datum.Datum
	set map[string]struct{}
}

func neumaier(sum, comp *float64, x float64) {
	t := *sum + x
	if math.Abs(*sum) >= math.Abs(x) {
		*comp += (*sum - t) + x
	} else {
		*comp += (x - t) + *sum
	}
	*sum = t
}

func (k aggKernel) add(s *accSlot, v datum.Datum) error {
	if v.IsNull() {
		if k.op == aggArrayAgg && !k.distinct {
			// array_agg keeps NULLs.
			return k.addArrayElem(s, "NULL")
		}
		return nil
	}
	if k.op == aggArrayAgg && !k.distinct {
		var b strings.Builder
		writeArrayElem(&b, elemText(v, k.elem))
		return k.addArrayElem(s, b.String())
	}
	if k.distinct {
		v = normalizeDistinct(v)
		var buf [32]byte
		key := datum.AppendKey(buf[:0], v)
		if _, dup := s.set[string(key)]; dup {
			return nil
		}
		if err := addValue(k, s, v); err != nil {
			return err
		}
		if s.set == nil {
			s.set = make(map[string]struct{})
		}
		s.set[string(key)] = struct{}{}
		return nil
	}
	return addValue(k, s, v)
}

// addArrayElem appends an element's text to array_agg's state: the
// elements so far, comma-separated, in s.d.
func (k aggKernel) addArrayElem(s *accSlot, text string) error {
	if s.n == 0 {
		s.d = datum.NewString(text)
	} else {
		s.d = datum.NewString(s.d.Str() + "," + text)
	}
	s.n++
	return nil
}

// normalizeDistinct maps values that are equal in SQL to one encoding.
func normalizeDistinct(v datum.Datum) datum.Datum {
	switch v.Kind() {
	case datum.KindFloat:
		f := v.Float()
		if f == 0 {
			return datum.NewFloat(0)
		}
		if f != f {
			return datum.NewFloat(math.NaN())
		}
	case datum.KindInterval:
		if v.Months() != 0 {
			us, ovf := addOverflows(v.Micros(), int64(v.Months())*30*usPerDay)
			if !ovf {
				return datum.NewInterval(0, us)
			}
		}
	}
	return v
}

func addValue(k aggKernel, s *accSlot, v datum.Datum) error {
	switch k.op {
	case aggCountStar, aggCount:
	case aggSumInt:
		r, ovf := addOverflows(s.i, v.Int())
		if ovf {
			return errOutOfRange(datum.TypeInt8)
		}
		s.i = r
	case aggSumFloat, aggAvgFloat:
		neumaier(&s.f, &s.c, v.AsFloat())
	case aggSumInterval, aggAvgInterval:
		if s.n == 0 {
			s.d = v
		} else {
			r, err := intervalAdd(s.d, v, 1)
			if err != nil {
				return err
			}
			s.d = r
		}
	case aggMin:
		if s.n == 0 || datum.Compare(v, s.d) < 0 {
			s.d = v
		}
	case aggMax:
		if s.n == 0 || datum.Compare(v, s.d) > 0 {
			s.d = v
		}
	case aggVarPop, aggVarSamp, aggStddevPop, aggStddevSamp:
		x := v.AsFloat()
		n := float64(s.n + 1)
		delta := x - s.f
		s.f += delta / n
		s.c += delta * (x - s.f)
	case aggBoolAnd:
		if s.n == 0 {
			s.i = 1
		}
		if !v.Bool() {
			s.i = 0
		}
	case aggBoolOr:
		if v.Bool() {
			s.i = 1
		}
	case aggStringAgg:
		// The delimiter goes before every value but the first; it is kept
		// in s.d, with the text so far.
		if s.n == 0 {
			s.d = datum.NewString(v.Str())
		} else {
			s.d = datum.NewString(s.d.Str() + k.delim + v.Str())
		}
	case aggArrayAgg:
		// DISTINCT array_agg (non-DISTINCT ones go through addArrayElem).
		var b strings.Builder
		writeArrayElem(&b, elemText(v, k.elem))
		if s.n == 0 {
			s.d = datum.NewString(b.String())
		} else {
			s.d = datum.NewString(s.d.Str() + "," + b.String())
		}
	}
	s.n++
	return nil
}

func (k aggKernel) merge(s, o *accSlot) error {
	if k.distinct {
		for key := range o.set {
			if _, dup := s.set[key]; dup {
				continue
			}
			v, _, err := datum.DecodeKey([]byte(key))
			if err != nil {
				return err
			}
			if err := addValue(k, s, v); err != nil {
				return err
			}
			if s.set == nil {
				s.set = make(map[string]struct{}, len(o.set))
			}
			s.set[key] = struct{}{}
		}
		return nil
	}
	if o.n == 0 {
		return nil
	}
	if s.n == 0 {
		*s = *o
		return nil
	}
	switch k.op {
	case aggSumInt:
		r, ovf := addOverflows(s.i, o.i)
		if ovf {
			return errOutOfRange(datum.TypeInt8)
		}
		s.i = r
	case aggSumFloat, aggAvgFloat:
		neumaier(&s.f, &s.c, o.f)
		neumaier(&s.f, &s.c, o.c)
	case aggSumInterval, aggAvgInterval:
		r, err := intervalAdd(s.d, o.d, 1)
		if err != nil {
			return err
		}
		s.d = r
	case aggMin:
		if datum.Compare(o.d, s.d) < 0 {
			s.d = o.d
		}
	case aggMax:
		if datum.Compare(o.d, s.d) > 0 {
			s.d = o.d
		}
	case aggVarPop, aggVarSamp, aggStddevPop, aggStddevSamp:
		// Chan et al.'s parallel combination of Welford states.
		na, nb := float64(s.n), float64(o.n)
		n := na + nb
		delta := o.f - s.f
		s.f += delta * nb / n
		s.c += o.c + delta*delta*na*nb/n
	case aggBoolAnd:
		s.i &= o.i
	case aggBoolOr:
		s.i |= o.i
	case aggStringAgg:
		s.d = datum.NewString(s.d.Str() + k.delim + o.d.Str())
	case aggArrayAgg:
		s.d = datum.NewString(s.d.Str() + "," + o.d.Str())
	}
	s.n += o.n
	return nil
}

func floatSum(s *accSlot) float64 {
	if math.IsInf(s.f, 0) || math.IsNaN(s.f) {
		return s.f
	}
	return s.f + s.c
}

func (k aggKernel) result(s *accSlot) datum.Datum {
	switch k.op {
	case aggCountStar, aggCount:
		return datum.NewInt(s.n)
	}
	if s.n == 0 {
		return datum.Null
	}
	switch k.op {
	case aggSumInt:
		return datum.NewInt(s.i)
	case aggSumFloat, aggAvgFloat:
		v := floatSum(s)
		if k.op == aggAvgFloat {
			v /= float64(s.n)
		}
		if k.numeric {
			v = numericNorm(v)
		}
		return datum.NewFloat(v)
	case aggSumInterval, aggMin, aggMax:
		return s.d
	case aggAvgInterval:
		r, err := intervalDiv(s.d.Months(), s.d.Micros(), float64(s.n))
		if err != nil {
			return datum.Null
		}
		return r
	case aggVarPop, aggVarSamp, aggStddevPop, aggStddevSamp:
		m2 := math.Max(s.c, 0)
		var v float64
		if k.op == aggVarPop || k.op == aggStddevPop {
			v = m2 / float64(s.n)
		} else {
			if s.n < 2 {
				return datum.Null
			}
			v = m2 / float64(s.n-1)
		}
		if k.op == aggStddevPop || k.op == aggStddevSamp {
			v = math.Sqrt(v)
		}
		return datum.NewFloat(v)
	case aggBoolAnd, aggBoolOr:
		return datum.NewBool(s.i != 0)
	case aggStringAgg:
		return s.d
	case aggArrayAgg:
		return datum.NewString("{" + s.d.Str() + "}")
	}
	return datum.Null
}

func errCorruptState() error {
	return pgerr.New(pgerr.InternalError, "expr: corrupt aggregate state")
}

// appendState encodes a slot. DISTINCT states are the sorted set of keys
// (the running values are recomputed on decode).
func (k aggKernel) appendState(b []byte, s *accSlot) []byte {
	if k.distinct {
		keys := make([]string, 0, len(s.set))
		for key := range s.set {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, key := range keys {
			b = binary.AppendUvarint(b, uint64(len(key)))
			b = append(b, key...)
		}
		return b
	}
	b = binary.AppendUvarint(b, uint64(s.n))
	if s.n == 0 {
		return b
	}
	switch k.op {
	case aggSumInt:
		b = binary.AppendVarint(b, s.i)
	case aggSumFloat, aggAvgFloat, aggVarPop, aggVarSamp, aggStddevPop, aggStddevSamp:
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.f))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.c))
	case aggSumInterval, aggAvgInterval, aggMin, aggMax, aggStringAgg, aggArrayAgg:
		b = datum.AppendValue(b, s.d)
	case aggBoolAnd, aggBoolOr:
		b = append(b, byte(s.i))
	}
	return b
}

func (k aggKernel) decodeState(b []byte, s *accSlot) ([]byte, error) {
	*s = accSlot{}
	if k.distinct {
		cnt, w := binary.Uvarint(b)
		if w <= 0 || cnt > uint64(len(b)) {
			return nil, errCorruptState()
		}
		b = b[w:]
		for j := uint64(0); j < cnt; j++ {
			l, w := binary.Uvarint(b)
			if w <= 0 || l > uint64(len(b)-w) {
				return nil, errCorruptState()
			}
			key := b[w : w+int(l)]
			b = b[w+int(l):]
			v, rest, err := datum.DecodeKey(key)
			if err != nil || len(rest) != 0 {
				return nil, errCorruptState()
			}
			if err := k.add(s, v); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	n, w := binary.Uvarint(b)
	if w <= 0 || n > math.MaxInt64 {
		return nil, errCorruptState()
	}
	b = b[w:]
	s.n = int64(n)
	if n == 0 {
		return b, nil
	}
	switch k.op {
	case aggSumInt:
		v, w := binary.Varint(b)
		if w <= 0 {
			return nil, errCorruptState()
		}
		s.i, b = v, b[w:]
	case aggSumFloat, aggAvgFloat, aggVarPop, aggVarSamp, aggStddevPop, aggStddevSamp:
		if len(b) < 16 {
			return nil, errCorruptState()
		}
		s.f = math.Float64frombits(binary.LittleEndian.Uint64(b))
		s.c = math.Float64frombits(binary.LittleEndian.Uint64(b[8:]))
		b = b[16:]
	case aggSumInterval, aggAvgInterval, aggMin, aggMax, aggStringAgg, aggArrayAgg:
		d, rest, err := datum.DecodeValue(b)
		if err != nil {
			return nil, errCorruptState()
		}
		s.d, b = d, rest
	case aggBoolAnd, aggBoolOr:
		if len(b) < 1 {
			return nil, errCorruptState()
		}
		s.i, b = int64(b[0]&1), b[1:]
	}
	return b, nil
}

// NewAcc returns an accumulator for a (resolved by ResolveAgg). It panics
// on an aggregate name ResolveAgg does not produce.
func NewAcc(a *AggFunc) Acc { return &singleAcc{k: newKernel(a)} }

type singleAcc struct {
	k aggKernel
	s accSlot
}

func (a *singleAcc) Add(v datum.Datum) error { return a.k.add(&a.s, v) }

func (a *singleAcc) Merge(o Acc) error {
	ob, ok := o.(*singleAcc)
	if !ok || ob.k != a.k {
		return pgerr.New(pgerr.InternalError, "expr: Merge of accumulators of different aggregates")
	}
	return a.k.merge(&a.s, &ob.s)
}

func (a *singleAcc) Result() datum.Datum { return a.k.result(&a.s) }

func (a *singleAcc) Append(b []byte) []byte { return a.k.appendState(b, &a.s) }

func (a *singleAcc) Decode(b []byte) ([]byte, error) { return a.k.decodeState(b, &a.s) }

// AccSetFactory makes AccSets for one list of aggregates (the aggregates of
// one GROUP BY). It is immutable and safe for concurrent use.
type AccSetFactory struct {
	aggs    []*AggFunc
	kernels []aggKernel
}

// NewAccSet prepares accumulator sets for aggs (resolved by ResolveAgg).
func NewAccSet(aggs []*AggFunc) *AccSetFactory {
	f := &AccSetFactory{aggs: aggs, kernels: make([]aggKernel, len(aggs))}
	for i, a := range aggs {
		f.kernels[i] = newKernel(a)
	}
	return f
}

// Len is the number of aggregates.
func (f *AccSetFactory) Len() int { return len(f.kernels) }

// Aggs returns the aggregates, in order.
func (f *AccSetFactory) Aggs() []*AggFunc { return f.aggs }

// New returns an empty set: one allocation for all the aggregates.
func (f *AccSetFactory) New() AccSet {
	return AccSet{f: f, slots: make([]accSlot, len(f.kernels))}
}

// AccSet is the state of all aggregates of one group (one group key and
// window). It is a small value referring to its slots: copies share state,
// so a map can hold AccSet values. Not safe for concurrent use.
type AccSet struct {
	f     *AccSetFactory
	slots []accSlot
}

// Add folds v into aggregate i (pass any non-NULL value for count(*)).
func (s AccSet) Add(i int, v datum.Datum) error {
	return s.f.kernels[i].add(&s.slots[i], v)
}

// AddRow folds args[i] into aggregate i for every aggregate.
func (s AccSet) AddRow(args []datum.Datum) error {
	ks := s.f.kernels
	slots := s.slots[:len(ks)]
	args = args[:len(ks)]
	for i := range ks {
		if err := ks[i].add(&slots[i], args[i]); err != nil {
			return err
		}
	}
	return nil
}

// Merge folds the partial set o (same factory) into s.
func (s AccSet) Merge(o AccSet) error {
	if s.f != o.f && !sameKernels(s.f.kernels, o.f.kernels) {
		return pgerr.New(pgerr.InternalError, "expr: Merge of AccSets of different aggregates")
	}
	for i := range s.f.kernels {
		if err := s.f.kernels[i].merge(&s.slots[i], &o.slots[i]); err != nil {
			return err
		}
	}
	return nil
}

func sameKernels(a, b []aggKernel) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Result returns aggregate i's SQL result.
func (s AccSet) Result(i int) datum.Datum { return s.f.kernels[i].result(&s.slots[i]) }

// AppendResults appends every aggregate's result to dst.
func (s AccSet) AppendResults(dst datum.Row) datum.Row {
	for i := range s.f.kernels {
		dst = append(dst, s.f.kernels[i].result(&s.slots[i]))
	}
	return dst
}

// Append appends the encoding of all the aggregates' states to b.
func (s AccSet) Append(b []byte) []byte {
	for i := range s.f.kernels {
		b = s.f.kernels[i].appendState(b, &s.slots[i])
	}
	return b
}

// Decode replaces the state with one encoded by Append and returns the
// rest of b.
func (s AccSet) Decode(b []byte) ([]byte, error) {
	var err error
	for i := range s.f.kernels {
		if b, err = s.f.kernels[i].decodeState(b, &s.slots[i]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Reset empties the set for reuse.
func (s AccSet) Reset() {
	for i := range s.slots {
		s.slots[i] = accSlot{}
	}
}

// Decode returns a new set with the state encoded in b, and the rest of b.
func (f *AccSetFactory) Decode(b []byte) (AccSet, []byte, error) {
	s := f.New()
	rest, err := s.Decode(b)
	return s, rest, err
}
