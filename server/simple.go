package server

import (
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/sql"
)

// queryErr is an error whose position refers to a query text, and perhaps
// a context line (the ErrorResponse's Where).
type queryErr struct {
	err   error
	query string
	where string
}

func (e *queryErr) Error() string { return e.err.Error() }
func (e *queryErr) Unwrap() error { return e.err }

// simpleQuery runs a Query message: each statement in order, each with its
// own results, stopping at the first error. ReadyForQuery follows (sent by
// the caller).
func (c *conn) simpleQuery(q string) {
	pieces := splitStatements(q)
	if len(pieces) == 0 {
		c.send(&pgproto3.EmptyQueryResponse{})
		return
	}
	if len(pieces) > 1 {
		// PostgreSQL parses the whole string first: a syntax error
		// anywhere means nothing runs.
		for _, p := range pieces {
			if k := classify(p.text); k != kindOther && k != kindSet {
				continue
			}
			if err := c.checkSyntax(p.text); err != nil {
				c.reportQueryError(err, q, p.offset)
				return
			}
		}
	}
	for _, p := range pieces {
		err := c.simpleStatement(p)
		c.logStatement(p.text, err)
		if err != nil {
			c.reportQueryError(err, q, p.offset)
			return
		}
		if c.werr != nil || c.fatal {
			return
		}
	}
}

// logStatement passes a statement and its outcome to Config.LogStatement.
func (c *conn) logStatement(text string, err error) {
	if c.srv.cfg.LogStatement != nil {
		c.srv.cfg.LogStatement(text, err)
	}
}

// syntaxChecker is implemented by sessions that parse differently from
// the sql package (test fakes).
type syntaxChecker interface {
	CheckSyntax(text string) error
}

