package expr

import (
	"crypto/md5"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// maxStringLen bounds strings built by repeat/lpad/rpad, like PostgreSQL's
// 1 GB limit on a value.
const maxStringLen = 1 << 30

func errTooLong() error {
	return pgerr.New(pgerr.ProgramLimitExceeded, "requested length too large")
}

// Overload constructors for builtins.

func ov1(a, res datum.Type, f func(datum.Datum) (datum.Datum, error)) Overload {
	return Overload{Args: []datum.Type{a}, Result: res, f1: f}
}

func ov2(a, b, res datum.Type, f func(x, y datum.Datum) (datum.Datum, error)) Overload {
	return Overload{Args: []datum.Type{a, b}, Result: res, f2: f}
}

func ov3(a, b, c, res datum.Type, f func(x, y, z datum.Datum) (datum.Datum, error)) Overload {
	return Overload{Args: []datum.Type{a, b, c}, Result: res, f3: f}
}

func fdef(ovs ...Overload) *FuncDef { return &FuncDef{Overloads: ovs} }

func str(s string) (datum.Datum, error) { return datum.NewString(s), nil }

func i64(v int64) (datum.Datum, error) { return datum.NewInt(v), nil }

const (
	tText  = datum.TypeText
	tInt4  = datum.TypeInt4
	tInt8  = datum.TypeInt8
	tBool  = datum.TypeBool
	tBytea = datum.TypeBytea
	tF8    = datum.TypeFloat8
	tNum   = datum.TypeNumeric
)

func stringBuiltins() map[string]*FuncDef {
	return map[string]*FuncDef{
		"lower": fdef(ov1(tText, tText, func(a datum.Datum) (datum.Datum, error) { return str(strings.ToLower(a.Str())) })),
		"upper": fdef(ov1(tText, tText, func(a datum.Datum) (datum.Datum, error) { return str(strings.ToUpper(a.Str())) })),
		"length": fdef(
			ov1(tText, tInt4, func(a datum.Datum) (datum.Datum, error) { return i64(int64(utf8.RuneCountInString(a.Str()))) }),
			ov1(tBytea, tInt4, func(a datum.Datum) (datum.Datum, error) { return i64(int64(len(a.Str()))) }),
		),
		"octet_length": fdef(
			ov1(tText, tInt4, func(a datum.Datum) (datum.Datum, error) { return i64(int64(len(a.Str()))) }),
			ov1(tBytea, tInt4, func(a datum.Datum) (datum.Datum, error) { return i64(int64(len(a.Str()))) }),
		),
		"substring": fdef(
			ov2(tText, tInt8, tText, func(s, from datum.Datum) (datum.Datum, error) {
				return substring(s.Str(), from.Int(), 0, false)
			}),
			substringRegexOverload(),
			ov3(tText, tInt8, tInt8, tText, func(s, from, n datum.Datum) (datum.Datum, error) {
				return substring(s.Str(), from.Int(), n.Int(), true)
			}),
		),
		"concat": {Overloads: []Overload{{
			Args: []datum.Type{typeAny}, Variadic: true, Result: tText, CalledOnNull: true,
			Eval: func(args []datum.Datum) (datum.Datum, error) { return str(joinText("", args)) },
		}}},
		"concat_ws": {Overloads: []Overload{{
			Args: []datum.Type{tText, typeAny}, Variadic: true, Result: tText, CalledOnNull: true,
			Eval: func(args []datum.Datum) (datum.Datum, error) {
				if args[0].IsNull() {
					return datum.Null, nil
				}
				return str(joinText(args[0].Str(), args[1:]))
			},
		}}},
		"btrim": trimDef(strings.Trim),
		"ltrim": trimDef(strings.TrimLeft),
		"rtrim": trimDef(strings.TrimRight),
		"replace": fdef(ov3(tText, tText, tText, tText, func(s, from, to datum.Datum) (datum.Datum, error) {
			if from.Str() == "" {
				return s, nil
			}
			return str(strings.ReplaceAll(s.Str(), from.Str(), to.Str()))
		})),
		"strpos": fdef(ov2(tText, tText, tInt4, func(s, sub datum.Datum) (datum.Datum, error) {
			return i64(strpos(s.Str(), sub.Str()))
		})),
		"position": fdef(ov2(tText, tText, tInt4, func(sub, s datum.Datum) (datum.Datum, error) {
			return i64(strpos(s.Str(), sub.Str()))
		})),
		"left": fdef(ov2(tText, tInt8, tText, func(s, n datum.Datum) (datum.Datum, error) {
			return str(leftRunes(s.Str(), n.Int()))
		})),
		"right": fdef(ov2(tText, tInt8, tText, func(s, n datum.Datum) (datum.Datum, error) {
			return str(rightRunes(s.Str(), n.Int()))
		})),
		"lpad": padDef(true),
		"rpad": padDef(false),
		"split_part": fdef(ov3(tText, tText, tInt8, tText, func(s, d, n datum.Datum) (datum.Datum, error) {
			return splitPart(s.Str(), d.Str(), n.Int())
		})),
		"starts_with": fdef(ov2(tText, tText, tBool, func(s, p datum.Datum) (datum.Datum, error) {
			return datum.NewBool(strings.HasPrefix(s.Str(), p.Str())), nil
		})),
		// convert_from(bytes, 'UTF8') decodes bytes as text (e.g. a dead
		// letter's raw record); only UTF8 is supported, like the server.
		"convert_from": fdef(ov2(tBytea, tText, tText, func(b, enc datum.Datum) (datum.Datum, error) {
			switch strings.ToUpper(strings.ReplaceAll(enc.Str(), "-", "")) {
			case "UTF8", "UNICODE", "SQLASCII":
			default:
				return datum.Null, pgerr.New(pgerr.InvalidParameterValue, "invalid source encoding name \"%s\"", enc.Str())
			}
			if !utf8.ValidString(b.Str()) || strings.IndexByte(b.Str(), 0) >= 0 {
				return datum.Null, pgerr.New(pgerr.CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\"")
			}
			return str(b.Str())
		})),
		"md5": fdef(
			ov1(tText, tText, func(s datum.Datum) (datum.Datum, error) { return str(md5Hex(s.Str())) }),
			ov1(tBytea, tText, func(s datum.Datum) (datum.Datum, error) { return str(md5Hex(s.Str())) }),
		),
		"repeat": fdef(ov2(tText, tInt8, tText, func(s, n datum.Datum) (datum.Datum, error) {
			k := n.Int()
			if k <= 0 || s.Str() == "" {
				return str("")
			}
			if k > maxStringLen/int64(len(s.Str())) {
				return datum.Null, errTooLong()
			}
			return str(strings.Repeat(s.Str(), int(k)))
		})),
		"reverse": fdef(ov1(tText, tText, func(s datum.Datum) (datum.Datum, error) {
			rs := []rune(s.Str())
			for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
				rs[i], rs[j] = rs[j], rs[i]
			}
			return str(string(rs))
		})),
		"initcap": fdef(ov1(tText, tText, func(s datum.Datum) (datum.Datum, error) { return str(initcap(s.Str())) })),
		"ascii": fdef(ov1(tText, tInt4, func(s datum.Datum) (datum.Datum, error) {
			r, _ := utf8.DecodeRuneInString(s.Str())
			if r == utf8.RuneError && s.Str() == "" {
				r = 0
			}
			return i64(int64(r))
		})),
		"chr": fdef(ov1(tInt8, tText, func(n datum.Datum) (datum.Datum, error) {
			v := n.Int()
			switch {
			case v == 0:
				return datum.Null, pgerr.New(pgerr.ProgramLimitExceeded, "null character not permitted")
			case v < 0 || v > unicode.MaxRune:
				return datum.Null, pgerr.New(pgerr.ProgramLimitExceeded, "requested character too large for encoding: %d", v)
			case v >= 0xD800 && v <= 0xDFFF:
				return datum.Null, pgerr.New(pgerr.ProgramLimitExceeded, "requested character not valid for encoding: %d", v)
			}
			return str(string(rune(v)))
		})),
		"translate": fdef(ov3(tText, tText, tText, tText, func(s, from, to datum.Datum) (datum.Datum, error) {
			return str(translate(s.Str(), from.Str(), to.Str()))
		})),
		"to_hex": fdef(ov1(tInt8, tText, func(n datum.Datum) (datum.Datum, error) {
			return str(strconv.FormatUint(uint64(n.Int()), 16))
		})),
		"regexp_replace": regexpReplaceDef(),
	}
}

