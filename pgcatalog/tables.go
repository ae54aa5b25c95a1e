package pgcatalog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
)

// tableDef defines a virtual table: its columns in a compact form
// ("name type, ...", PostgreSQL type names) and its rows, computed from a
// snapshot of the catalog at query time.
type tableDef struct {
	schema, name string
	cols         string
	rows         func(s *snapshot) [][]any
}

// colType maps the PostgreSQL type of a catalog column to Weir's: names,
// "char", vectors, arrays and node trees are text; reg* and xid are oid.
func colType(t string) datum.Type {
	switch t {
	case "oid", "regproc", "regclass", "regtype", "xid", "regnamespace", "regrole":
		return datum.TypeOID
	case "bool":
		return datum.TypeBool
	case "int2":
		return datum.TypeInt2
	case "int4":
		return datum.TypeInt4
	case "int8":
		return datum.TypeInt8
	case "float4":
		return datum.TypeFloat4
	case "float8":
		return datum.TypeFloat8
	case "timestamptz":
		return datum.TypeTimestampTZ
	}
	return datum.TypeText
}

func parseCols(spec string) []engine.Column {
	var out []engine.Column
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, typ, _ := strings.Cut(f, " ")
		out = append(out, engine.Column{Name: name, Type: colType(strings.TrimSpace(typ))})
	}
	return out
}

// toDatum converts a Go value for a column of type t.
func toDatum(t datum.Type, v any) datum.Datum {
	switch x := v.(type) {
	case nil:
		return datum.Null
	case datum.Datum:
		return x
	case bool:
		return datum.NewBool(x)
	case string:
		if t.Kind() == datum.KindString {
			return datum.NewString(x)
		}
		d, err := datum.Parse(t, x)
		if err != nil {
			return datum.Null
		}
		return d
	case int:
		return numDatum(t, int64(x))
	case int16:
		return numDatum(t, int64(x))
	case int32:
		return numDatum(t, int64(x))
	case int64:
		return numDatum(t, x)
	case uint32:
		return numDatum(t, int64(x))
	case float64:
		return datum.NewFloat(x)
	case time.Time:
		return datum.NewTimestamp(x.UnixMicro())
	}
	panic(fmt.Sprintf("pgcatalog: value %T", v))
}

func numDatum(t datum.Type, v int64) datum.Datum {
	switch t.Kind() {
	case datum.KindFloat:
		return datum.NewFloat(float64(v))
	case datum.KindString:
		return datum.NewString(strconv.FormatInt(v, 10))
	case datum.KindBool:
		return datum.NewBool(v != 0)
	}
	return datum.NewInt(v)
}

// virtualTable turns a definition into the engine's form.
func (d *tableDef) virtualTable() engine.VirtualTable {
	cols := parseCols(d.cols)
	rows := d.rows
	// Catalogs with OIDs also have tableoid (PostgreSQL's system column,
	// which pg_dump reads); here it is an ordinary last column.
	tableOID := 0
	if d.schema == "pg_catalog" && len(cols) > 0 && cols[0].Name == "oid" {
		tableOID = int(virtualOID(d.schema, d.name, nil))
		cols = append(cols, engine.Column{Name: "tableoid", Type: tOID})
	}
	return engine.VirtualTable{
		Schema:  d.schema,
		Name:    d.name,
		Columns: cols,
		Rows: func(e *engine.Engine) ([]datum.Row, error) {
			raw := rows(takeSnapshot(e))
			out := make([]datum.Row, len(raw))
			for i, r := range raw {
				if tableOID != 0 {
					r = append(r[:len(r):len(r)], tableOID)
				}
				if len(r) != len(cols) {
					panic(fmt.Sprintf("pgcatalog: %s.%s row has %d values for %d columns", d.schema, d.name, len(r), len(cols)))
				}
				row := make(datum.Row, len(cols))
				for j, v := range r {
					row[j] = toDatum(cols[j].Type, v)
				}
				out[i] = row
			}
			return out, nil
		},
	}
}

