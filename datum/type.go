package datum

import "strings"

// Kind is the physical representation of a Datum.
type Kind uint8

const (
	KindNull Kind = iota
	KindBool
	KindInt       // int64
	KindFloat     // float64
	KindString    // UTF-8 text
	KindBytes     // raw bytes
	KindTimestamp // microseconds since the Unix epoch, UTC
	KindDate      // days since the Unix epoch
	KindInterval  // microseconds plus months
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "bytes", "timestamp", "date", "interval"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind?"
}

// Type is a SQL column type. Several types share a Kind (INT and BIGINT are
// both KindInt); the Type is kept for schemas and for the wire protocol's
// type OIDs.
type Type uint8

const (
	TypeUnknown Type = iota // an untyped NULL or string literal before resolution
	TypeBool
	TypeInt2
	TypeInt4
	TypeInt8
	TypeFloat4
	TypeFloat8
	TypeNumeric // stored as float64 (see doc); reported as numeric
	TypeText
	TypeVarchar
	TypeBytea
	TypeTimestamp
	TypeTimestampTZ
	TypeDate
	TypeInterval
	TypeUUID // stored as text
	TypeJSON // stored as text
	TypeOID  // stored as int
)

var typeInfo = [...]struct {
	name string
	kind Kind
	oid  uint32
}{
	TypeUnknown:     {"unknown", KindNull, 705},
	TypeBool:        {"BOOLEAN", KindBool, 16},
	TypeInt2:        {"SMALLINT", KindInt, 21},
	TypeInt4:        {"INTEGER", KindInt, 23},
	TypeInt8:        {"BIGINT", KindInt, 20},
	TypeFloat4:      {"REAL", KindFloat, 700},
	TypeFloat8:      {"DOUBLE", KindFloat, 701},
	TypeNumeric:     {"NUMERIC", KindFloat, 1700},
	TypeText:        {"TEXT", KindString, 25},
	TypeVarchar:     {"VARCHAR", KindString, 1043},
	TypeBytea:       {"BYTEA", KindBytes, 17},
	TypeTimestamp:   {"TIMESTAMP", KindTimestamp, 1114},
	TypeTimestampTZ: {"TIMESTAMPTZ", KindTimestamp, 1184},
	TypeDate:        {"DATE", KindDate, 1082},
	TypeInterval:    {"INTERVAL", KindInterval, 1186},
	TypeUUID:        {"UUID", KindString, 2950},
	TypeJSON:        {"JSON", KindString, 114},
	TypeOID:         {"OID", KindInt, 26},
}

// String returns the type's SQL name as Weir prints it.
func (t Type) String() string {
	if int(t) < len(typeInfo) {
		return typeInfo[t].name
	}
	return "type?"
}

// Kind returns the physical representation of values of type t.
func (t Type) Kind() Kind {
	if int(t) < len(typeInfo) {
		return typeInfo[t].kind
	}
	return KindNull
}

// OID returns the PostgreSQL type OID reported to clients.
func (t Type) OID() uint32 {
	if int(t) < len(typeInfo) {
		return typeInfo[t].oid
	}
	return 705
}

// IsNumeric reports whether t is an integer or floating-point type.
func (t Type) IsNumeric() bool {
	k := t.Kind()
	return k == KindInt || k == KindFloat
}

// TypeFromOID maps a PostgreSQL type OID to a Type (TypeUnknown if not known).
func TypeFromOID(oid uint32) Type {
	for t, info := range typeInfo {
		if info.oid == oid && Type(t) != TypeUnknown {
			return Type(t)
		}
	}
	switch oid {
	case 1042, 19: // bpchar, name
		return TypeText
	case 3802: // jsonb
		return TypeJSON
	}
	return TypeUnknown
}

// ParseTypeName maps a SQL type name (PostgreSQL, MySQL or Flink spelling,
// any case, without length or precision modifiers) to a Type.
func ParseTypeName(name string) (Type, bool) {
	switch strings.Join(strings.Fields(strings.ToUpper(name)), " ") {
	case "BOOLEAN", "BOOL":
		return TypeBool, true
	case "SMALLINT", "INT2", "TINYINT":
		return TypeInt2, true
	case "INT", "INTEGER", "INT4", "MEDIUMINT":
		return TypeInt4, true
	case "BIGINT", "INT8", "SERIAL", "BIGSERIAL":
		return TypeInt8, true
	case "REAL", "FLOAT4", "FLOAT":
		return TypeFloat4, true
	case "DOUBLE", "DOUBLE PRECISION", "FLOAT8":
		return TypeFloat8, true
	case "NUMERIC", "DECIMAL", "DEC":
		return TypeNumeric, true
	case "TEXT", "STRING", "NAME", "BPCHAR":
		return TypeText, true
	case "VARCHAR", "CHARACTER VARYING", "CHAR", "CHARACTER":
		return TypeVarchar, true
	case "BYTEA", "BLOB", "BYTES", "VARBINARY", "BINARY":
		return TypeBytea, true
	case "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE", "DATETIME", "TIMESTAMP(3)":
		return TypeTimestamp, true
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_LTZ":
		return TypeTimestampTZ, true
	case "DATE":
		return TypeDate, true
	case "INTERVAL":
		return TypeInterval, true
	case "UUID":
		return TypeUUID, true
	case "JSON", "JSONB":
		return TypeJSON, true
	case "OID", "REGCLASS", "REGTYPE", "REGPROC":
		return TypeOID, true
	}
	return TypeUnknown, false
}

// PGName returns the type's name as PostgreSQL spells it in messages
// ("double precision", "timestamp without time zone").
func (t Type) PGName() string {
	switch t {
	case TypeUnknown:
		return "unknown"
	case TypeBool:
		return "boolean"
	case TypeInt2:
		return "smallint"
	case TypeInt4:
		return "integer"
	case TypeInt8:
		return "bigint"
	case TypeFloat4:
		return "real"
	case TypeFloat8:
		return "double precision"
	case TypeVarchar:
		return "character varying"
	case TypeTimestamp:
		return "timestamp without time zone"
	case TypeTimestampTZ:
		return "timestamp with time zone"
	}
	return strings.ToLower(t.String())
}