// checkSyntax parses one statement without running it.
func (c *conn) checkSyntax(text string) error {
	if sc, ok := c.sess.(syntaxChecker); ok {
		return sc.CheckSyntax(text)
	}
	if _, errs := sql.ParseScript(text, sql.ParseOptions{}); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// simpleStatement runs one statement of a simple query.
func (c *conn) simpleStatement(p stmtPiece) error {
	kind := classify(p.text)
	if c.txn == 'E' && !exitsFailedBlock(kind, p.text) {
		return errAbortedBlock()
	}
	switch kind {
	case kindBegin, kindCommit, kindRollback, kindSavepoint, kindDeallocate, kindDiscard, kindLock:
		tag, err := c.localStatement(kind, p.text)
		if err != nil {
			return err
		}
		c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
		return nil
	case kindCopy:
		spec, err := parseCopy(p.text)
		if err != nil {
			return err
		}
		return c.runCopy(spec)
	}
	c.beginQuery(p.text)
	ctx, done := c.statementContext()
	results, err := c.sess.Exec(ctx, p.text)
	err = stmtError(ctx, err)
	done()
	c.endQuery()
	for _, r := range results {
		if serr := c.sendSimpleResult(r); serr != nil {
			return serr
		}
	}
	if kind == kindSet {
		c.reportParams(false)
	}
	return err
}

func errAbortedBlock() error {
	return pgerr.New("25P02", "current transaction is aborted, commands ignored until end of transaction block")
}

// exitsFailedBlock reports whether a statement may run in a failed
// transaction block: COMMIT, ROLLBACK and ROLLBACK TO SAVEPOINT.
func exitsFailedBlock(kind stmtKind, text string) bool {
	switch kind {
	case kindCommit, kindRollback:
		return true
	case kindSavepoint:
		w := leadingWords(text, 1)
		return len(w) > 0 && (w[0] == "rollback" || w[0] == "abort")
	}
	return false
}

// localStatement runs the statements the wire layer answers itself:
// transaction control and the prepared-statement housekeeping of
// DEALLOCATE and DISCARD. It returns the command tag.
//
// Weir has no multi-statement transactions: every statement takes effect
// when it runs. BEGIN, COMMIT and ROLLBACK are accepted so that drivers
// and tools that wrap work in them keep working, and the transaction
// status they report follows PostgreSQL's ('T' inside a block, 'E' after
// an error in one, where only COMMIT or ROLLBACK are accepted), but
// ROLLBACK undoes nothing.
func (c *conn) localStatement(kind stmtKind, text string) (string, error) {
	w := leadingWords(text, 3)
	switch kind {
	case kindBegin:
		if c.txn != 'I' {
			c.notice("WARNING", "25001", "there is already a transaction in progress")
		} else {
			c.txn = 'T'
		}
		if w[0] == "start" {
			return "START TRANSACTION", nil
		}
		return "BEGIN", nil
	case kindCommit:
		prev := c.txn
		c.endBlock()
		switch prev {
		case 'I':
			c.notice("WARNING", "25P01", "there is no transaction in progress")
		case 'E':
			return "ROLLBACK", nil
		}
		return "COMMIT", nil
	case kindRollback:
		if c.txn == 'I' {
			c.notice("WARNING", "25P01", "there is no transaction in progress")
		}
		c.endBlock()
		return "ROLLBACK", nil
	case kindSavepoint:
		what := "SAVEPOINT"
		tag := "SAVEPOINT"
		switch w[0] {
		case "release":
			what, tag = "RELEASE SAVEPOINT", "RELEASE"
		case "rollback", "abort":
			what, tag = "ROLLBACK TO SAVEPOINT", "ROLLBACK"
		}
		if c.txn == 'I' {
			return "", pgerr.New("25P01", "%s can only be used in transaction blocks", what)
		}
		if tag == "ROLLBACK" {
			c.txn = 'T'
		}
		return tag, nil
	case kindDeallocate:
		return c.deallocate(text)
	case kindDiscard:
		if len(w) < 2 {
			return "", pgerr.New(pgerr.SyntaxError, "syntax error at end of input")
		}
		switch w[1] {
		case "all":
			if c.txn != 'I' {
				return "", pgerr.New("25001", "DISCARD ALL cannot run inside a transaction block")
			}
			clear(c.stmts)
			clear(c.portals)
			return "DISCARD ALL", nil
		case "plans", "sequences", "temp", "temporary":
			return "DISCARD " + strings.ToUpper(w[1]), nil
		}
		return "", pgerr.New(pgerr.SyntaxError, "syntax error at or near %q", w[1])
	case kindLock:
		return c.lock(text)
	}
	return "", pgerr.New(pgerr.InternalError, "not a local statement")
}

// lock handles LOCK TABLE (pg_dump locks every table it dumps). Weir has
// no locks: every statement takes effect alone. As in PostgreSQL it needs
// a transaction block, and every table named must exist (checked with
// the ::regclass cast, 42P01 when missing).
func (c *conn) lock(text string) (string, error) {
	if c.txn == 'I' {
		return "", pgerr.New("25P01", "LOCK TABLE can only be used in transaction blocks")
	}
	names := lockedTables(text)
	if len(names) == 0 {
		return "", pgerr.New(pgerr.SyntaxError, "syntax error at end of input")
	}
	for _, n := range names {
		ctx, done := c.statementContext()
		_, err := c.sess.Exec(ctx, "SELECT "+quoteLiteralSQL(n)+"::regclass")
		done()
		if err != nil {
			return "", err
		}
	}
	return "LOCK TABLE", nil
}

// lockedTables returns the table names of a LOCK statement, as written.
func lockedTables(text string) []string {
	rest := strings.TrimSpace(text)
	rest = strings.TrimRight(rest, "; \t\n")
	rest = rest[len("lock"):]
	lower := strings.ToLower(rest)
	for _, kw := range []string{" table ", " only "} {
		if strings.HasPrefix(lower+" ", kw) {
			rest, lower = rest[len(kw)-1:], lower[len(kw)-1:]
		}
		lower = strings.TrimLeft(lower, " \t\n")
		rest = strings.TrimLeft(rest, " \t\n")
		lower, rest = " "+lower, " "+rest
	}
	if i := strings.Index(lower, " in "); i >= 0 {
		rest = rest[:i]
	} else if i := strings.Index(lower, " nowait"); i >= 0 {
		rest = rest[:i]
	}
	var out []string
	for _, n := range strings.Split(rest, ",") {
		n = strings.TrimSuffix(strings.TrimSpace(n), "*")
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func quoteLiteralSQL(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// endBlock leaves a transaction block; its portals close with it.
func (c *conn) endBlock() {
	c.txn = 'I'
	clear(c.portals)
}

// deallocate runs DEALLOCATE [PREPARE] {name | ALL}.
func (c *conn) deallocate(text string) (string, error) {
	s := &scanner{src: text}
	s.next() // DEALLOCATE
	t, ok := s.next()
	if ok && t.kind == tokWord && t.val == "prepare" {
		t, ok = s.next()
	}
	if !ok || (t.kind != tokWord && t.kind != tokIdent) {
		return "", pgerr.New(pgerr.SyntaxError, "syntax error at end of input")
	}
	if t.kind == tokWord && t.val == "all" {
		clear(c.stmts)
		return "DEALLOCATE ALL", nil
	}
	if _, ok := c.stmts[t.val]; !ok {
		return "", pgerr.New("26000", "prepared statement \"%s\" does not exist", t.val)
	}
	c.closeStatement(t.val)
	return "DEALLOCATE", nil
}
