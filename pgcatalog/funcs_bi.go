package pgcatalog

import (
	"strings"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/pgerr"
)

// Functions BI tools and SQL clients call while browsing (pgcli, DBeaver,
// Grafana, Metabase, SQLAlchemy, pg_dump): the privilege checks, identifier
// parsing, set_config, sizes and the backend-signalling functions.
//
// Privileges are answered from Weir's objects: every role may do anything
// to a user relation that Weir supports for it, and only read virtual
// (system) tables; pg_catalog and information_schema may be used, public
// also created in; the one database may be connected to. A role is the
// session's login user, "weir" (OID 10) or "public"; another name is 42704,
// as in PostgreSQL. Objects named by text that do not exist are errors
// (42P01, 42703, 3F000, 3D000, 42883); by OID or number they give NULL.

// privileges are the privilege names each object kind accepts.
var privileges = map[string][]string{
	"table":    {"select", "insert", "update", "delete", "truncate", "references", "trigger"},
	"column":   {"select", "insert", "update", "references"},
	"schema":   {"create", "usage"},
	"database": {"create", "connect", "temporary", "temp"},
	"sequence": {"usage", "select", "update"},
	"function": {"execute"},
	"language": {"usage"},
	"role":     {"member", "usage", "set"},
}

// parsePrivileges reads a privilege list ("SELECT, INSERT WITH GRANT
// OPTION") into lower-case names, checking each against kind's.
func parsePrivileges(kind, s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.Join(strings.Fields(p), " "))
		p = strings.TrimSuffix(p, " with grant option")
		p = strings.TrimSuffix(p, " with admin option")
		ok := false
		for _, v := range privileges[kind] {
			if p == v {
				ok = true
			}
		}
		if !ok {
			return nil, pgerr.New(pgerr.InvalidParameterValue, "unrecognized privilege type: \"%s\"", strings.TrimSpace(p))
		}
		out = append(out, p)
	}
	return out, nil
}

// checkRole resolves a role argument (name or OID) against the session.
// ok is false for an OID of no role (the result is then NULL).
func checkRole(settings func(string) (string, bool), d datum.Datum) (ok bool, err error) {
	if d.Kind() != datum.KindString {
		return oidArg(d) == oidOwner, nil
	}
	name := strings.Trim(d.Str(), `"`)
	login, _ := settings("session_authorization")
	if name == UserName || name == login || strings.EqualFold(name, "public") {
		return true, nil
	}
	return false, pgerr.New(pgerr.UndefinedObject, "role \"%s\" does not exist", name)
}

// relationArg resolves a table argument: by name (an error if missing) or
// by OID (nil if missing).
func relationArg(s *snapshot, d datum.Datum) (*relation, error) {
	if d.Kind() != datum.KindString {
		return s.byOID[oidArg(d)], nil
	}
	if oid, ok := numericOID(d.Str()); ok {
		return s.byOID[uint32(oid)], nil
	}
	r := s.find(d.Str())
	if r == nil {
		return nil, pgerr.New(pgerr.UndefinedTable, "relation \"%s\" does not exist", d.Str())
	}
	return r, nil
}

// tableAllows reports whether privilege p holds on r: system tables are
// read-only, sinks (shown as views) cannot be read.
func tableAllows(r *relation, p string) bool {
	switch {
	case r.weirKind == "system table":
		return p == "select"
	case r.weirKind == "sink":
		return p == "insert" || p == "references" || p == "trigger"
	case r.kind == 'i':
		return false
	}
	return true
}

// privFunc builds a has_*_privilege function: its overloads take an
// optional role (text or OID) followed by the object arguments (each
// given as one of its listed types) and the privilege text.
func privFunc(objArgs [][]datum.Type, check func(objs []datum.Datum, priv string) (datum.Datum, error)) expr.FuncDef {
	var combos [][]datum.Type
	var expand func(i int, acc []datum.Type)
	expand = func(i int, acc []datum.Type) {
		if i == len(objArgs) {
			combos = append(combos, append([]datum.Type(nil), acc...))
			return
		}
		for _, t := range objArgs[i] {
			expand(i+1, append(acc, t))
		}
	}
	expand(0, nil)
	var ovs []expr.Overload
	for _, c := range combos {
		n := len(c)
		ovs = append(ovs, expr.Overload{Args: append(append([]datum.Type(nil), c...), tText), Result: tBool,
			EvalSettings: func(_ func(string) (string, bool), args []datum.Datum) (datum.Datum, error) {
				return check(args[:n], args[n].Str())
			}})
		for _, role := range []datum.Type{tText, tOID} {
			ovs = append(ovs, expr.Overload{Args: append(append([]datum.Type{role}, c...), tText), Result: tBool,
				EvalSettings: func(settings func(string) (string, bool), args []datum.Datum) (datum.Datum, error) {
					ok, err := checkRole(settings, args[0])
					if err != nil || !ok {
						return datum.Null, err
					}
					return check(args[1:n+1], args[n+1].Str())
				}})
		}
	}
	return expr.FuncDef{Overloads: ovs, Volatile: true}
}

