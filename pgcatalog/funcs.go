package pgcatalog

import (
	"os"
	"strings"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
)

// VersionString is what version() returns (SQLAlchemy parses the
// "PostgreSQL 13.9" in it).
const VersionString = "PostgreSQL 13.9 (Weir 0.1) on x86_64-pc-linux-gnu, compiled by Go, 64-bit"

// proc is a row of pg_proc: the functions type input columns and clients
// name, with PostgreSQL's OIDs.
type proc struct {
	oid   uint32
	name  string
	nargs int
	ret   uint32
}

var procs = []proc{
	{750, "array_in", 3, 2277}, {1242, "boolin", 1, 16}, {1244, "byteain", 1, 17}, {1245, "charin", 1, 18},
	{34, "namein", 1, 19}, {460, "int8in", 1, 20}, {38, "int2in", 1, 21}, {40, "int2vectorin", 1, 22},
	{42, "int4in", 1, 23}, {44, "regprocin", 1, 24}, {46, "textin", 1, 25}, {1798, "oidin", 1, 26},
	{48, "tidin", 1, 27}, {50, "xidin", 1, 28}, {52, "cidin", 1, 29}, {54, "oidvectorin", 1, 30},
	{321, "json_in", 1, 114}, {2893, "xml_in", 1, 142}, {195, "pg_node_tree_in", 1, 194},
	{200, "float4in", 1, 700}, {214, "float8in", 1, 701}, {109, "unknownin", 1, 705}, {886, "cash_in", 1, 790},
	{910, "inet_in", 1, 869}, {1031, "aclitemin", 1, 1033}, {1044, "bpcharin", 3, 1042},
	{1046, "varcharin", 3, 1043}, {1084, "date_in", 1, 1082}, {1143, "time_in", 3, 1083},
	{1312, "timestamp_in", 3, 1114}, {1150, "timestamptz_in", 3, 1184}, {1160, "interval_in", 3, 1186},
	{1350, "timetz_in", 3, 1266}, {1564, "bit_in", 3, 1560}, {1579, "varbit_in", 3, 1562},
	{1701, "numeric_in", 3, 1700}, {2218, "regclassin", 1, 2205}, {2220, "regtypein", 1, 2206},
	{2290, "record_in", 3, 2249}, {2292, "cstring_in", 1, 2275}, {2294, "any_in", 1, 2276},
	{2296, "anyarray_in", 1, 2277}, {2298, "void_in", 1, 2278},
	{2300, "trigger_in", 1, 2279}, {2302, "language_handler_in", 1, 2280}, {2304, "internal_in", 1, 2281},
	{2312, "anyelement_in", 1, 2283}, {3594, "event_trigger_in", 1, 3838}, {2952, "uuid_in", 1, 2950},
	{3806, "jsonb_in", 1, 3802}, {4084, "regnamespacein", 1, 4089}, {4098, "regrolein", 1, 4096},
	{89, "version", 0, 25}, {861, "current_database", 0, 19}, {1402, "current_schema", 0, 19},
}

func procOID(name string) uint32 {
	for _, p := range procs {
		if p.name == name {
			return p.oid
		}
	}
	return 0
}

func procByName(name string) *proc {
	name = strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "pg_catalog.")
	if i := strings.IndexByte(name, '('); i >= 0 {
		name = name[:i]
	}
	for i := range procs {
		if procs[i].name == name {
			return &procs[i]
		}
	}
	return nil
}

var (
	tBool = datum.TypeBool
	tInt4 = datum.TypeInt4
	tInt8 = datum.TypeInt8
	tText = datum.TypeText
	tOID  = datum.TypeOID
	tTS   = datum.TypeTimestampTZ
)

// def builds a FuncDef from overloads.
func def(volatile bool, ovs ...expr.Overload) expr.FuncDef {
	return expr.FuncDef{Overloads: ovs, Volatile: volatile}
}

// ov is one overload.
func ov(result datum.Type, eval func(args []datum.Datum) (datum.Datum, error), args ...datum.Type) expr.Overload {
	return expr.Overload{Args: args, Result: result, Eval: eval}
}

// calledOnNull marks an overload that sees NULL arguments.
func calledOnNull(o expr.Overload) expr.Overload {
	o.CalledOnNull = true
	return o
}

func constText(s string) func([]datum.Datum) (datum.Datum, error) {
	return func([]datum.Datum) (datum.Datum, error) { return datum.NewString(s), nil }
}

func constBool(b bool) func([]datum.Datum) (datum.Datum, error) {
	return func([]datum.Datum) (datum.Datum, error) { return datum.NewBool(b), nil }
}

