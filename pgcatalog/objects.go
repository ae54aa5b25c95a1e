package pgcatalog

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"

	"github.com/weir-sql/weir/catalog"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
)

// Fixed OIDs, PostgreSQL's where it has them.
const (
	oidPGCatalog         = 11
	oidPublic            = 2200
	oidInformationSchema = 13000
	oidPGToast           = 99
	oidOwner             = 10 // the one role, "weir"
	oidDatabase          = 16383
	oidTablespace        = 1663 // pg_default
	oidHeapAM            = 2
	oidBtreeAM           = 403
	oidHashAM            = 405
	oidPGClass           = 1259
	oidDefaultCollation  = 100
	firstUserOID         = 16384
)

// User objects get OIDs derived from their catalog ids, so an OID is
// stable for the life of the object: the relation firstUserOID+id, its
// primary-key index and constraint in ranges of their own.
const (
	indexOIDBase      = 1 << 30
	constraintOIDBase = 1<<30 + 1<<29
)

// RelationOID returns the pg_class OID of the user object with catalog id
// id.
func RelationOID(id uint64) uint32 { return uint32(firstUserOID + id) }

func indexOID(id uint64) uint32      { return uint32(indexOIDBase + id) }
func constraintOID(id uint64) uint32 { return uint32(constraintOIDBase + id) }

// DatabaseName is the name of Weir's one database (current_database()).
const DatabaseName = "weir"

// UserName is the one role pg_roles lists and the owner of every object.
const UserName = "weir"

// relation is one row of pg_class as Weir sees it.
type relation struct {
	oid       uint32
	nsOID     uint32
	schema    string
	name      string
	kind      byte // r table, v view, i index
	cols      []column
	pk        []int  // primary key column indexes (tables)
	weirKind  string // "table", "source", "sink", "system table"
	desc      string // pg_description
	def       string // a sink's (view's) definition, the SQL that made it
	catalogID uint64
}

type column struct {
	name    string
	typ     datum.Type
	notNull bool
}

// snapshot is the set of relations at one moment.
type snapshot struct {
	rels  []*relation
	byOID map[uint32]*relation
	// activity is the server's sessions (pg_stat_activity).
	activity []engine.Activity
}

// virtualLister is implemented by engines that list their virtual tables
// (the weir_* system tables as well as those registered here).
type virtualLister interface {
	VirtualTables() []engine.VirtualTable
}

// knownOIDs are PostgreSQL's OIDs of the catalog relations.
var knownOIDs = map[string]uint32{
	"pg_catalog.pg_type": 1247, "pg_catalog.pg_attribute": 1249, "pg_catalog.pg_proc": 1255,
	"pg_catalog.pg_class": 1259, "pg_catalog.pg_authid": 1260, "pg_catalog.pg_database": 1262,
	"pg_catalog.pg_tablespace": 1213, "pg_catalog.pg_am": 2601, "pg_catalog.pg_attrdef": 2604,
	"pg_catalog.pg_constraint": 2606, "pg_catalog.pg_description": 2609, "pg_catalog.pg_index": 2610,
	"pg_catalog.pg_inherits": 2611, "pg_catalog.pg_namespace": 2615, "pg_catalog.pg_trigger": 2620,
	"pg_catalog.pg_rewrite": 2618, "pg_catalog.pg_sequence": 2224, "pg_catalog.pg_collation": 3456,
	"pg_catalog.pg_extension": 3079, "pg_catalog.pg_enum": 3501, "pg_catalog.pg_policy": 3256,
	"pg_catalog.pg_statistic_ext": 3381, "pg_catalog.pg_publication": 6104,
	"pg_catalog.pg_publication_rel": 6106, "pg_catalog.pg_publication_namespace": 6237,
	"pg_catalog.pg_range": 3541, "pg_catalog.pg_shdescription": 2396,
}

// virtualOID gives a virtual table a stable OID: PostgreSQL's for catalog
// tables it knows, else one hashed from the name into 12000..15999.
func virtualOID(schema, name string, taken map[uint32]bool) uint32 {
	if o, ok := knownOIDs[schema+"."+name]; ok {
		return o
	}
	h := fnv.New32a()
	h.Write([]byte(schema + "." + name))
	o := 12000 + h.Sum32()%4000
	for taken[o] {
		o = 12000 + (o-12000+1)%4000
	}
	return o
}

func schemaOID(schema string) uint32 {
	switch schema {
	case "pg_catalog":
		return oidPGCatalog
	case "information_schema":
		return oidInformationSchema
	}
	return oidPublic
}

