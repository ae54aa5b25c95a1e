// Package pgcatalog gives the engine the PostgreSQL system catalogs and
// functions that psql, drivers and BI tools query when they connect and
// read metadata: pg_catalog's pg_namespace, pg_class, pg_attribute,
// pg_type, pg_database, pg_index, pg_constraint, pg_description,
// pg_settings, pg_proc, pg_roles and the rest, information_schema's tables,
// columns, schemata, views and constraints, and scalar functions such as
// version(), current_schema(), format_type, pg_get_indexdef,
// pg_table_is_visible and obj_description (shared/pg-clients/queries.json
// lists what real clients send).
//
// # Use
//
// Call Register(e) once after engine.Open and before serving clients
// (`weir serve` does; the REPL may too). Every table is an
// engine.VirtualTable whose rows are computed when a query reads it, from a
// snapshot of the catalog taken then: there is no state here and nothing to
// keep in sync.
//
// # What the catalogs show
//
//   - Schemas pg_catalog (11), public (2200), information_schema and
//     pg_toast; one database, "weir"; one role, "weir" (OID 10), owner of
//     everything.
//   - User objects in public with OIDs derived from their catalog ids
//     (RelationOID: 16384 + id), stable for the life of the object: tables
//     and sources as relkind 'r', sinks as views ('v', pg_get_viewdef
//     returns the CREATE SINK statement, since a sink cannot be queried),
//     a table's primary key as an index <table>_pkey with its pg_index and
//     pg_constraint rows. Columns are in pg_attribute with PostgreSQL type
//     OIDs; obj_description says what Weir object each relation is.
//   - Virtual tables (the weir_* system tables and this package's own) in
//     their schemas, with PostgreSQL's OIDs for the catalogs it knows.
//   - pg_type holds the types Weir has and the common others with
//     PostgreSQL's OIDs, arrays included, so that clients resolve any OID
//     they are sent.
//   - Catalogs of features Weir lacks (triggers, policies, publications,
//     sequences, inheritance, enums, statistics objects, text search,
//     operator families, transforms, subscriptions, security labels) exist
//     and are empty, so that clients' queries of them return no rows, not
//     errors. Catalogs with an oid column also have tableoid, as an
//     ordinary last column (pg_dump reads it).
//   - Statistics views: pg_stat_{all,user,sys}_tables and pg_statio_* list
//     the tables with zero counters (Weir keeps no access statistics);
//     pg_stat_activity lists the wire server's sessions with their running
//     (or last) statement, from engine.ActivitySource, and
//     pg_cancel_backend(pid) cancels that statement; pg_locks is empty.
//   - Sinks and the weir_* system tables are views; their pg_get_viewdef is
//     the statement that made them as comment lines, then a query of no
//     rows with their columns, so that pg_dump --schema-only makes a script
//     that runs on PostgreSQL.
//
// Weir has no array type: array-valued columns (conkey, indkey, datacl,
// polroles, ...) hold PostgreSQL's text form ("{1,2}", int2vector "1 2"),
// which expr's array functions, subscripts and = ANY read (see expr).
// Names are text (OID 25) rather than name (19).
//
// Casts to the OID alias types go through functions registered here:
// 'events'::regclass calls regclassin (42P01 for a missing relation; a
// number is taken as the OID), and regtypein, regprocin, regnamespacein
// and regrolein likewise; x::regclass::text calls regclassout (and
// regtypeout, regprocout, regnamespaceout, regroleout).
//
// Privilege checks (has_table_privilege, has_column_privilege,
// has_any_column_privilege, has_schema_privilege, has_database_privilege,
// has_sequence_privilege, has_function_privilege, in all their argument
// forms) are answered from Weir's objects (funcs_bi.go): user relations
// allow what Weir supports on them, system tables only SELECT; missing
// objects named by text are errors with PostgreSQL's SQLSTATEs, by OID
// NULL; bad privilege names are 22023. set_config changes the session's
// setting (expr's Overload.EvalSetSettings).
//
// Functions that depend on the session read its settings (expr's
// Overload.EvalSettings, fed from the session by the engine):
// current_user, session_user, current_role and user are the login user
// (the server keeps it as the setting session_authorization; "weir" when
// there is none), and current_setting reads the session's settings before
// the server's. pg_backend_pid answers for the server.
//
// # Imports
//
// pgcatalog imports engine (VirtualTable, Engine), catalog, expr (FuncDef),
// datum and pgerr. The engine does not import it.
package pgcatalog