func constNull([]datum.Datum) (datum.Datum, error) { return datum.Null, nil }

func oidArg(d datum.Datum) uint32 {
	switch d.Kind() {
	case datum.KindInt:
		return uint32(d.Int())
	case datum.KindFloat:
		return uint32(d.Float())
	case datum.KindString:
		var v uint32
		for _, c := range strings.TrimSpace(d.Str()) {
			if c < '0' || c > '9' {
				return 0
			}
			v = v*10 + uint32(c-'0')
		}
		return v
	}
	return 0
}

var startTime = time.Now()

// functions returns the scalar functions clients call, bound to e (those
// that read the catalog take a snapshot when called).
func functions(e *engine.Engine) map[string]expr.FuncDef {
	snap := func() *snapshot { return takeSnapshot(e) }
	describe := func(args []datum.Datum) (datum.Datum, error) {
		r := snap().byOID[oidArg(args[0])]
		if r == nil || r.desc == "" {
			return datum.Null, nil
		}
		return datum.NewString(r.desc), nil
	}
	visible := func(args []datum.Datum) (datum.Datum, error) { return datum.NewBool(true), nil }
	m := map[string]expr.FuncDef{
		"version":          def(false, ov(tText, constText(VersionString))),
		"current_database": def(false, ov(tText, constText(DatabaseName))),
		"current_catalog":  def(false, ov(tText, constText(DatabaseName))),
		"current_schema":   def(false, ov(tText, constText("public"))),
		"current_schemas": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if args[0].Bool() {
				return datum.NewString("{pg_catalog,public}"), nil
			}
			return datum.NewString("{public}"), nil
		}, tBool)),
		"current_user": def(false, sessionUser),
		"session_user": def(false, sessionUser),
		"current_role": def(false, sessionUser),
		"user":         def(false, sessionUser),
		// The wire server sets weir.backend_pid to the connection's process
		// id (pg_stat_activity's pid); elsewhere it is the process's.
		"pg_backend_pid": def(false, expr.Overload{Result: tInt4,
			EvalSettings: func(s func(string) (string, bool), _ []datum.Datum) (datum.Datum, error) {
				if v, ok := s("weir.backend_pid"); ok {
					if n, ok := numericOID(v); ok {
						return datum.NewInt(n), nil
					}
				}
				return datum.NewInt(int64(os.Getpid())), nil
			}}),
		"pg_is_in_recovery": def(false, ov(tBool, constBool(false))),
		"pg_postmaster_start_time": def(false, ov(tTS, func([]datum.Datum) (datum.Datum, error) {
			return datum.NewTimestamp(startTime.UnixMicro()), nil
		})),
		"txid_current": def(true, ov(tInt8, func([]datum.Datum) (datum.Datum, error) {
			return datum.NewInt(time.Now().UnixMicro()), nil
		})),
		"pg_get_userbyid": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if oidArg(args[0]) == oidOwner {
				return datum.NewString(UserName), nil
			}
			return datum.NewString("unknown (OID=" + itoa(int64(oidArg(args[0]))) + ")"), nil
		}, tOID)),
		"pg_encoding_to_char": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if args[0].Int() == 6 {
				return datum.NewString("UTF8"), nil
			}
			if args[0].Int() == 0 {
				return datum.NewString("SQL_ASCII"), nil
			}
			return datum.NewString(""), nil
		}, tInt4)),
		"pg_char_to_encoding": def(false, ov(tInt4, func(args []datum.Datum) (datum.Datum, error) {
			if strings.EqualFold(strings.ReplaceAll(args[0].Str(), "-", ""), "utf8") {
				return datum.NewInt(6), nil
			}
			return datum.NewInt(-1), nil
		}, tText)),
		"format_type": def(false, calledOnNull(ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if args[0].IsNull() {
				return datum.Null, nil
			}
			mod := int64(-1)
			if !args[1].IsNull() {
				mod = args[1].Int()
			}
			return datum.NewString(formatType(oidArg(args[0]), mod)), nil
		}, tOID, tInt4))),
		"pg_table_is_visible":      def(false, ov(tBool, visible, tOID)),
		"pg_type_is_visible":       def(false, ov(tBool, visible, tOID)),
		"pg_function_is_visible":   def(false, ov(tBool, visible, tOID)),
		"pg_operator_is_visible":   def(false, ov(tBool, visible, tOID)),
		"pg_conversion_is_visible": def(false, ov(tBool, visible, tOID)),
		"pg_opclass_is_visible":    def(false, ov(tBool, visible, tOID)),
		"pg_collation_is_visible":  def(false, ov(tBool, visible, tOID)),
		"pg_get_function_result": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			for _, p := range procs {
				if p.oid == oidArg(args[0]) {
					return datum.NewString(formatType(p.ret, -1)), nil
				}
			}
			return datum.Null, nil
		}, tOID)),
		"pg_get_function_arguments":          def(false, ov(tText, constText(""), tOID)),
		"pg_get_function_identity_arguments": def(false, ov(tText, constText(""), tOID)),
		"pg_get_expr": def(false,
			ov(tText, constNull, tText, tOID),
			ov(tText, constNull, tText, tOID, tBool)),
		"pg_get_indexdef": def(false,
			ov(tText, func(args []datum.Datum) (datum.Datum, error) {
				return nullIfEmptyDatum(indexDef(snap(), oidArg(args[0]), 0)), nil
			}, tOID),
			ov(tText, func(args []datum.Datum) (datum.Datum, error) {
				return nullIfEmptyDatum(indexDef(snap(), oidArg(args[0]), int(args[1].Int()))), nil
			}, tOID, tInt4, tBool)),
		"pg_get_constraintdef": def(false,
			ov(tText, func(args []datum.Datum) (datum.Datum, error) {
				return nullIfEmptyDatum(constraintDef(snap(), oidArg(args[0]))), nil
			}, tOID),
			ov(tText, func(args []datum.Datum) (datum.Datum, error) {
				return nullIfEmptyDatum(constraintDef(snap(), oidArg(args[0]))), nil
			}, tOID, tBool)),
		"pg_get_viewdef": def(false,
			ov(tText, func(args []datum.Datum) (datum.Datum, error) {
				return viewDef(snap(), oidArg(args[0])), nil
			}, tOID),
			ov(tText, func(args []datum.Datum) (datum.Datum, error) {
				return viewDef(snap(), oidArg(args[0])), nil
			}, tOID, tBool)),
		"obj_description":   def(false, ov(tText, describe, tOID), ov(tText, describe, tOID, tText)),
		"col_description":   def(false, ov(tText, constNull, tOID, tInt4)),
		"shobj_description": def(false, ov(tText, constNull, tOID, tText)),
		"pg_relation_is_publishable": def(false, ov(tBool, constBool(false), tOID),
			ov(tBool, constBool(false), tText)),
		"pg_get_serial_sequence":          def(false, ov(tText, constNull, tText, tText)),
		"pg_get_statisticsobjdef_columns": def(false, ov(tText, constNull, tOID)),
		"pg_size_pretty": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			return datum.NewString(sizePretty(args[0].Int())), nil
		}, tInt8)),
		"pg_database_size": def(false, ov(tInt8, func([]datum.Datum) (datum.Datum, error) { return datum.NewInt(0), nil }, tText),
			ov(tInt8, func([]datum.Datum) (datum.Datum, error) { return datum.NewInt(0), nil }, tOID)),
		"current_setting": def(false,
			expr.Overload{Args: []datum.Type{tText}, Result: tText,
				EvalSettings: func(s func(string) (string, bool), args []datum.Datum) (datum.Datum, error) {
					return currentSetting(s, args[0].Str(), false)
				}},
			expr.Overload{Args: []datum.Type{tText, tBool}, Result: tText,
				EvalSettings: func(s func(string) (string, bool), args []datum.Datum) (datum.Datum, error) {
					return currentSetting(s, args[0].Str(), args[1].Bool())
				}}),
		"quote_ident": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			return datum.NewString(quoteIdent(args[0].Str())), nil
		}, tText)),
		"quote_literal": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			return datum.NewString(quoteLiteral(args[0].Format())), nil
		}, tText)),
		"to_regclass": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			if r := snap().find(args[0].Str()); r != nil {
				return datum.NewInt(int64(r.oid)), nil
			}
			return datum.Null, nil
		}, tText)),
		"to_regtype": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			if t := typeByName(args[0].Str()); t != nil {
				return datum.NewInt(int64(t.oid)), nil
			}
			return datum.Null, nil
		}, tText)),
		"to_regproc": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			if p := procByName(args[0].Str()); p != nil {
				return datum.NewInt(int64(p.oid)), nil
			}
			return datum.Null, nil
		}, tText)),
		"to_regnamespace": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			if oid := namespaceOID(args[0].Str()); oid != 0 {
				return datum.NewInt(int64(oid)), nil
			}
			return datum.Null, nil
		}, tText)),
		// 'name'::regclass and friends (the binder calls these for casts of
		// text to the OID alias types), and the reverse for ::regclass::text.
		"regclassin": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			name := args[0].Str()
			if oid, ok := numericOID(name); ok {
				return datum.NewInt(oid), nil
			}
			if r := snap().find(name); r != nil {
				return datum.NewInt(int64(r.oid)), nil
			}
			return datum.Null, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name)
		}, tText)),
		"regtypein": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			name := args[0].Str()
			if oid, ok := numericOID(name); ok {
				return datum.NewInt(oid), nil
			}
			if t := typeByName(strings.Trim(name, `"`)); t != nil {
				return datum.NewInt(int64(t.oid)), nil
			}
			return datum.Null, pgerr.New(pgerr.UndefinedObject, "type %q does not exist", name)
		}, tText)),
		"regprocin": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			name := args[0].Str()
			if oid, ok := numericOID(name); ok {
				return datum.NewInt(oid), nil
			}
			if p := procByName(name); p != nil {
				return datum.NewInt(int64(p.oid)), nil
			}
			return datum.Null, pgerr.New(pgerr.UndefinedFunction, "function %q does not exist", name)
		}, tText)),
		"regnamespacein": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			name := args[0].Str()
			if oid, ok := numericOID(name); ok {
				return datum.NewInt(oid), nil
			}
			if oid := namespaceOID(name); oid != 0 {
				return datum.NewInt(int64(oid)), nil
			}
			return datum.Null, pgerr.New("3F000", "schema %q does not exist", name)
		}, tText)),
		"regrolein": def(false, ov(tOID, func(args []datum.Datum) (datum.Datum, error) {
			name := args[0].Str()
			if oid, ok := numericOID(name); ok {
				return datum.NewInt(oid), nil
			}
			if strings.Trim(name, `"`) == UserName {
				return datum.NewInt(oidOwner), nil
			}
			return datum.Null, pgerr.New(pgerr.UndefinedObject, "role %q does not exist", name)
		}, tText)),
		"regclassout": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if r := snap().byOID[oidArg(args[0])]; r != nil {
				if r.schema == "public" || r.schema == "pg_catalog" {
					return datum.NewString(quoteIdent(r.name)), nil
				}
				return datum.NewString(quoteIdent(r.schema) + "." + quoteIdent(r.name)), nil
			}
			return datum.NewString(itoa(int64(oidArg(args[0])))), nil
		}, tOID)),
		"regtypeout": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if t := typeByOID[oidArg(args[0])]; t != nil {
				return datum.NewString(t.sqlName), nil
			}
			return datum.NewString(itoa(int64(oidArg(args[0])))), nil
		}, tOID)),
		"regprocout": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			for _, p := range procs {
				if p.oid == oidArg(args[0]) {
					return datum.NewString(p.name), nil
				}
			}
			if oidArg(args[0]) == 0 {
				return datum.NewString("-"), nil
			}
			return datum.NewString(itoa(int64(oidArg(args[0])))), nil
		}, tOID)),
		"regnamespaceout": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if n := namespaceName(oidArg(args[0])); n != "" {
				return datum.NewString(n), nil
			}
			return datum.NewString(itoa(int64(oidArg(args[0])))), nil
		}, tOID)),
		"regroleout": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			if oidArg(args[0]) == oidOwner {
				return datum.NewString(UserName), nil
			}
			return datum.NewString(itoa(int64(oidArg(args[0])))), nil
		}, tOID)),
	}
	known := func(name string) bool {
		_, ok := expr.Builtins().Lookup(name)
		_, mine := m[name]
		return ok || mine
	}
	for name, d := range biFunctions(e, known) {
		m[name] = d
	}
	return m
}