// takeSnapshot lists every relation: the catalog's sources, tables and
// sinks, primary-key indexes, and the virtual tables.
func takeSnapshot(e *engine.Engine) *snapshot {
	s := &snapshot{byOID: map[uint32]*relation{}}
	if a := e.ActivitySource(); a != nil {
		s.activity = a.Activity()
	}
	add := func(r *relation) {
		s.rels = append(s.rels, r)
		s.byOID[r.oid] = r
	}
	if cat := e.Catalog(); cat != nil {
		for _, t := range cat.ListTables() {
			r := &relation{oid: RelationOID(t.ID), nsOID: oidPublic, schema: "public", name: t.Name, kind: 'r',
				cols: catalogCols(t.Columns), pk: t.PrimaryKey, weirKind: "table", catalogID: t.ID, def: t.SQL}
			r.desc = "Weir table"
			if len(t.PrimaryKey) > 0 {
				r.desc += " (upserted by its primary key)"
			}
			add(r)
			if len(t.PrimaryKey) > 0 {
				idx := &relation{oid: indexOID(t.ID), nsOID: oidPublic, schema: "public", name: t.Name + "_pkey",
					kind: 'i', weirKind: "index", catalogID: t.ID}
				for _, c := range t.PrimaryKey {
					idx.cols = append(idx.cols, r.cols[c])
				}
				add(idx)
			}
		}
		for _, src := range cat.ListSources() {
			r := &relation{oid: RelationOID(src.ID), nsOID: oidPublic, schema: "public", name: src.Name, kind: 'r',
				cols: catalogCols(src.Columns), weirKind: "source", catalogID: src.ID, def: src.SQL}
			r.desc = fmt.Sprintf("Weir source (connector %s)", src.Connector())
			if src.WatermarkColumn != "" {
				r.desc += fmt.Sprintf(", watermark on %s", src.WatermarkColumn)
			}
			add(r)
		}
		for _, sk := range cat.ListSinks() {
			r := &relation{oid: RelationOID(sk.ID), nsOID: oidPublic, schema: "public", name: sk.Name, kind: 'v',
				cols: catalogCols(sk.Columns), weirKind: "sink", catalogID: sk.ID, def: sk.SQL}
			r.desc = fmt.Sprintf("Weir sink (connector %s); sinks cannot be queried", sk.Connector())
			add(r)
		}
	}
	var vts []engine.VirtualTable
	if vl, ok := any(e).(virtualLister); ok {
		vts = vl.VirtualTables()
	} else {
		vts = virtualTables()
	}
	sort.Slice(vts, func(i, j int) bool {
		if vts[i].Schema != vts[j].Schema {
			return vts[i].Schema < vts[j].Schema
		}
		return vts[i].Name < vts[j].Name
	})
	taken := map[uint32]bool{}
	for _, vt := range vts {
		schema := vt.Schema
		if schema == "" {
			schema = "public"
		}
		kind := byte('v')
		if schema == "pg_catalog" {
			kind = 'r'
		}
		o := virtualOID(schema, vt.Name, taken)
		taken[o] = true
		r := &relation{oid: o, nsOID: schemaOID(schema), schema: schema, name: vt.Name, kind: kind, weirKind: "system table"}
		for _, c := range vt.Columns {
			r.cols = append(r.cols, column{name: c.Name, typ: c.Type})
		}
		if schema == "public" {
			r.desc = "Weir system table"
		}
		add(r)
	}
	return s
}

func catalogCols(cols []catalog.Column) []column {
	out := make([]column, len(cols))
	for i, c := range cols {
		out[i] = column{name: c.Name, typ: c.Type, notNull: c.NotNull}
	}
	return out
}

// find resolves a possibly qualified, possibly quoted relation name.
func (s *snapshot) find(name string) *relation {
	schema, rel := splitQualified(name)
	for _, r := range s.rels {
		if r.name == rel && (schema == "" && (r.schema == "public" || r.schema == "pg_catalog") || r.schema == schema) {
			return r
		}
	}
	return nil
}

// splitQualified splits "schema.name" (either part may be quoted; unquoted
// parts are lower-cased).
func splitQualified(s string) (schema, name string) {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if quoted && i+1 < len(s) && s[i+1] == '"' {
				cur.WriteByte('"')
				i++
			} else {
				quoted = !quoted
			}
		case c == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		case !quoted && c >= 'A' && c <= 'Z':
			cur.WriteByte(c + 'a' - 'A')
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, strings.TrimSpace(cur.String()))
	if len(parts) == 1 {
		return "", parts[0]
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

// quoteIdent quotes an identifier when PostgreSQL would need it.
func quoteIdent(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c == '_' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9'
	}
	if plain && !reserved[s] {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

var reserved = map[string]bool{
	"all": true, "analyse": true, "analyze": true, "and": true, "any": true, "array": true, "as": true,
	"asc": true, "case": true, "cast": true, "check": true, "collate": true, "column": true,
	"constraint": true, "create": true, "current_date": true, "current_role": true, "current_time": true,
	"current_timestamp": true, "current_user": true, "default": true, "desc": true, "distinct": true,
	"do": true, "else": true, "end": true, "except": true, "false": true, "fetch": true, "for": true,
	"foreign": true, "from": true, "grant": true, "group": true, "having": true, "in": true,
	"intersect": true, "into": true, "leading": true, "limit": true, "not": true, "null": true,
	"offset": true, "on": true, "only": true, "or": true, "order": true, "primary": true,
	"references": true, "select": true, "session_user": true, "some": true, "table": true, "then": true,
	"to": true, "true": true, "union": true, "unique": true, "user": true, "using": true, "when": true,
	"where": true, "window": true, "with": true,
}
