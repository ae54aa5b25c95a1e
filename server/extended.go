package server

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/engine"
	"github.com/weir-sql/weir/pgerr"
)

// prepStmt is a prepared statement of the extended protocol.
type prepStmt struct {
	name  string
	query string
	kind  stmtKind
	empty bool
	// prepared is the engine's statement (nil for statements the wire
	// layer runs itself: empty, transaction control, COPY, DEALLOCATE).
	prepared *engine.Prepared
	copy     *copySpec
	// paramOIDs are reported in ParameterDescription; paramTypes decode
	// Bind values. A type the client declared wins over the inferred one.
	paramOIDs  []uint32
	paramTypes []datum.Type
	columns    []engine.Column
}

// portal is a bound statement ready to execute. Its result is computed at
// the first Execute and handed out in pieces when Execute limits rows.
type portal struct {
	stmt    *prepStmt
	params  []datum.Datum
	formats []int16
	result  *engine.Result
	pos     int
	done    bool
}

// parse handles Parse.
func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return pgerr.New("42P05", "prepared statement \"%s\" already exists", m.Name)
		}
	}
	ps, err := c.prepare(m.Query, m.ParameterOIDs)
	c.logStatement(m.Query, err)
	if err != nil {
		return &queryErr{err: err, query: m.Query}
	}
	if c.txn == 'E' && !exitsFailedBlock(ps.kind, m.Query) {
		return errAbortedBlock()
	}
	ps.name = m.Name
	if m.Name == "" {
		c.closeStatement("")
	}
	c.stmts[m.Name] = ps
	c.send(&pgproto3.ParseComplete{})
	return nil
}

// prepare prepares query with the parameter types the client declared
// (0: unspecified, inferred by the engine).
func (c *conn) prepare(query string, oids []uint32) (*prepStmt, error) {
	pieces := splitStatements(query)
	if len(pieces) > 1 {
		return nil, pgerr.New(pgerr.SyntaxError, "cannot insert multiple commands into a prepared statement")
	}
	ps := &prepStmt{query: query}
	if len(pieces) == 0 {
		ps.empty = true
		return ps, nil
	}
	p := pieces[0]
	ps.kind = classify(p.text)
	switch ps.kind {
	case kindBegin, kindCommit, kindRollback, kindSavepoint, kindDeallocate, kindDiscard, kindLock:
		return ps, nil
	case kindCopy:
		spec, err := parseCopy(p.text)
		if err != nil {
			return nil, withOffset(err, p.offset)
		}
		ps.copy = spec
		return ps, nil
	}
	declared := make([]datum.Type, len(oids))
	for i, o := range oids {
		declared[i] = datum.TypeFromOID(o)
	}
	ctx, done := c.statementContext()
	prep, err := c.sess.Prepare(ctx, query, declared)
	err = stmtError(ctx, err)
	done()
	if err != nil {
		return nil, err
	}
	ps.prepared = prep
	ps.columns = prep.Columns
	n := max(len(prep.ParamTypes), len(oids))
	ps.paramOIDs = make([]uint32, n)
	ps.paramTypes = make([]datum.Type, n)
	for i := range n {
		if i < len(oids) && oids[i] != 0 {
			ps.paramOIDs[i] = oids[i]
			ps.paramTypes[i] = declared[i]
			continue
		}
		t := datum.TypeUnknown
		if i < len(prep.ParamTypes) {
			t = prep.ParamTypes[i]
		}
		ps.paramTypes[i] = t
		ps.paramOIDs[i] = wireOID(t)
	}
	return ps, nil
}

// closeStatement drops a prepared statement and the portals made from it.
func (c *conn) closeStatement(name string) {
	ps := c.stmts[name]
	if ps == nil {
		return
	}
	delete(c.stmts, name)
	for pn, p := range c.portals {
		if p.stmt == ps {
			delete(c.portals, pn)
		}
	}
}

