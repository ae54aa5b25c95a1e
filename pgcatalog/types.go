package pgcatalog

import (
	"strings"

	"github.com/weir-sql/weir/datum"
)

// pgType is a row of pg_type: the types Weir has and the common others a
// client may look up by OID (arrays included), with PostgreSQL's OIDs.
type pgType struct {
	oid      uint32
	name     string // typname
	sqlName  string // format_type's spelling
	len      int16
	byVal    bool
	typtype  byte // b base, p pseudo, d domain, c composite
	category byte
	elem     uint32 // for arrays: the element type
	array    uint32 // the array type of this type
	input    string // typinput (array_in for arrays)
	collate  bool   // collatable (typcollation 100)
}

var pgTypes = []pgType{
	{16, "bool", "boolean", 1, true, 'b', 'B', 0, 1000, "boolin", false},
	{17, "bytea", "bytea", -1, false, 'b', 'U', 0, 1001, "byteain", false},
	{18, "char", "\"char\"", 1, true, 'b', 'Z', 0, 1002, "charin", false},
	{19, "name", "name", 64, false, 'b', 'S', 0, 1003, "namein", true},
	{20, "int8", "bigint", 8, true, 'b', 'N', 0, 1016, "int8in", false},
	{21, "int2", "smallint", 2, true, 'b', 'N', 0, 1005, "int2in", false},
	{22, "int2vector", "int2vector", -1, false, 'b', 'A', 21, 1006, "int2vectorin", false},
	{23, "int4", "integer", 4, true, 'b', 'N', 0, 1007, "int4in", false},
	{24, "regproc", "regproc", 4, true, 'b', 'N', 0, 1008, "regprocin", false},
	{25, "text", "text", -1, false, 'b', 'S', 0, 1009, "textin", true},
	{26, "oid", "oid", 4, true, 'b', 'N', 0, 1028, "oidin", false},
	{27, "tid", "tid", 6, false, 'b', 'U', 0, 1010, "tidin", false},
	{28, "xid", "xid", 4, true, 'b', 'U', 0, 1011, "xidin", false},
	{29, "cid", "cid", 4, true, 'b', 'U', 0, 1012, "cidin", false},
	{30, "oidvector", "oidvector", -1, false, 'b', 'A', 26, 1013, "oidvectorin", false},
	{114, "json", "json", -1, false, 'b', 'U', 0, 199, "json_in", false},
	{142, "xml", "xml", -1, false, 'b', 'U', 0, 143, "xml_in", false},
	{194, "pg_node_tree", "pg_node_tree", -1, false, 'b', 'Z', 0, 0, "pg_node_tree_in", true},
	{700, "float4", "real", 4, true, 'b', 'N', 0, 1021, "float4in", false},
	{701, "float8", "double precision", 8, true, 'b', 'N', 0, 1022, "float8in", false},
	{705, "unknown", "unknown", -2, false, 'p', 'X', 0, 0, "unknownin", false},
	{790, "money", "money", 8, true, 'b', 'N', 0, 791, "cash_in", false},
	{869, "inet", "inet", -1, false, 'b', 'I', 0, 1041, "inet_in", false},
	{1033, "aclitem", "aclitem", 12, false, 'b', 'U', 0, 1034, "aclitemin", false},
	{1042, "bpchar", "character", -1, false, 'b', 'S', 0, 1014, "bpcharin", true},
	{1043, "varchar", "character varying", -1, false, 'b', 'S', 0, 1015, "varcharin", true},
	{1082, "date", "date", 4, true, 'b', 'D', 0, 1182, "date_in", false},
	{1083, "time", "time without time zone", 8, true, 'b', 'D', 0, 1183, "time_in", false},
	{1114, "timestamp", "timestamp without time zone", 8, true, 'b', 'D', 0, 1115, "timestamp_in", false},
	{1184, "timestamptz", "timestamp with time zone", 8, true, 'b', 'D', 0, 1185, "timestamptz_in", false},
	{1186, "interval", "interval", 16, false, 'b', 'T', 0, 1187, "interval_in", false},
	{1266, "timetz", "time with time zone", 12, false, 'b', 'D', 0, 1270, "timetz_in", false},
	{1560, "bit", "bit", -1, false, 'b', 'V', 0, 1561, "bit_in", false},
	{1562, "varbit", "bit varying", -1, false, 'b', 'V', 0, 1563, "varbit_in", false},
	{1700, "numeric", "numeric", -1, false, 'b', 'N', 0, 1231, "numeric_in", false},
	{2205, "regclass", "regclass", 4, true, 'b', 'N', 0, 2210, "regclassin", false},
	{2206, "regtype", "regtype", 4, true, 'b', 'N', 0, 2211, "regtypein", false},
	{2249, "record", "record", -1, false, 'p', 'P', 0, 2287, "record_in", false},
	{2275, "cstring", "cstring", -2, false, 'p', 'P', 0, 1263, "cstring_in", false},
	{2276, "any", "\"any\"", 4, true, 'p', 'P', 0, 0, "any_in", false},
	{2277, "anyarray", "anyarray", -1, false, 'p', 'P', 0, 0, "anyarray_in", false},
	{2278, "void", "void", 4, true, 'p', 'P', 0, 0, "void_in", false},
	{2279, "trigger", "trigger", 4, true, 'p', 'P', 0, 0, "trigger_in", false},
	{2280, "language_handler", "language_handler", 4, true, 'p', 'P', 0, 0, "language_handler_in", false},
	{2281, "internal", "internal", 8, true, 'p', 'P', 0, 0, "internal_in", false},
	{2283, "anyelement", "anyelement", 4, true, 'p', 'P', 0, 0, "anyelement_in", false},
	{3838, "event_trigger", "event_trigger", 4, true, 'p', 'P', 0, 0, "event_trigger_in", false},
	{2950, "uuid", "uuid", 16, false, 'b', 'U', 0, 2951, "uuid_in", false},
	{3802, "jsonb", "jsonb", -1, false, 'b', 'U', 0, 3807, "jsonb_in", false},
	{4089, "regnamespace", "regnamespace", 4, true, 'b', 'N', 0, 4090, "regnamespacein", false},
	{4096, "regrole", "regrole", 4, true, 'b', 'N', 0, 4097, "regrolein", false},
}