// biFunctions are added to functions(e).
func biFunctions(e *engine.Engine, known func(name string) bool) map[string]expr.FuncDef {
	snap := func() *snapshot { return takeSnapshot(e) }
	textOrOID := []datum.Type{tText, tOID}
	all := func(kind string, allowed func(p string) bool, priv string) (datum.Datum, error) {
		ps, err := parsePrivileges(kind, priv)
		if err != nil {
			return datum.Null, err
		}
		for _, p := range ps {
			if allowed(p) {
				return datum.NewBool(true), nil // PostgreSQL: true if any holds
			}
		}
		return datum.NewBool(false), nil
	}
	table := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		r, err := relationArg(snap(), objs[0])
		if err != nil || r == nil {
			return datum.Null, err
		}
		return all("table", func(p string) bool { return tableAllows(r, p) }, priv)
	}
	column := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		r, err := relationArg(snap(), objs[0])
		if err != nil || r == nil {
			return datum.Null, err
		}
		c := objs[1]
		if c.Kind() == datum.KindString {
			found := false
			for _, col := range r.cols {
				if col.name == c.Str() {
					found = true
				}
			}
			if !found {
				return datum.Null, pgerr.New(pgerr.UndefinedColumn, "column \"%s\" of relation \"%s\" does not exist", c.Str(), r.name)
			}
		} else if n := c.Int(); n < 1 || int(n) > len(r.cols) {
			return datum.Null, nil
		}
		return all("column", func(p string) bool { return tableAllows(r, p) }, priv)
	}
	anyColumn := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		r, err := relationArg(snap(), objs[0])
		if err != nil || r == nil {
			return datum.Null, err
		}
		return all("column", func(p string) bool { return tableAllows(r, p) }, priv)
	}
	schema := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		var oid uint32
		if objs[0].Kind() == datum.KindString {
			if oid = namespaceOID(objs[0].Str()); oid == 0 {
				return datum.Null, pgerr.New("3F000", "schema \"%s\" does not exist", objs[0].Str())
			}
		} else if oid = oidArg(objs[0]); namespaceName(oid) == "" {
			return datum.Null, nil
		}
		return all("schema", func(p string) bool { return p == "usage" || oid == oidPublic }, priv)
	}
	database := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		if objs[0].Kind() == datum.KindString {
			if objs[0].Str() != DatabaseName {
				return datum.Null, pgerr.New("3D000", "database \"%s\" does not exist", objs[0].Str())
			}
		} else if oidArg(objs[0]) != oidDatabase {
			return datum.Null, nil
		}
		return all("database", func(p string) bool { return p == "connect" || p == "temporary" || p == "temp" || p == "create" }, priv)
	}
	sequence := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		// Weir has no sequences.
		r, err := relationArg(snap(), objs[0])
		if err != nil || r == nil {
			return datum.Null, err
		}
		return datum.Null, pgerr.New("42809", "\"%s\" is not a sequence", r.name)
	}
	function := func(objs []datum.Datum, priv string) (datum.Datum, error) {
		if objs[0].Kind() == datum.KindString {
			name := strings.TrimSpace(objs[0].Str())
			if i := strings.IndexByte(name, '('); i >= 0 {
				name = name[:i]
			}
			name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"`))
			if !known(strings.TrimPrefix(name, "pg_catalog.")) && procByName(name) == nil && !expr.IsSetFunc(name) && !expr.IsAggregate(strings.TrimPrefix(name, "pg_catalog.")) {
				return datum.Null, pgerr.New(pgerr.UndefinedFunction, "function \"%s\" does not exist", objs[0].Str())
			}
		}
		return all("function", func(string) bool { return true }, priv)
	}
	// The sizes of relations are 0: Weir's storage is one Pebble store,
	// not files per relation. A relation named by text must exist (42P01);
	// by an OID of none the size is NULL.
	size := func(args []datum.Datum) (datum.Datum, error) {
		r, err := relationArg(snap(), args[0])
		if err != nil || r == nil {
			return datum.Null, err
		}
		return datum.NewInt(0), nil
	}
	m := map[string]expr.FuncDef{
		"has_table_privilege":      privFunc([][]datum.Type{textOrOID}, table),
		"has_column_privilege":     privFunc([][]datum.Type{textOrOID, {tText, datum.TypeInt2}}, column),
		"has_any_column_privilege": privFunc([][]datum.Type{textOrOID}, anyColumn),
		"has_schema_privilege":     privFunc([][]datum.Type{textOrOID}, schema),
		"has_database_privilege":   privFunc([][]datum.Type{textOrOID}, database),
		"has_sequence_privilege":   privFunc([][]datum.Type{textOrOID}, sequence),
		"has_function_privilege":   privFunc([][]datum.Type{textOrOID}, function),
		"has_language_privilege": privFunc([][]datum.Type{textOrOID}, func(objs []datum.Datum, priv string) (datum.Datum, error) {
			return all("language", func(string) bool { return true }, priv)
		}),
		"pg_has_role": privFunc([][]datum.Type{textOrOID}, func(objs []datum.Datum, priv string) (datum.Datum, error) {
			return all("role", func(string) bool { return true }, priv)
		}),
		"set_config": def(true, expr.Overload{Args: []datum.Type{tText, tText, tBool}, Result: tText, CalledOnNull: true,
			EvalSetSettings: func(_ func(string) (string, bool), set func(string, string) error, args []datum.Datum) (datum.Datum, error) {
				if args[0].IsNull() {
					return datum.Null, pgerr.New(pgerr.NullValueNotAllowed, "SET requires parameter name")
				}
				v := ""
				if !args[1].IsNull() {
					v = args[1].Str()
				}
				if err := set(args[0].Str(), v); err != nil {
					return datum.Null, err
				}
				return datum.NewString(v), nil
			}}),
		"parse_ident": def(false,
			ov(tText, func(args []datum.Datum) (datum.Datum, error) { return parseIdent(args[0].Str(), true) }, tText),
			ov(tText, func(args []datum.Datum) (datum.Datum, error) { return parseIdent(args[0].Str(), args[1].Bool()) }, tText, tBool)),
		"acldefault": def(false, ov(tText, func(args []datum.Datum) (datum.Datum, error) {
			return datum.NewString(""), nil
		}, tText, tOID)),
		"pg_cancel_backend": def(true, ov(tBool, func(args []datum.Datum) (datum.Datum, error) {
			return signalBackend(e, args[0])
		}, tInt4)),
		"pg_terminate_backend": def(true, ov(tBool, func(args []datum.Datum) (datum.Datum, error) {
			return signalBackend(e, args[0])
		}, tInt4), ov(tBool, func(args []datum.Datum) (datum.Datum, error) {
			return signalBackend(e, args[0])
		}, tInt4, tInt8)),
		"pg_get_triggerdef":       def(false, ov(tText, constNull, tOID), ov(tText, constNull, tOID, tBool)),
		"pg_get_ruledef":          def(false, ov(tText, constNull, tOID), ov(tText, constNull, tOID, tBool)),
		"pg_get_partkeydef":       def(false, ov(tText, constNull, tOID)),
		"pg_get_statisticsobjdef": def(false, ov(tText, constNull, tOID)),
		"pg_get_functiondef":      def(false, ov(tText, constNull, tOID)),
		"pg_indexes_size":         def(false, ov(tInt8, size, tOID), ov(tInt8, size, tText)),
		"pg_relation_size":        def(false, ov(tInt8, size, tOID), ov(tInt8, size, tText), ov(tInt8, size, tOID, tText), ov(tInt8, size, tText, tText)),
		"pg_total_relation_size":  def(false, ov(tInt8, size, tOID), ov(tInt8, size, tText)),
		"pg_table_size":           def(false, ov(tInt8, size, tOID), ov(tInt8, size, tText)),
	}
	return m
}