func empty(*snapshot) [][]any { return nil }

func relkindName(r *relation) string {
	switch r.kind {
	case 'v':
		return "VIEW"
	}
	return "BASE TABLE"
}

// int2vector formats column numbers as PostgreSQL's int2vector ("1 3").
func int2vector(idx []int, plusOne bool) string {
	parts := make([]string, len(idx))
	for i, v := range idx {
		if plusOne {
			v++
		}
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, " ")
}

// intArray formats column numbers as an int2[] literal ("{1,3}").
func intArray(idx []int) string {
	return "{" + strings.ReplaceAll(int2vector(idx, true), " ", ",") + "}"
}

var tableDefs = []*tableDef{
	{"pg_catalog", "pg_namespace", "oid oid, nspname name, nspowner oid, nspacl text",
		func(*snapshot) [][]any {
			return [][]any{
				{oidPGCatalog, "pg_catalog", oidOwner, nil},
				{oidPGToast, "pg_toast", oidOwner, nil},
				{oidPublic, "public", oidOwner, nil},
				{oidInformationSchema, "information_schema", oidOwner, nil},
			}
		}},
	{"pg_catalog", "pg_class", `oid oid, relname name, relnamespace oid, reltype oid, reloftype oid, relowner oid,
		relam oid, relfilenode oid, reltablespace oid, relpages int4, reltuples float4, relallvisible int4,
		reltoastrelid oid, relhasindex bool, relisshared bool, relpersistence char, relkind char, relnatts int2,
		relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool,
		relforcerowsecurity bool, relispopulated bool, relreplident char, relispartition bool, relrewrite oid,
		relfrozenxid xid, relminmxid xid, relacl text, reloptions text, relpartbound text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				am := uint32(0)
				switch r.kind {
				case 'r':
					am = oidHeapAM
				case 'i':
					am = oidBtreeAM
				}
				hasIndex := r.kind == 'r' && len(r.pk) > 0
				out = append(out, []any{r.oid, r.name, r.nsOID, 0, 0, oidOwner,
					am, r.oid, 0, 0, -1.0, 0,
					0, hasIndex, false, "p", string(r.kind), len(r.cols),
					0, false, false, false, false,
					false, true, "d", false, 0,
					0, 0, nil, nil, nil})
			}
			return out
		}},
	{"pg_catalog", "pg_attribute", `attrelid oid, attname name, atttypid oid, attstattarget int4, attlen int2,
		attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool, attstorage char,
		attalign char, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity char, attgenerated char,
		attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl text, attoptions text,
		attfdwoptions text, attmissingval text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				for i, c := range r.cols {
					t := typeByOID[typeOID(c.typ)]
					coll := uint32(0)
					if t.collate {
						coll = oidDefaultCollation
					}
					out = append(out, []any{r.oid, c.name, t.oid, -1, t.len,
						i + 1, 0, -1, -1, t.byVal, "p",
						"i", c.notNull, false, false, "", "",
						false, true, 0, coll, nil, nil,
						nil, nil})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_type", `oid oid, typname name, typnamespace oid, typowner oid, typlen int2, typbyval bool,
		typtype char, typcategory char, typispreferred bool, typisdefined bool, typdelim char, typrelid oid,
		typelem oid, typarray oid, typinput regproc, typoutput regproc, typreceive regproc, typsend regproc,
		typmodin regproc, typmodout regproc, typanalyze regproc, typalign char, typstorage char,
		typnotnull bool, typbasetype oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin text,
		typdefault text, typacl text`,
		func(*snapshot) [][]any {
			out := make([][]any, 0, len(allTypes))
			for _, t := range allTypes {
				coll := uint32(0)
				if t.collate {
					coll = oidDefaultCollation
				}
				input := procOID(t.input)
				out = append(out, []any{t.oid, t.name, oidPGCatalog, oidOwner, t.len, t.byVal,
					string(t.typtype), string(t.category), t.oid == 25 || t.oid == 701 || t.oid == 1184, true, ",", 0,
					t.elem, t.array, input, 0, 0, 0,
					0, 0, 0, "i", "p",
					false, 0, -1, 0, coll, nil,
					nil, nil})
			}
			return out
		}},
	{"pg_catalog", "pg_database", `oid oid, datname name, datdba oid, encoding int4, datlocprovider char,
		datistemplate bool, datallowconn bool, datconnlimit int4, datlastsysoid oid, datfrozenxid xid,
		datminmxid xid, dattablespace oid, datcollate name, datctype name, daticulocale text,
		datcollversion text, datacl text`,
		func(*snapshot) [][]any {
			return [][]any{{oidDatabase, DatabaseName, oidOwner, 6, "c",
				false, true, -1, 0, 0,
				0, oidTablespace, "C.UTF-8", "C.UTF-8", nil,
				nil, nil}}
		}},
	{"pg_catalog", "pg_index", `indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool,
		indisprimary bool, indisexclusion bool, indimmediate bool, indisclustered bool, indisvalid bool,
		indcheckxmin bool, indisready bool, indislive bool, indisreplident bool, indkey int2vector,
		indcollation oidvector, indclass oidvector, indoption int2vector, indexprs pg_node_tree,
		indpred pg_node_tree`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind != 'r' || len(r.pk) == 0 {
					continue
				}
				n := len(r.pk)
				zeros := strings.TrimSpace(strings.Repeat("0 ", n))
				out = append(out, []any{indexOID(r.catalogID), r.oid, n, n, true,
					true, false, true, false, true,
					false, true, true, false, int2vector(r.pk, true),
					zeros, zeros, zeros, nil,
					nil})
			}
			return out
		}},
	{"pg_catalog", "pg_constraint", `oid oid, conname name, connamespace oid, contype char, condeferrable bool,
		condeferred bool, convalidated bool, conrelid oid, contypid oid, conindid oid, conparentid oid,
		confrelid oid, confupdtype char, confdeltype char, confmatchtype char, conislocal bool,
		coninhcount int4, connoinherit bool, conkey text, confkey text, conpfeqop text, conppeqop text,
		conffeqop text, conexclop text, conbin pg_node_tree`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind != 'r' || len(r.pk) == 0 {
					continue
				}
				out = append(out, []any{constraintOID(r.catalogID), r.name + "_pkey", oidPublic, "p", false,
					false, true, r.oid, 0, indexOID(r.catalogID), 0,
					0, " ", " ", " ", true,
					0, true, intArray(r.pk), nil, nil, nil,
					nil, nil, nil})
			}
			return out
		}},
	{"pg_catalog", "pg_attrdef", "oid oid, adrelid oid, adnum int2, adbin pg_node_tree", empty},
	{"pg_catalog", "pg_description", "objoid oid, classoid oid, objsubid int4, description text",
		func(s *snapshot) [][]any {
			// PostgreSQL's comment on public (pg_dump leaves it alone).
			out := [][]any{{oidPublic, uint32(2615), 0, "standard public schema"}}
			for _, r := range s.rels {
				if r.desc != "" {
					out = append(out, []any{r.oid, oidPGClass, 0, r.desc})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_shdescription", "objoid oid, classoid oid, description text", empty},
	{"pg_catalog", "pg_proc", `oid oid, proname name, pronamespace oid, proowner oid, prolang oid, procost float4,
		prorows float4, provariadic oid, prosupport regproc, prokind char, prosecdef bool, proleakproof bool,
		proisstrict bool, proretset bool, provolatile char, proparallel char, pronargs int2,
		pronargdefaults int2, prorettype oid, proargtypes oidvector, proallargtypes text, proargmodes text,
		proargnames text, proargdefaults pg_node_tree, protrftypes text, prosrc text, probin text,
		prosqlbody pg_node_tree, proconfig text, proacl text`,
		func(*snapshot) [][]any {
			var out [][]any
			for _, p := range procs {
				out = append(out, []any{p.oid, p.name, oidPGCatalog, oidOwner, 12, 1.0,
					0.0, 0, 0, "f", false, false,
					true, false, "i", "s", p.nargs,
					0, p.ret, "", nil, nil,
					nil, nil, nil, p.name, nil,
					nil, nil, nil})
			}
			return out
		}},
	{"pg_catalog", "pg_am", "oid oid, amname name, amhandler regproc, amtype char",
		func(*snapshot) [][]any {
			return [][]any{
				{oidHeapAM, "heap", 0, "t"},
				{oidBtreeAM, "btree", 0, "i"},
				{oidHashAM, "hash", 0, "i"},
			}
		}},
	{"pg_catalog", "pg_roles", `rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool,
		rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz,
		rolbypassrls bool, rolconfig text, oid oid`,
		func(*snapshot) [][]any {
			return [][]any{{UserName, true, true, true, true, true, false, -1, "********", nil, true, nil, oidOwner}}
		}},
	{"pg_catalog", "pg_authid", `oid oid, rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool,
		rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolbypassrls bool, rolconnlimit int4,
		rolpassword text, rolvaliduntil timestamptz`,
		func(*snapshot) [][]any {
			return [][]any{{oidOwner, UserName, true, true, true, true, true, false, true, -1, nil, nil}}
		}},
	{"pg_catalog", "pg_user", `usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl bool,
		usebypassrls bool, passwd text, valuntil timestamptz, useconfig text`,
		func(*snapshot) [][]any {
			return [][]any{{UserName, oidOwner, true, true, false, true, "********", nil, nil}}
		}},
	{"pg_catalog", "pg_auth_members", "roleid oid, member oid, grantor oid, admin_option bool", empty},
	{"pg_catalog", "pg_default_acl", "oid oid, defaclrole oid, defaclnamespace oid, defaclobjtype char, defaclacl aclitem[]", empty},
	{"pg_catalog", "pg_tablespace", "oid oid, spcname name, spcowner oid, spcacl text, spcoptions text",
		func(*snapshot) [][]any {
			return [][]any{{oidTablespace, "pg_default", oidOwner, nil, nil}, {1664, "pg_global", oidOwner, nil, nil}}
		}},
	{"pg_catalog", "pg_inherits", "inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool", empty},
	{"pg_catalog", "pg_collation", `oid oid, collname name, collnamespace oid, collowner oid, collprovider char,
		collisdeterministic bool, collencoding int4, collcollate name, collctype name, colliculocale text,
		collversion text`,
		func(*snapshot) [][]any {
			return [][]any{
				{oidDefaultCollation, "default", oidPGCatalog, oidOwner, "d", true, -1, "", "", nil, nil},
				{950, "C", oidPGCatalog, oidOwner, "c", true, -1, "C", "C", nil, nil},
				{951, "POSIX", oidPGCatalog, oidOwner, "c", true, -1, "POSIX", "POSIX", nil, nil},
			}
		}},
	{"pg_catalog", "pg_extension", `oid oid, extname name, extowner oid, extnamespace oid, extrelocatable bool,
		extversion text, extconfig text, extcondition text`,
		func(*snapshot) [][]any {
			return [][]any{{13500, "plpgsql", oidOwner, oidPGCatalog, false, "1.0", nil, nil}}
		}},
	{"pg_catalog", "pg_settings", `name text, setting text, unit text, category text, short_desc text,
		extra_desc text, context text, vartype text, source text, min_val text, max_val text, enumvals text,
		boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool`,
		func(*snapshot) [][]any {
			var out [][]any
			for _, st := range settings {
				out = append(out, []any{st.name, st.value, st.unit, st.category, st.desc,
					nil, st.context, st.vartype, "default", nil, nil, nil,
					st.value, st.value, nil, nil, false})
			}
			return out
		}},
	{"pg_catalog", "pg_enum", "oid oid, enumtypid oid, enumsortorder float4, enumlabel name", empty},
	{"pg_catalog", "pg_sequence", `seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8,
		seqmin int8, seqcache int8, seqcycle bool`, empty},
	{"pg_catalog", "pg_policy", `oid oid, polname name, polrelid oid, polcmd char, polpermissive bool,
		polroles text, polqual pg_node_tree, polwithcheck pg_node_tree`, empty},
	{"pg_catalog", "pg_statistic_ext", `oid oid, stxrelid oid, stxname name, stxnamespace oid, stxowner oid,
		stxstattarget int4, stxkeys int2vector, stxkind text, stxexprs pg_node_tree`, empty},
	{"pg_catalog", "pg_publication", `oid oid, pubname name, pubowner oid, puballtables bool, pubinsert bool,
		pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool`, empty},
	{"pg_catalog", "pg_publication_rel", "oid oid, prpubid oid, prrelid oid, prqual pg_node_tree, prattrs int2vector", empty},
	{"pg_catalog", "pg_publication_namespace", "oid oid, pnpubid oid, pnnspid oid", empty},
	{"pg_catalog", "pg_trigger", `oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid, tgtype int2,
		tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid,
		tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr int2vector, tgargs text, tgqual pg_node_tree,
		tgoldtable name, tgnewtable name`, empty},
	{"pg_catalog", "pg_rewrite", `oid oid, rulename name, ev_class oid, ev_type char, ev_enabled char,
		is_instead bool, ev_qual pg_node_tree, ev_action pg_node_tree`, empty},
	{"pg_catalog", "pg_range", `rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid,
		rngsubopc oid, rngcanonical regproc, rngsubdiff regproc`, empty},
	{"pg_catalog", "pg_foreign_table", "ftrelid oid, ftserver oid, ftoptions text", empty},
	{"pg_catalog", "pg_foreign_server", `oid oid, srvname name, srvowner oid, srvfdw oid, srvtype text,
		srvversion text, srvacl text, srvoptions text`, empty},
	{"pg_catalog", "pg_foreign_data_wrapper", `oid oid, fdwname name, fdwowner oid, fdwhandler oid,
		fdwvalidator oid, fdwacl text, fdwoptions text`, empty},
	{"pg_catalog", "pg_event_trigger", `oid oid, evtname name, evtevent name, evtowner oid, evtfoid oid,
		evtenabled char, evttags text`, empty},
	{"pg_catalog", "pg_language", `oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted bool,
		lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl text`,
		func(*snapshot) [][]any {
			return [][]any{{12, "internal", oidOwner, false, false, 0, 0, 0, nil}, {14, "sql", oidOwner, false, true, 0, 0, 0, nil}}
		}},
	{"pg_catalog", "pg_opclass", `oid oid, opcmethod oid, opcname name, opcnamespace oid, opcowner oid,
		opcfamily oid, opcintype oid, opcdefault bool, opckeytype oid`, empty},
	{"pg_catalog", "pg_operator", `oid oid, oprname name, oprnamespace oid, oprowner oid, oprkind char,
		oprcanmerge bool, oprcanhash bool, oprleft oid, oprright oid, oprresult oid, oprcom oid, oprnegate oid,
		oprcode regproc, oprrest regproc, oprjoin regproc`, empty},
	{"pg_catalog", "pg_cast", `oid oid, castsource oid, casttarget oid, castfunc oid, castcontext char,
		castmethod char`, empty},
	{"pg_catalog", "pg_conversion", `oid oid, conname name, connamespace oid, conowner oid, conforencoding int4,
		contoencoding int4, conproc regproc, condefault bool`, empty},
	{"pg_catalog", "pg_depend", `classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid,
		refobjsubid int4, deptype char`, empty},
	{"pg_catalog", "pg_locks", `locktype text, database oid, relation oid, page int4, tuple int2,
		virtualxid text, transactionid xid, classid oid, objid oid, objsubid int2, virtualtransaction text,
		pid int4, mode text, granted bool, fastpath bool, waitstart timestamptz`, empty},
	{"pg_catalog", "pg_stat_activity", `datid oid, datname name, pid int4, leader_pid int4, usesysid oid,
		usename name, application_name text, client_addr text, client_hostname text, client_port int4,
		backend_start timestamptz, xact_start timestamptz, query_start timestamptz, state_change timestamptz,
		wait_event_type text, wait_event text, state text, backend_xid xid, backend_xmin xid, query_id int8,
		query text, backend_type text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, a := range s.activity {
				var qs, addr, port any
				if !a.QueryStart.IsZero() {
					qs = a.QueryStart
				}
				if a.ClientAddr != "" {
					addr, port = a.ClientAddr, a.ClientPort
				}
				out = append(out, []any{oidDatabase, a.Database, a.PID, nil, oidOwner,
					a.User, a.Application, addr, nil, port,
					a.BackendStart, nil, qs, qs,
					nil, nil, a.State, nil, nil, nil,
					a.Query, "client backend"})
			}
			return out
		}},
	{"pg_catalog", "pg_matviews", `schemaname name, matviewname name, matviewowner name, tablespace name,
		hasindexes bool, ispopulated bool, definition text`, empty},
	{"pg_catalog", "pg_tables", `schemaname name, tablename name, tableowner name, tablespace name,
		hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'r' {
					out = append(out, []any{r.schema, r.name, UserName, nil, len(r.pk) > 0, false, false, false})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_views", "schemaname name, viewname name, viewowner name, definition text",
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'v' {
					out = append(out, []any{r.schema, r.name, UserName, nilIfEmpty(r.def)})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_indexes", "schemaname name, tablename name, indexname name, tablespace name, indexdef text",
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'r' && len(r.pk) > 0 {
					out = append(out, []any{r.schema, r.name, r.name + "_pkey", nil, indexDef(s, indexOID(r.catalogID), 0)})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_timezone_names", "name text, abbrev text, utc_offset text, is_dst bool",
		func(*snapshot) [][]any { return [][]any{{"UTC", "UTC", "00:00:00", false}} }},

	// information_schema.
	{"information_schema", "schemata", `catalog_name text, schema_name text, schema_owner text,
		default_character_set_catalog text, default_character_set_schema text, default_character_set_name text,
		sql_path text`,
		func(*snapshot) [][]any {
			var out [][]any
			for _, n := range []string{"information_schema", "pg_catalog", "public"} {
				out = append(out, []any{DatabaseName, n, UserName, nil, nil, nil, nil})
			}
			return out
		}},
	{"information_schema", "tables", `table_catalog text, table_schema text, table_name text, table_type text,
		self_referencing_column_name text, reference_generation text, user_defined_type_catalog text,
		user_defined_type_schema text, user_defined_type_name text, is_insertable_into text, is_typed text,
		commit_action text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'i' {
					continue
				}
				ins := "NO"
				if r.weirKind == "table" || r.weirKind == "source" {
					ins = "YES"
				}
				out = append(out, []any{DatabaseName, r.schema, r.name, relkindName(r), nil, nil, nil, nil, nil, ins, "NO", nil})
			}
			return out
		}},
	{"information_schema", "views", `table_catalog text, table_schema text, table_name text, view_definition text,
		check_option text, is_updatable text, is_insertable_into text, is_trigger_updatable text,
		is_trigger_deletable text, is_trigger_insertable_into text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'v' {
					out = append(out, []any{DatabaseName, r.schema, r.name, nilIfEmpty(r.def), "NONE", "NO", "NO", "NO", "NO", "NO"})
				}
			}
			return out
		}},
	{"information_schema", "columns", `table_catalog text, table_schema text, table_name text, column_name text,
		ordinal_position int4, column_default text, is_nullable text, data_type text,
		character_maximum_length int4, character_octet_length int4, numeric_precision int4,
		numeric_precision_radix int4, numeric_scale int4, datetime_precision int4, interval_type text,
		interval_precision int4, character_set_catalog text, character_set_schema text,
		character_set_name text, collation_catalog text, collation_schema text, collation_name text,
		domain_catalog text, domain_schema text, domain_name text, udt_catalog text, udt_schema text,
		udt_name text, scope_catalog text, scope_schema text, scope_name text, maximum_cardinality int4,
		dtd_identifier text, is_self_referencing text, is_identity text, identity_generation text,
		identity_start text, identity_increment text, identity_maximum text, identity_minimum text,
		identity_cycle text, is_generated text, generation_expression text, is_updatable text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'i' {
					continue
				}
				upd := "NO"
				if r.weirKind == "table" {
					upd = "YES"
				}
				for i, c := range r.cols {
					t := typeByOID[typeOID(c.typ)]
					nullable := "YES"
					if c.notNull {
						nullable = "NO"
					}
					prec, radix, scale, dtprec := numericInfo(t.oid)
					out = append(out, []any{DatabaseName, r.schema, r.name, c.name,
						i + 1, nil, nullable, t.sqlName,
						nil, octetLen(t.oid), prec,
						radix, scale, dtprec, nil,
						nil, nil, nil,
						nil, nil, nil, nil,
						nil, nil, nil, DatabaseName, "pg_catalog",
						t.name, nil, nil, nil, nil,
						strconv.Itoa(i + 1), "NO", "NO", nil,
						nil, nil, nil, nil,
						"NO", "NEVER", nil, upd})
				}
			}
			return out
		}},
	{"information_schema", "table_constraints", `constraint_catalog text, constraint_schema text,
		constraint_name text, table_catalog text, table_schema text, table_name text, constraint_type text,
		is_deferrable text, initially_deferred text, enforced text, nulls_distinct text`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'r' && len(r.pk) > 0 {
					out = append(out, []any{DatabaseName, r.schema, r.name + "_pkey", DatabaseName, r.schema, r.name,
						"PRIMARY KEY", "NO", "NO", "YES", nil})
				}
			}
			return out
		}},
	{"information_schema", "key_column_usage", `constraint_catalog text, constraint_schema text,
		constraint_name text, table_catalog text, table_schema text, table_name text, column_name text,
		ordinal_position int4, position_in_unique_constraint int4`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind != 'r' {
					continue
				}
				for i, c := range r.pk {
					out = append(out, []any{DatabaseName, r.schema, r.name + "_pkey", DatabaseName, r.schema, r.name,
						r.cols[c].name, i + 1, nil})
				}
			}
			return out
		}},
	{"information_schema", "referential_constraints", `constraint_catalog text, constraint_schema text,
		constraint_name text, unique_constraint_catalog text, unique_constraint_schema text,
		unique_constraint_name text, match_option text, update_rule text, delete_rule text`, empty},
	{"information_schema", "routines", `specific_catalog text, specific_schema text, specific_name text,
		routine_catalog text, routine_schema text, routine_name text, routine_type text, data_type text`, empty},
	{"information_schema", "character_sets", `character_set_catalog text, character_set_schema text,
		character_set_name text, character_repertoire text, form_of_use text, default_collate_catalog text,
		default_collate_schema text, default_collate_name text`,
		func(*snapshot) [][]any {
			return [][]any{{nil, nil, "UTF8", "UCS", "UTF8", DatabaseName, "pg_catalog", "C.UTF-8"}}
		}},
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// numericInfo returns information_schema's numeric_precision,
// numeric_precision_radix, numeric_scale and datetime_precision.
func numericInfo(oid uint32) (prec, radix, scale, dtprec any) {
	switch oid {
	case 21:
		return 16, 2, 0, nil
	case 23:
		return 32, 2, 0, nil
	case 20:
		return 64, 2, 0, nil
	case 700:
		return 24, 2, nil, nil
	case 701:
		return 53, 2, nil, nil
	case 1700:
		return nil, 10, nil, nil
	case 1082:
		return nil, nil, nil, 0
	case 1114, 1184, 1186:
		return nil, nil, nil, 6
	}
	return nil, nil, nil, nil
}