// allTypes is pgTypes plus an array type for each that has one.
var allTypes, typeByOID = func() ([]pgType, map[uint32]*pgType) {
	all := append([]pgType(nil), pgTypes...)
	for _, t := range pgTypes {
		if t.array == 0 {
			continue
		}
		all = append(all, pgType{
			oid: t.array, name: "_" + t.name, sqlName: t.sqlName + "[]", len: -1, typtype: 'b',
			category: 'A', elem: t.oid, input: "array_in", collate: t.collate,
		})
	}
	m := make(map[uint32]*pgType, len(all))
	for i := range all {
		m[all[i].oid] = &all[i]
	}
	return all, m
}()

// typeOID is the pg_type OID of a Weir column type (unresolved types are
// text).
func typeOID(t datum.Type) uint32 {
	if t == datum.TypeUnknown {
		return 25
	}
	return t.OID()
}

// formatType is format_type(oid, typmod): the SQL spelling of a type.
func formatType(oid uint32, typmod int64) string {
	t := typeByOID[oid]
	if t == nil {
		return "???"
	}
	name := t.sqlName
	if typmod >= 0 {
		switch oid {
		case 1043, 1042:
			if typmod >= 4 {
				base := name
				name = base + "(" + itoa(typmod-4) + ")"
			}
		case 1700:
			if typmod >= 4 {
				m := typmod - 4
				name = "numeric(" + itoa(m>>16) + "," + itoa(m&0xffff) + ")"
			}
		}
	}
	return name
}

func itoa(v int64) string {
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// typeByName finds a type by typname or SQL spelling, for to_regtype.
func typeByName(name string) *pgType {
	name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), "pg_catalog.")))
	for i := range allTypes {
		if allTypes[i].name == name || allTypes[i].sqlName == name {
			return &allTypes[i]
		}
	}
	if t, ok := datum.ParseTypeName(name); ok {
		return typeByOID[typeOID(t)]
	}
	return nil
}