// signalBackend is pg_cancel_backend(pid): the statement running in that
// session is canceled (57014 there). As in PostgreSQL, a pid of no session
// is a warning and false; Weir has no way to end a session from SQL, so
// pg_terminate_backend cancels its statement too.
func signalBackend(e *engine.Engine, pid datum.Datum) (datum.Datum, error) {
	a := e.ActivitySource()
	if a == nil || !a.CancelBackend(int32(pid.Int())) {
		return datum.NewBool(false), nil
	}
	return datum.NewBool(true), nil
}

// parseIdent is parse_ident(text, strict): the qualified identifier split
// into its parts (unquoted ones lower-cased), as a text array.
func parseIdent(s string, strict bool) (datum.Datum, error) {
	bad := func() (datum.Datum, error) {
		return datum.Null, pgerr.New(pgerr.InvalidParameterValue, "string is not a valid identifier: \"%s\"", s)
	}
	var parts []string
	i := 0
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	skip()
	for {
		if i >= len(s) {
			return bad()
		}
		if s[i] == '"' {
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return datum.Null, pgerr.New(pgerr.InvalidParameterValue, "string is not a valid identifier: \"%s\"", s)
				}
				if s[i] == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if b.Len() == 0 {
				return bad()
			}
			parts = append(parts, b.String())
		} else {
			start := i
			for i < len(s) && (isIdentByte(s[i]) || (i > start && (s[i] >= '0' && s[i] <= '9' || s[i] == '$'))) {
				i++
			}
			if i == start {
				return bad()
			}
			parts = append(parts, strings.ToLower(s[start:i]))
		}
		skip()
		if i < len(s) && s[i] == '.' {
			i++
			skip()
			continue
		}
		if i < len(s) && strict {
			return bad()
		}
		break
	}
	quoted := make([]string, len(parts))
	for k, p := range parts {
		quoted[k] = arrayElem(p)
	}
	return datum.NewString("{" + strings.Join(quoted, ",") + "}"), nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// arrayElem writes one element of a text array's text form, quoted when
// PostgreSQL would.
func arrayElem(s string) string {
	if s != "" && !strings.ContainsAny(s, "{},\"\\ \t\n") && !strings.EqualFold(s, "null") {
		return s
	}
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
