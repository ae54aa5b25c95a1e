package pgcatalog

// Catalogs and statistics views that pg_dump, pgcli and BI tools read
// besides those of tables.go. The catalogs of features Weir lacks are
// empty; the statistics views list every relation with zero counters
// (Weir keeps no per-relation access statistics) and pg_stat_activity
// lists the server's sessions (see activity.go).

func init() {
	tableDefs = append(tableDefs, biTableDefs...)
}

var biTableDefs = []*tableDef{
	{"pg_catalog", "pg_init_privs", "objoid oid, classoid oid, objsubid int4, privtype char, initprivs text", empty},
	{"pg_catalog", "pg_opfamily", "oid oid, opfmethod oid, opfname name, opfnamespace oid, opfowner oid", empty},
	{"pg_catalog", "pg_ts_parser", "oid oid, prsname name, prsnamespace oid, prsstart regproc, prstoken regproc, prsend regproc, prsheadline regproc, prslextype regproc", empty},
	{"pg_catalog", "pg_ts_template", "oid oid, tmplname name, tmplnamespace oid, tmplinit regproc, tmpllexize regproc", empty},
	{"pg_catalog", "pg_ts_dict", "oid oid, dictname name, dictnamespace oid, dictowner oid, dicttemplate oid, dictinitoption text", empty},
	{"pg_catalog", "pg_ts_config", "oid oid, cfgname name, cfgnamespace oid, cfgowner oid, cfgparser oid", empty},
	{"pg_catalog", "pg_ts_config_map", "mapcfg oid, maptokentype int4, mapseqno int4, mapdict oid", empty},
	{"pg_catalog", "pg_transform", "oid oid, trftype oid, trflang oid, trffromsql regproc, trftosql regproc", empty},
	{"pg_catalog", "pg_seclabels", "objoid oid, classoid oid, objsubid int4, objtype text, objnamespace oid, objname text, provider text, label text", empty},
	{"pg_catalog", "pg_seclabel", "objoid oid, classoid oid, objsubid int4, provider text, label text", empty},
	{"pg_catalog", "pg_shseclabel", "objoid oid, classoid oid, provider text, label text", empty},
	{"pg_catalog", "pg_subscription", `oid oid, subdbid oid, subskiplsn text, subname name, subowner oid, subenabled bool,
		subbinary bool, substream bool, subtwophasestate char, subdisableonerr bool, subconninfo text, subslotname name,
		subsynccommit text, subpublications text`, empty},
	{"pg_catalog", "pg_user_mapping", "oid oid, umuser oid, umserver oid, umoptions text", empty},
	{"pg_catalog", "pg_largeobject_metadata", "oid oid, lomowner oid, lomacl text", empty},
	{"pg_catalog", "pg_partitioned_table", `partrelid oid, partstrat char, partnatts int2, partdefid oid, partattrs text,
		partclass text, partcollation text, partexprs text`, empty},
	{"pg_catalog", "pg_amop", `oid oid, amopfamily oid, amoplefttype oid, amoprighttype oid, amopstrategy int2,
		amoppurpose char, amopopr oid, amopmethod oid, amopsortfamily oid`, empty},
	{"pg_catalog", "pg_amproc", "oid oid, amprocfamily oid, amproclefttype oid, amprocrighttype oid, amprocnum int2, amproc regproc", empty},
	{"pg_catalog", "pg_db_role_setting", "setdatabase oid, setrole oid, setconfig text", empty},
	{"pg_catalog", "pg_aggregate", `aggfnoid regproc, aggkind char, aggnumdirectargs int2, aggtransfn regproc,
		aggfinalfn regproc, aggcombinefn regproc, aggserialfn regproc, aggdeserialfn regproc, aggmtransfn regproc,
		aggminvtransfn regproc, aggmfinalfn regproc, aggfinalextra bool, aggmfinalextra bool, aggfinalmodify char,
		aggmfinalmodify char, aggsortop oid, aggtranstype oid, aggtransspace int4, aggmtranstype oid,
		aggmtransspace int4, agginitval text, aggminitval text`, empty},
	statTables("pg_stat_all_tables", func(*relation) bool { return true }),
	statTables("pg_stat_user_tables", userRelation),
	statTables("pg_stat_sys_tables", func(r *relation) bool { return !userRelation(r) }),
	statioTables("pg_statio_all_tables", func(*relation) bool { return true }),
	statioTables("pg_statio_user_tables", userRelation),
	statioTables("pg_statio_sys_tables", func(r *relation) bool { return !userRelation(r) }),
	{"pg_catalog", "pg_stat_user_indexes", `relid oid, indexrelid oid, schemaname name, relname name, indexrelname name,
		idx_scan int8, idx_tup_read int8, idx_tup_fetch int8`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, idx := range s.rels {
				if t := s.byOID[RelationOID(idx.catalogID)]; idx.kind == 'i' && t != nil {
					out = append(out, []any{t.oid, idx.oid, t.schema, t.name, idx.name, 0, 0, 0})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_statio_user_indexes", `relid oid, indexrelid oid, schemaname name, relname name,
		indexrelname name, idx_blks_read int8, idx_blks_hit int8`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, idx := range s.rels {
				if t := s.byOID[RelationOID(idx.catalogID)]; idx.kind == 'i' && t != nil {
					out = append(out, []any{t.oid, idx.oid, t.schema, t.name, idx.name, 0, 0})
				}
			}
			return out
		}},
	{"pg_catalog", "pg_stat_database", `datid oid, datname name, numbackends int4, xact_commit int8, xact_rollback int8,
		blks_read int8, blks_hit int8, tup_returned int8, tup_fetched int8, tup_inserted int8, tup_updated int8,
		tup_deleted int8, conflicts int8, temp_files int8, temp_bytes int8, deadlocks int8, checksum_failures int8,
		checksum_last_failure timestamptz, blk_read_time float8, blk_write_time float8, session_time float8,
		active_time float8, idle_in_transaction_time float8, sessions int8, sessions_abandoned int8,
		sessions_fatal int8, sessions_killed int8, stats_reset timestamptz`,
		func(*snapshot) [][]any {
			return [][]any{{oidDatabase, DatabaseName, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				nil, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 0, nil}}
		}},
}

// userRelation reports whether r is a user table (PostgreSQL's "user"
// statistics views leave out pg_catalog, information_schema and toast).
func userRelation(r *relation) bool {
	return r.schema != "pg_catalog" && r.schema != "information_schema"
}

// statTables defines a pg_stat_*_tables view: the tables (relkind r) that
// keep, with zero counters.
func statTables(name string, keep func(*relation) bool) *tableDef {
	return &tableDef{"pg_catalog", name, `relid oid, schemaname name, relname name, seq_scan int8, seq_tup_read int8,
		idx_scan int8, idx_tup_fetch int8, n_tup_ins int8, n_tup_upd int8, n_tup_del int8, n_tup_hot_upd int8,
		n_live_tup int8, n_dead_tup int8, n_mod_since_analyze int8, n_ins_since_vacuum int8, last_vacuum timestamptz,
		last_autovacuum timestamptz, last_analyze timestamptz, last_autoanalyze timestamptz, vacuum_count int8,
		autovacuum_count int8, analyze_count int8, autoanalyze_count int8`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'r' && keep(r) {
					var idxScan any
					if len(r.pk) > 0 {
						idxScan = 0
					}
					out = append(out, []any{r.oid, r.schema, r.name, 0, 0, idxScan, idxScan, 0, 0, 0, 0, 0, 0, 0, 0,
						nil, nil, nil, nil, 0, 0, 0, 0})
				}
			}
			return out
		}}
}

// statioTables defines a pg_statio_*_tables view.
func statioTables(name string, keep func(*relation) bool) *tableDef {
	return &tableDef{"pg_catalog", name, `relid oid, schemaname name, relname name, heap_blks_read int8,
		heap_blks_hit int8, idx_blks_read int8, idx_blks_hit int8, toast_blks_read int8, toast_blks_hit int8,
		tidx_blks_read int8, tidx_blks_hit int8`,
		func(s *snapshot) [][]any {
			var out [][]any
			for _, r := range s.rels {
				if r.kind == 'r' && keep(r) {
					var idx any
					if len(r.pk) > 0 {
						idx = 0
					}
					out = append(out, []any{r.oid, r.schema, r.name, 0, 0, idx, idx, nil, nil, nil, nil})
				}
			}
			return out
		}}
}