func stmtNotFound(name string) error {
	if name == "" {
		return pgerr.New("26000", "unnamed prepared statement does not exist")
	}
	return pgerr.New("26000", "prepared statement \"%s\" does not exist", name)
}

func portalNotFound(name string) error {
	return pgerr.New("34000", "portal \"%s\" does not exist", name)
}

// bind handles Bind: it decodes the parameters and makes a portal.
func (c *conn) bind(m *pgproto3.Bind) error {
	ps := c.stmts[m.PreparedStatement]
	if ps == nil {
		return stmtNotFound(m.PreparedStatement)
	}
	if c.txn == 'E' && !exitsFailedBlock(ps.kind, ps.query) {
		return errAbortedBlock()
	}
	n := len(ps.paramTypes)
	if len(m.Parameters) != n {
		return pgerr.New(pgerr.ProtocolViolation, "bind message supplies %d parameters, but prepared statement \"%s\" requires %d",
			len(m.Parameters), ps.name, n)
	}
	if k := len(m.ParameterFormatCodes); k > 1 && k != n {
		return pgerr.New(pgerr.ProtocolViolation, "bind message has %d parameter formats but %d parameters", k, n)
	}
	params := make([]datum.Datum, n)
	for i, raw := range m.Parameters {
		if raw == nil {
			continue
		}
		var err error
		switch f := formatAt(m.ParameterFormatCodes, i); f {
		case fmtText:
			params[i], err = decodeText(ps.paramTypes[i], string(raw))
		case fmtBinary:
			params[i], err = decodeBinary(ps.paramTypes[i], raw)
		default:
			return pgerr.New(pgerr.InvalidParameterValue, "unsupported format code: %d", f)
		}
		if err != nil {
			return &queryErr{err: pgerr.Wrap(err).WithPos(0), where: paramContext(m.DestinationPortal, i, formatAt(m.ParameterFormatCodes, i))}
		}
	}
	ncols := len(ps.columns)
	if k := len(m.ResultFormatCodes); k > 1 && k != ncols {
		return pgerr.New(pgerr.ProtocolViolation, "bind message has %d result formats but query has %d columns", k, ncols)
	}
	for _, f := range m.ResultFormatCodes {
		if f != fmtText && f != fmtBinary {
			return pgerr.New(pgerr.InvalidParameterValue, "unsupported format code: %d", f)
		}
	}
	if m.DestinationPortal != "" {
		if _, ok := c.portals[m.DestinationPortal]; ok {
			return pgerr.New("42P03", "portal \"%s\" already exists", m.DestinationPortal)
		}
	}
	formats := make([]int16, ncols)
	for i := range formats {
		formats[i] = formatAt(m.ResultFormatCodes, i)
	}
	c.portals[m.DestinationPortal] = &portal{stmt: ps, params: params, formats: formats}
	c.send(&pgproto3.BindComplete{})
	return nil
}

// paramContext is PostgreSQL's CONTEXT line for a parameter that failed to
// decode (the value itself is elided, as PostgreSQL does by default:
// log_parameter_max_length_on_error = 0).
func paramContext(portalName string, i int, f int16) string {
	name := "unnamed portal"
	if portalName != "" {
		name = fmt.Sprintf("portal \"%s\"", portalName)
	}
	if f == fmtBinary {
		return fmt.Sprintf("%s parameter $%d", name, i+1)
	}
	return fmt.Sprintf("%s parameter $%d = '...'", name, i+1)
}

// describe handles Describe of a statement ('S') or portal ('P').
func (c *conn) describe(m *pgproto3.Describe) error {
	switch m.ObjectType {
	case 'S':
		ps := c.stmts[m.Name]
		if ps == nil {
			return stmtNotFound(m.Name)
		}
		c.send(&pgproto3.ParameterDescription{ParameterOIDs: append([]uint32{}, ps.paramOIDs...)})
		if ps.columns != nil {
			c.send(rowDescription(ps.columns, nil))
		} else {
			c.send(&pgproto3.NoData{})
		}
	case 'P':
		p := c.portals[m.Name]
		if p == nil {
			return portalNotFound(m.Name)
		}
		if p.stmt.columns != nil {
			c.send(rowDescription(p.stmt.columns, p.formats))
		} else {
			c.send(&pgproto3.NoData{})
		}
	default:
		return pgerr.New(pgerr.ProtocolViolation, "invalid DESCRIBE message subtype %d", m.ObjectType)
	}
	return nil
}