// sizePretty is pg_size_pretty: bytes, kB, MB, GB or TB, as PostgreSQL
// rounds them.
func sizePretty(size int64) string {
	const limit = 10 * 1024
	const limit2 = limit*2 - 1
	abs := func(v int64) int64 {
		if v < 0 {
			return -v
		}
		return v
	}
	half := func(v int64) int64 { // half_rounded
		if v >= 0 {
			return (v + 1) / 2
		}
		return (v - 1) / 2
	}
	if abs(size) < limit {
		return itoa(size) + " bytes"
	}
	size >>= 9 // half-kB
	for _, unit := range []string{"kB", "MB", "GB"} {
		if abs(size) < limit2 {
			return itoa(half(size)) + " " + unit
		}
		size >>= 10
	}
	return itoa(half(size)) + " TB"
}

func nullIfEmptyDatum(s string) datum.Datum {
	if s == "" {
		return datum.Null
	}
	return datum.NewString(s)
}

// sessionUser is current_user and friends: the session's login user (the
// server keeps it as the setting session_authorization), else the one
// role.
var sessionUser = expr.Overload{Result: datum.TypeText,
	EvalSettings: func(s func(string) (string, bool), _ []datum.Datum) (datum.Datum, error) {
		if u, ok := s("session_authorization"); ok && u != "" {
			return datum.NewString(u), nil
		}
		return datum.NewString(UserName), nil
	}}

