package expr

import (
	"encoding/json"
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/pgerr"
)

// JSON constructors: json_build_object(k, v, ...), json_build_array(v,
// ...), to_json(v) (and their jsonb spellings; Weir's JSON is text).
// Values become JSON by type: numbers and booleans as themselves, NULL as
// null, JSON values as they are, everything else as a string of its text
// form.

func jsonBuiltins() map[string]*FuncDef {
	obj := &FuncDef{
		check: func(name string, args []Expr) (Expr, error) {
			if len(args)%2 != 0 {
				return nil, pgerr.New(pgerr.InvalidParameterValue, "argument list must have even number of elements").
					WithHint("The arguments of json_build_object() must consist of alternating keys and values.")
			}
			return anyArgsCall(name, args, datum.TypeJSON)
		},
		compile: func(c *compiler, call *Call) (Evaluator, error) {
			evs, err := c.compileAll(call.Args)
			if err != nil {
				return nil, err
			}
			types := argTypes(call.Args)
			return func(row datum.Row) (datum.Datum, error) {
				var b strings.Builder
				b.WriteByte('{')
				for i := 0; i < len(evs); i += 2 {
					k, err := evs[i](row)
					if err != nil {
						return datum.Null, err
					}
					if k.IsNull() {
						return datum.Null, pgerr.New(pgerr.InvalidParameterValue, "null value not allowed for object key")
					}
					v, err := evs[i+1](row)
					if err != nil {
						return datum.Null, err
					}
					if i > 0 {
						b.WriteString(", ")
					}
					writeJSONString(&b, textOf(k, types[i]))
					b.WriteString(" : ")
					writeJSONValue(&b, v, types[i+1])
				}
				b.WriteByte('}')
				return datum.NewString(b.String()), nil
			}, nil
		},
	}
	arr := &FuncDef{
		check: func(name string, args []Expr) (Expr, error) { return anyArgsCall(name, args, datum.TypeJSON) },
		compile: func(c *compiler, call *Call) (Evaluator, error) {
			evs, err := c.compileAll(call.Args)
			if err != nil {
				return nil, err
			}
			types := argTypes(call.Args)
			return func(row datum.Row) (datum.Datum, error) {
				var b strings.Builder
				b.WriteByte('[')
				for i, ev := range evs {
					v, err := ev(row)
					if err != nil {
						return datum.Null, err
					}
					if i > 0 {
						b.WriteString(", ")
					}
					writeJSONValue(&b, v, types[i])
				}
				b.WriteByte(']')
				return datum.NewString(b.String()), nil
			}, nil
		},
	}
	toJSON := &FuncDef{
		check: func(name string, args []Expr) (Expr, error) {
			if len(args) != 1 {
				return nil, errNoFunction(name, argTypes(args))
			}
			return anyArgsCall(name, args, datum.TypeJSON)
		},
		compile: func(c *compiler, call *Call) (Evaluator, error) {
			ev, err := c.compile(call.Args[0])
			if err != nil {
				return nil, err
			}
			t := call.Args[0].Type()
			return func(row datum.Row) (datum.Datum, error) {
				v, err := ev(row)
				if err != nil || v.IsNull() {
					return datum.Null, err
				}
				var b strings.Builder
				writeJSONValue(&b, v, t)
				return datum.NewString(b.String()), nil
			}, nil
		},
	}
	return map[string]*FuncDef{
		"json_build_object": obj, "jsonb_build_object": obj,
		"json_build_array": arr, "jsonb_build_array": arr,
		"to_json": toJSON, "to_jsonb": toJSON,
	}
}

// anyArgsCall types a call taking arguments of any type (untyped literals
// as text).
func anyArgsCall(name string, args []Expr, result datum.Type) (Expr, error) {
	out := make([]Expr, len(args))
	for i, a := range args {
		var err error
		if out[i], err = coerce(a, typeAny); err != nil {
			return nil, err
		}
	}
	return &Call{Fn: name, Args: out, Typ: result}, nil
}

func writeJSONString(b *strings.Builder, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

func writeJSONValue(b *strings.Builder, v datum.Datum, t datum.Type) {
	switch {
	case v.IsNull():
		b.WriteString("null")
	case t == datum.TypeJSON:
		b.WriteString(v.Str())
	case v.Kind() == datum.KindBool:
		if v.Bool() {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case v.Kind() == datum.KindInt:
		b.WriteString(v.Format())
	case v.Kind() == datum.KindFloat:
		s := v.Format()
		if s == "NaN" || strings.HasSuffix(s, "Infinity") {
			writeJSONString(b, s)
		} else {
			b.WriteString(s)
		}
	case v.Kind() == datum.KindTimestamp:
		writeJSONString(b, strings.Replace(textOf(v, t), " ", "T", 1))
	default:
		writeJSONString(b, textOf(v, t))
	}
}