func trimDef(f func(s, cutset string) string) *FuncDef {
	return fdef(
		ov1(tText, tText, func(s datum.Datum) (datum.Datum, error) { return str(f(s.Str(), " ")) }),
		ov2(tText, tText, tText, func(s, chars datum.Datum) (datum.Datum, error) { return str(f(s.Str(), chars.Str())) }),
	)
}

func padDef(left bool) *FuncDef {
	return fdef(
		ov2(tText, tInt8, tText, func(s, n datum.Datum) (datum.Datum, error) { return pad(s.Str(), n.Int(), " ", left) }),
		ov3(tText, tInt8, tText, tText, func(s, n, fill datum.Datum) (datum.Datum, error) {
			return pad(s.Str(), n.Int(), fill.Str(), left)
		}),
	)
}

// substringRegex is substring(s FROM pattern): the part of s matching the
// regular expression, or its first parenthesized subexpression; NULL if no
// match.
func substringRegex(re *regexp.Regexp, s string) datum.Datum {
	m := re.FindStringSubmatchIndex(s)
	switch {
	case m == nil:
		return datum.Null
	case len(m) >= 4:
		if m[2] < 0 {
			return datum.Null
		}
		return datum.NewString(s[m[2]:m[3]])
	}
	return datum.NewString(s[m[0]:m[1]])
}