// numericOID reads an OID written as a number ('16384'::regclass).
func numericOID(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' || v > 1<<32 {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// namespaceOID returns the OID of a schema by name (0 if none).
func namespaceOID(name string) uint32 {
	switch strings.Trim(strings.ToLower(strings.TrimSpace(name)), `"`) {
	case "pg_catalog":
		return oidPGCatalog
	case "public":
		return oidPublic
	case "information_schema":
		return oidInformationSchema
	case "pg_toast":
		return oidPGToast
	}
	return 0
}

// namespaceName returns a schema's name by OID ("" if none).
func namespaceName(oid uint32) string {
	for _, n := range []string{"pg_catalog", "public", "information_schema", "pg_toast"} {
		if namespaceOID(n) == oid {
			return n
		}
	}
	return ""
}

// currentSetting is current_setting(name): the session's value, else the
// server's.
func currentSetting(session func(string) (string, bool), name string, missingOK bool) (datum.Datum, error) {
	if v, ok := session(strings.ToLower(name)); ok {
		return datum.NewString(v), nil
	}
	if v, ok := settingValue(name); ok {
		return datum.NewString(v), nil
	}
	if missingOK {
		return datum.Null, nil
	}
	return datum.Null, unrecognizedSetting(name)
}

// indexDef is pg_get_indexdef(oid, col): the CREATE INDEX statement, or
// with col > 0 that key column's name.
func indexDef(s *snapshot, oid uint32, col int) string {
	idx := s.byOID[oid]
	if idx == nil || idx.kind != 'i' {
		return ""
	}
	table := s.byOID[RelationOID(idx.catalogID)]
	if table == nil {
		return ""
	}
	if col > 0 {
		if col > len(idx.cols) {
			return ""
		}
		return quoteIdent(idx.cols[col-1].name)
	}
	names := make([]string, len(idx.cols))
	for i, c := range idx.cols {
		names[i] = quoteIdent(c.name)
	}
	return "CREATE UNIQUE INDEX " + quoteIdent(idx.name) + " ON public." + quoteIdent(table.name) +
		" USING btree (" + strings.Join(names, ", ") + ")"
}

// constraintDef is pg_get_constraintdef(oid).
func constraintDef(s *snapshot, oid uint32) string {
	if oid < constraintOIDBase {
		return ""
	}
	table := s.byOID[RelationOID(uint64(oid-constraintOIDBase))]
	if table == nil || len(table.pk) == 0 {
		return ""
	}
	names := make([]string, len(table.pk))
	for i, c := range table.pk {
		names[i] = quoteIdent(table.cols[c].name)
	}
	return "PRIMARY KEY (" + strings.Join(names, ", ") + ")"
}

// viewDef is pg_get_viewdef(oid). Sinks and the weir_* system tables are
// shown as views; their definition is the statement that made the object
// (or what it is) as comment lines, then a query of no rows with the
// object's columns, so that a script made of it (pg_dump's CREATE VIEW
// ... AS <definition>;) runs on PostgreSQL and creates a view of the same
// shape.
func viewDef(s *snapshot, oid uint32) datum.Datum {
	r := s.byOID[oid]
	if r == nil || r.kind != 'v' {
		return datum.Null
	}
	var b strings.Builder
	what := r.def
	if what == "" {
		what = "Weir " + r.weirKind + " " + r.name
	}
	for _, line := range strings.Split(strings.TrimSpace(what), "\n") {
		b.WriteString(" -- " + line + "\n")
	}
	b.WriteString(" SELECT ")
	for i, c := range r.cols {
		if i > 0 {
			b.WriteString(",\n    ")
		}
		b.WriteString("NULL::" + formatType(typeOID(c.typ), -1) + " AS " + quoteIdent(c.name))
	}
	b.WriteString("\n  WHERE false;")
	return datum.NewString(b.String())
}

func quoteLiteral(s string) string {
	if strings.ContainsRune(s, '\\') {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
