package pgcatalog

import (
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// Register adds the pg_catalog and information_schema tables and the
// functions clients call (version(), current_schema(), format_type, ...) to
// e. Call it once, right after engine.Open, before serving clients.
func Register(e *engine.Engine) {
	for _, d := range tableDefs {
		e.RegisterVirtualTable(d.virtualTable())
	}
	for name, def := range functions(e) {
		e.RegisterFunc(name, def)
		e.RegisterFunc("pg_catalog."+name, def)
	}
}

// TableNames lists the schema-qualified tables Register adds.
func TableNames() []string {
	out := make([]string, len(tableDefs))
	for i, d := range tableDefs {
		out[i] = d.schema + "." + d.name
	}
	return out
}

func unrecognizedSetting(name string) error {
	return pgerr.New(pgerr.UndefinedObject, "unrecognized configuration parameter \"%s\"", name)
}
