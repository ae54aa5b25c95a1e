package expr

import (
	"fmt"
	"sort"
	"strings"

	"github.com/weir-sql/weir/datum"
)

// FuncDef defines a scalar function: its signatures and their
// implementations. Builtins also use unexported hooks for polymorphic typing
// and for compile-time specialization; functions registered from outside the
// package (version(), current_user, ...) are described by Overloads alone.
type FuncDef struct {
	// Overloads are the function's signatures. ResolveCall picks one with
	// PostgreSQL's rules (exact matches, then implicit casts, preferred
	// types, unknown literals).
	Overloads []Overload
	// Volatile functions are never constant-folded (now(), or functions
	// reading session state that can change between executions).
	Volatile bool

	session bool                                         // some overload has EvalSettings
	keep    bool                                         // never folded: the call itself carries information (ARRAY[...]: its element type)
	name    string                                       // canonical name, used as Call.Fn
	check   func(name string, args []Expr) (Expr, error) // polymorphic typing (replaces Overloads)
	compile func(c *compiler, call *Call) (Evaluator, error)
}

// Overload is one signature of a function.
type Overload struct {
	// Args are the parameter types. With Variadic, the last one repeats
	// zero or more times.
	Args     []datum.Type
	Variadic bool
	Result   datum.Type
	// CalledOnNull makes Eval see NULL arguments. Without it (PostgreSQL's
	// STRICT, the default) any NULL argument gives NULL without a call.
	CalledOnNull bool
	// Eval computes the result from argument values of the parameter
	// types. It must be safe for concurrent use.
	Eval func(args []datum.Datum) (datum.Datum, error)
	// EvalSettings, instead of Eval, computes a result that depends on the
	// session as well: settings reads the session's settings (Env.Settings
	// of the compilation; without one it finds nothing). current_user reads
	// session_authorization this way. Calls of such functions are never
	// constant-folded, so a plan bound once serves every session.
	EvalSettings func(settings func(name string) (string, bool), args []datum.Datum) (datum.Datum, error)
	// EvalSetSettings is EvalSettings for functions that also change the
	// session's settings (set_config): set is Env.SetSetting.
	EvalSetSettings func(settings func(name string) (string, bool), set func(name, value string) error, args []datum.Datum) (datum.Datum, error)

	// Builtin implementations: fixed-arity forms avoid building an argument
	// slice per row; spec specializes on constant arguments at compile time
	// (nil Evaluator = no specialization).
	f1   func(a datum.Datum) (datum.Datum, error)
	f2   func(a, b datum.Datum) (datum.Datum, error)
	f3   func(a, b, c datum.Datum) (datum.Datum, error)
	spec func(c *compiler, call *Call) (Evaluator, error)
}

// params returns the overload's parameter types for n arguments; ok is
// false if it does not take n arguments.
func (o *Overload) params(n int) (p []datum.Type, ok bool) {
	if !o.Variadic {
		if len(o.Args) != n {
			return nil, false
		}
		return o.Args, true
	}
	fixed := len(o.Args) - 1
	if n < fixed {
		return nil, false
	}
	p = make([]datum.Type, n)
	copy(p, o.Args[:fixed])
	for i := fixed; i < n; i++ {
		p[i] = o.Args[fixed]
	}
	return p, true
}

// Registry is a set of scalar functions by name. Builtins() is the shared,
// immutable set; a server clones it and registers its own functions:
//
//	r := expr.Builtins().Clone()
//	r.Register("version", expr.FuncDef{Overloads: []expr.Overload{{
//		Result: datum.TypeText,
//		Eval:   func([]datum.Datum) (datum.Datum, error) { return datum.NewString("Weir 0.1"), nil },
//	}}})
//	e, err := expr.ResolveCallIn(r, "version", nil)
//
// A Registry is safe for concurrent lookups once nothing registers into it.
type Registry struct {
	funcs  map[string]*FuncDef
	frozen bool
}

// Builtins returns the immutable registry of builtin functions.
func Builtins() *Registry { return builtinRegistry }

// Clone returns a mutable copy of r.
func (r *Registry) Clone() *Registry {
	c := &Registry{funcs: make(map[string]*FuncDef, len(r.funcs)+16)}
	for k, v := range r.funcs {
		c.funcs[k] = v
	}
	return c
}

// Register adds (or replaces, shadowing a builtin) the function name. Every
// overload must have Eval (or EvalSettings). Register panics on Builtins() (clone it first)
// and on a malformed definition: both are programming errors.
func (r *Registry) Register(name string, def FuncDef) {
	if r.frozen {
		panic("expr: Register on the builtin registry; use Builtins().Clone()")
	}
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || len(def.Overloads) == 0 {
		panic(fmt.Sprintf("expr: Register(%q): no overloads", name))
	}
	d := &FuncDef{Volatile: def.Volatile, name: name}
	for _, o := range def.Overloads {
		if o.Eval == nil && o.EvalSettings == nil && o.EvalSetSettings == nil {
			panic(fmt.Sprintf("expr: Register(%q): overload without Eval", name))
		}
		if o.EvalSettings != nil || o.EvalSetSettings != nil {
			d.session = true
		}
		if o.Variadic && len(o.Args) == 0 {
			panic(fmt.Sprintf("expr: Register(%q): variadic overload without arguments", name))
		}
		o.Args = append([]datum.Type(nil), o.Args...)
		o.f1, o.f2, o.f3, o.spec = nil, nil, nil, nil
		d.Overloads = append(d.Overloads, o)
	}
	r.funcs[name] = d
}

// Lookup returns the definition of the function name (any case), if any.
func (r *Registry) Lookup(name string) (*FuncDef, bool) {
	d, ok := r.funcs[strings.ToLower(name)]
	return d, ok
}

// Names lists the registered function names (aliases included), sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.funcs))
	for k := range r.funcs {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Name is the canonical name calls to the function carry in Call.Fn.
func (d *FuncDef) Name() string { return d.name }

// builtinRegistry is the immutable builtin table, built once at init (in
// init because builtins refer back to the registry when compiled).
var builtinRegistry *Registry

func init() { builtinRegistry = buildBuiltins() }

// builtinAliases maps alternative spellings to canonical names.
var builtinAliases = map[string]string{
	"ceiling":               "ceil",
	"pow":                   "power",
	"char_length":           "length",
	"character_length":      "length",
	"substr":                "substring",
	"trim":                  "btrim",
	"current_timestamp":     "now",
	"transaction_timestamp": "now",
	"statement_timestamp":   "now",
	"log10":                 "log",
}

func buildBuiltins() *Registry {
	r := &Registry{funcs: map[string]*FuncDef{}}
	add := func(defs map[string]*FuncDef) {
		for name, d := range defs {
			if _, dup := r.funcs[name]; dup {
				panic("expr: duplicate builtin " + name)
			}
			d.name = name
			r.funcs[name] = d
		}
	}
	add(stringBuiltins())
	add(mathBuiltins())
	add(timeBuiltins())
	add(condBuiltins())
	add(arrayBuiltins())
	add(jsonBuiltins())
	for alias, canon := range builtinAliases {
		d, ok := r.funcs[canon]
		if !ok {
			panic("expr: alias of unknown builtin " + canon)
		}
		r.funcs[alias] = d
	}
	r.frozen = true
	return r
}