func octetLen(oid uint32) any {
	switch oid {
	case 25, 1043, 1042:
		return 1073741824
	}
	return nil
}

// virtualTables returns every table this package defines.
func virtualTables() []engine.VirtualTable {
	out := make([]engine.VirtualTable, len(tableDefs))
	for i, d := range tableDefs {
		out[i] = d.virtualTable()
	}
	return out
}

// setting is a row of pg_settings (and what current_setting reads).
type setting struct {
	name, value, unit, category, desc, context, vartype string
}

var settings = []setting{
	{"application_name", "", "", "Reporting and Logging", "Sets the application name.", "user", "string"},
	{"client_encoding", "UTF8", "", "Client Connection Defaults", "Sets the client's character set encoding.", "user", "string"},
	{"DateStyle", "ISO, MDY", "", "Client Connection Defaults", "Sets the display format for date and time values.", "user", "string"},
	{"default_transaction_isolation", "read committed", "", "Client Connection Defaults", "Sets the transaction isolation level of each new transaction.", "user", "enum"},
	{"default_transaction_read_only", "off", "", "Client Connection Defaults", "Sets the default read-only status of new transactions.", "user", "bool"},
	{"extra_float_digits", "1", "", "Client Connection Defaults", "Sets the number of digits displayed for floating-point values.", "user", "integer"},
	{"integer_datetimes", "on", "", "Preset Options", "Shows whether datetimes are integer based.", "internal", "bool"},
	{"IntervalStyle", "postgres", "", "Client Connection Defaults", "Sets the display format for interval values.", "user", "enum"},
	{"lc_collate", "C.UTF-8", "", "Preset Options", "Shows the collation order locale.", "internal", "string"},
	{"lc_ctype", "C.UTF-8", "", "Preset Options", "Shows the character classification and case conversion locale.", "internal", "string"},
	{"max_connections", "100", "", "Connections and Authentication", "Sets the maximum number of concurrent connections.", "postmaster", "integer"},
	{"max_identifier_length", "63", "", "Preset Options", "Shows the maximum identifier length.", "internal", "integer"},
	{"max_index_keys", "32", "", "Preset Options", "Shows the maximum number of index keys.", "internal", "integer"},
	{"search_path", "\"$user\", public", "", "Client Connection Defaults", "Sets the schema search order for names that are not schema-qualified.", "user", "string"},
	{"server_encoding", "UTF8", "", "Preset Options", "Shows the server (database) character set encoding.", "internal", "string"},
	{"server_version", "13.9 (Weir 0.1)", "", "Preset Options", "Shows the server version.", "internal", "string"},
	{"server_version_num", "130009", "", "Preset Options", "Shows the server version as an integer.", "internal", "integer"},
	{"standard_conforming_strings", "on", "", "Version and Platform Compatibility", "Causes '...' strings to treat backslashes literally.", "user", "bool"},
	{"statement_timeout", "0", "ms", "Client Connection Defaults", "Sets the maximum allowed duration of any statement.", "user", "integer"},
	{"TimeZone", "UTC", "", "Client Connection Defaults", "Sets the time zone for displaying and interpreting time stamps.", "user", "string"},
	{"transaction_isolation", "read committed", "", "Client Connection Defaults", "Sets the current transaction's isolation level.", "user", "enum"},
	{"transaction_read_only", "off", "", "Client Connection Defaults", "Sets the current transaction's read-only status.", "user", "bool"},
}

func settingValue(name string) (string, bool) {
	for _, s := range settings {
		if strings.EqualFold(s.name, name) {
			return s.value, true
		}
	}
	return "", false
}