// closeObject handles Close of a statement or portal (closing one that
// does not exist is not an error).
func (c *conn) closeObject(m *pgproto3.Close) error {
	switch m.ObjectType {
	case 'S':
		c.closeStatement(m.Name)
	case 'P':
		delete(c.portals, m.Name)
	default:
		return pgerr.New(pgerr.ProtocolViolation, "invalid CLOSE message subtype %d", m.ObjectType)
	}
	c.send(&pgproto3.CloseComplete{})
	return nil
}

// execute handles Execute: it runs the portal's statement (at the first
// Execute) and sends up to MaxRows rows (all for 0), then PortalSuspended
// if rows remain or CommandComplete.
func (c *conn) execute(m *pgproto3.Execute) error {
	p := c.portals[m.Portal]
	if p == nil {
		return portalNotFound(m.Portal)
	}
	ps := p.stmt
	if c.txn == 'E' && !exitsFailedBlock(ps.kind, ps.query) {
		return errAbortedBlock()
	}
	switch {
	case ps.empty:
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	case ps.copy != nil:
		if p.done {
			return pgerr.New(pgerr.ObjectNotInPrerequisiteState, "portal \"%s\" cannot be run", m.Portal)
		}
		p.done = true
		if err := c.runCopy(ps.copy); err != nil {
			return &queryErr{err: err, query: ps.query}
		}
		return nil
	case ps.prepared == nil:
		tag, err := c.localStatement(ps.kind, ps.query)
		if err != nil {
			return err
		}
		c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
		return nil
	}
	if p.done {
		// Executing a completed portal again returns nothing more.
		tag := "SELECT 0"
		if ps.columns == nil && p.result != nil {
			tag = p.result.Tag
		}
		c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
		return nil
	}
	if p.result == nil {
		c.beginQuery(ps.query)
		ctx, done := c.statementContext()
		res, err := c.sess.ExecPrepared(ctx, ps.prepared, p.params)
		err = stmtError(ctx, err)
		done()
		c.endQuery()
		if ps.kind == kindSet {
			c.reportParams(false)
		}
		if err != nil {
			p.done = true
			c.logStatement(ps.query, err)
			return &queryErr{err: err, query: ps.query}
		}
		p.result = res
		c.sendNotices(res)
	}
	res := p.result
	types := columnTypes(res.Columns)
	if len(ps.columns) == len(res.Columns) && ps.columns != nil {
		// Encode as described to the client.
		types = columnTypes(ps.columns)
	}
	end := len(res.Rows)
	if m.MaxRows > 0 && uint64(p.pos)+uint64(m.MaxRows) < uint64(end) {
		end = p.pos + int(m.MaxRows)
	}
	sent := end - p.pos
	for ; p.pos < end; p.pos++ {
		if err := c.sendDataRow(types, res.Rows[p.pos], p.formats); err != nil {
			return err
		}
		res.Rows[p.pos] = nil
	}
	if p.pos < len(res.Rows) {
		c.send(&pgproto3.PortalSuspended{})
		return nil
	}
	p.done = true
	tag := res.Tag
	if m.MaxRows > 0 && res.Columns != nil && strings.HasPrefix(tag, "SELECT") && sent != len(res.Rows) {
		tag = fmt.Sprintf("SELECT %d", sent)
	}
	if tag == "" && res.Columns == nil {
		c.send(&pgproto3.EmptyQueryResponse{})
		return nil
	}
	c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	p.result = &engine.Result{Tag: res.Tag, Columns: res.Columns}
	return nil
}