func substringRegexOverload() Overload {
	o := ov2(tText, tText, tText, func(s, p datum.Datum) (datum.Datum, error) {
		re, err := compileRegex(p.Str(), false)
		if err != nil {
			return datum.Null, err
		}
		return substringRegex(re, s.Str()), nil
	})
	o.spec = func(c *compiler, call *Call) (Evaluator, error) {
		k, ok := call.Args[1].(*Const)
		if !ok {
			return nil, nil
		}
		if k.Val.IsNull() {
			return constEval(datum.Null), nil
		}
		re, err := compileRegex(k.Val.Str(), false)
		if err != nil {
			return nil, err
		}
		a, err := c.compile(call.Args[0])
		if err != nil {
			return nil, err
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := a(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			return substringRegex(re, d.Str()), nil
		}, nil
	}
	return o
}

func regexpReplaceDef() *FuncDef {
	run := func(s, p, r, flags datum.Datum) (datum.Datum, error) {
		rr, err := newRegexpReplacer(p.Str(), r.Str(), flags.Str())
		if err != nil {
			return datum.Null, err
		}
		return str(rr.replace(s.Str()))
	}
	// With a constant pattern, replacement and flags the regexp is compiled
	// once.
	spec := func(c *compiler, call *Call) (Evaluator, error) {
		consts := make([]string, 0, 3)
		for _, a := range call.Args[1:] {
			k, ok := a.(*Const)
			if !ok {
				return nil, nil
			}
			if k.Val.IsNull() {
				return constEval(datum.Null), nil
			}
			consts = append(consts, k.Val.Str())
		}
		flags := ""
		if len(consts) == 3 {
			flags = consts[2]
		}
		rr, err := newRegexpReplacer(consts[0], consts[1], flags)
		if err != nil {
			return nil, err
		}
		s, err := c.compile(call.Args[0])
		if err != nil {
			return nil, err
		}
		return func(row datum.Row) (datum.Datum, error) {
			d, err := s(row)
			if err != nil || d.IsNull() {
				return datum.Null, err
			}
			return str(rr.replace(d.Str()))
		}, nil
	}
	o3 := ov3(tText, tText, tText, tText, func(s, p, r datum.Datum) (datum.Datum, error) {
		return run(s, p, r, datum.NewString(""))
	})
	o3.spec = spec
	o4 := Overload{Args: []datum.Type{tText, tText, tText, tText}, Result: tText, spec: spec,
		Eval: func(a []datum.Datum) (datum.Datum, error) { return run(a[0], a[1], a[2], a[3]) }}
	return fdef(o3, o4)
}

// joinText concatenates the non-NULL values' text output with sep between
// them (concat, concat_ws).
func joinText(sep string, args []datum.Datum) string {
	var b strings.Builder
	first := true
	for _, a := range args {
		if a.IsNull() {
			continue
		}
		if !first {
			b.WriteString(sep)
		}
		first = false
		if a.Kind() == datum.KindString {
			b.WriteString(a.Str())
		} else {
			b.WriteString(a.Format())
		}
	}
	return b.String()
}

// substring implements substring(s FROM from [FOR n]) on characters with
// PostgreSQL's rules: positions are 1-based, a start before 1 eats into
// the length, a negative length is an error.
func substring(s string, from, n int64, hasLen bool) (datum.Datum, error) {
	if hasLen && n < 0 {
		return datum.Null, pgerr.New("22011", "negative substring length not allowed")
	}
	end := int64(1<<63 - 1) // exclusive, 1-based
	if hasLen {
		if e, ovf := addOverflows(from, n); !ovf {
			end = e
		}
	}
	start := from
	if start < 1 {
		start = 1
	}
	if end <= start || start > int64(len(s)) {
		return str("")
	}
	pos := int64(1)
	bstart, bend := -1, len(s)
	for bi := range s {
		if pos == start {
			bstart = bi
		}
		if pos == end {
			bend = bi
			break
		}
		pos++
	}
	if bstart < 0 {
		return str("")
	}
	return str(s[bstart:bend])
}

func strpos(s, sub string) int64 {
	i := strings.Index(s, sub)
	if i < 0 {
		return 0
	}
	return int64(utf8.RuneCountInString(s[:i])) + 1
}

// runePrefix returns the first n characters of s (all of s if it is
// shorter).
func runePrefix(s string, n int64) string {
	if n <= 0 {
		return ""
	}
	for bi := range s {
		if n == 0 {
			return s[:bi]
		}
		n--
	}
	return s
}

func leftRunes(s string, n int64) string {
	if n < 0 {
		n = int64(utf8.RuneCountInString(s)) + n
	}
	return runePrefix(s, n)
}

func rightRunes(s string, n int64) string {
	cnt := int64(utf8.RuneCountInString(s))
	var skip int64
	if n < 0 {
		skip = -n
		if n == -1<<63 {
			skip = cnt
		}
	} else {
		skip = cnt - n
	}
	if skip <= 0 {
		return s
	}
	if skip >= cnt {
		return ""
	}
	return s[len(runePrefix(s, skip)):]
}

// pad implements lpad/rpad: the result has exactly n characters, s being
// truncated if longer.
func pad(s string, n int64, fill string, left bool) (datum.Datum, error) {
	if n <= 0 {
		return str("")
	}
	if n > maxStringLen {
		return datum.Null, errTooLong()
	}
	cnt := int64(utf8.RuneCountInString(s))
	if cnt >= n {
		return str(runePrefix(s, n))
	}
	if fill == "" {
		return str(s)
	}
	need := n - cnt
	fr := []rune(fill)
	var b strings.Builder
	if !left {
		b.WriteString(s)
	}
	for i := int64(0); i < need; i++ {
		b.WriteRune(fr[i%int64(len(fr))])
	}
	if left {
		b.WriteString(s)
	}
	return str(b.String())
}

func splitPart(s, delim string, n int64) (datum.Datum, error) {
	if n == 0 {
		return datum.Null, pgerr.New(pgerr.InvalidParameterValue, "field position must not be zero")
	}
	if delim == "" {
		if n == 1 || n == -1 {
			return str(s)
		}
		return str("")
	}
	if s == "" {
		return str("")
	}
	parts := strings.Split(s, delim)
	idx := n - 1
	if n < 0 {
		idx = int64(len(parts)) + n
	}
	if idx < 0 || idx >= int64(len(parts)) {
		return str("")
	}
	return str(parts[idx])
}

func md5Hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// initcap upper-cases the first letter of each word and lower-cases the
// rest; words are runs of letters and digits.
func initcap(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	prev := false
	for _, r := range s {
		if prev {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
		prev = unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	return b.String()
}

func translate(s, from, to string) string {
	fr, tr := []rune(from), []rune(to)
	var b strings.Builder
	for _, r := range s {
		idx := -1
		for i, f := range fr {
			if f == r {
				idx = i
				break
			}
		}
		switch {
		case idx < 0:
			b.WriteRune(r)
		case idx < len(tr):
			b.WriteRune(tr[idx])
		}
	}
	return b.String()
}
