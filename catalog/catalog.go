package catalog

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"sync"

	"github.com/weir-sql/weir/pgerr"
)

// Key prefixes (see doc.go).
const (
	prefixByte   = 'c'
	kindNextID   = 'n'
	kindRelation = 'o'
	kindJob      = 'j'
	kindTemplate = 't'
	kindSnapshot = 's'
)

// kv is the little the catalog needs from the store; store.go adapts
// *state.Store to it, and NewMemory leaves it nil.
type kv interface {
	scan(lo, hi []byte, fn func(k, v []byte) error) error
	write(b *writeBatch) error
}

// writeBatch collects one change's writes; they commit atomically.
type writeBatch struct {
	sets []kvPair
	dels [][]byte
}

type kvPair struct{ k, v []byte }

func (b *writeBatch) set(k []byte, v any) error {
	enc, err := json.Marshal(v)
	if err != nil {
		return pgerr.New(pgerr.InternalError, "catalog: encoding %s: %v", k, err)
	}
	b.sets = append(b.sets, kvPair{k, enc})
	return nil
}

func (b *writeBatch) del(k []byte) { b.dels = append(b.dels, k) }

// Catalog holds every definition in memory and writes changes through to
// the store. See doc.go for the locking rules.
type Catalog struct {
	store kv

	// writeMu serializes changes: it is held from the checks through the
	// store commit to the in-memory update, so two creates of one name
	// cannot both pass their checks. I/O happens under writeMu only.
	writeMu sync.Mutex

	// mu guards the in-memory maps below; held briefly, never across I/O.
	mu struct {
		sync.RWMutex
		nextID    uint64
		relations map[string]*relRecord // sources, tables, sinks by name
		jobs      map[uint64]*Job       // every launch, by job id
		templates map[string]*Template
		snapshots map[string]*Snapshot
	}
}

// relRecord is the stored form of a source, table or sink: one namespace.
type relRecord struct {
	Kind   RelKind
	Source *Source `json:",omitempty"`
	Table  *Table  `json:",omitempty"`
	Sink   *Sink   `json:",omitempty"`
}

func (r *relRecord) name() string {
	switch {
	case r.Source != nil:
		return r.Source.Name
	case r.Table != nil:
		return r.Table.Name
	case r.Sink != nil:
		return r.Sink.Name
	}
	return ""
}

// NewMemory returns an empty catalog that keeps everything in memory only
// (for weir check and tests).
func NewMemory() *Catalog {
	c := &Catalog{}
	c.mu.nextID = 1
	c.mu.relations = map[string]*relRecord{}
	c.mu.jobs = map[uint64]*Job{}
	c.mu.templates = map[string]*Template{}
	c.mu.snapshots = map[string]*Snapshot{}
	return c
}

// openKV loads every definition from store.
func openKV(store kv) (*Catalog, error) {
	c := NewMemory()
	c.store = store
	lo, hi := []byte{prefixByte}, []byte{prefixByte + 1}
	err := store.scan(lo, hi, func(k, v []byte) error {
		if len(k) < 2 {
			return fmt.Errorf("catalog: bad key %q", k)
		}
		var err error
		switch k[1] {
		case kindNextID:
			if len(v) != 8 {
				return fmt.Errorf("catalog: bad next id %x", v)
			}
			c.mu.nextID = binary.BigEndian.Uint64(v)
		case kindRelation:
			r := &relRecord{}
			if err = json.Unmarshal(v, r); err == nil {
				c.mu.relations[r.name()] = r
			}
		case kindJob:
			j := &Job{}
			if err = json.Unmarshal(v, j); err == nil {
				c.mu.jobs[j.ID] = j
			}
		case kindTemplate:
			t := &Template{}
			if err = json.Unmarshal(v, t); err == nil {
				c.mu.templates[t.Name] = t
			}
		case kindSnapshot:
			s := &Snapshot{}
			if err = json.Unmarshal(v, s); err == nil {
				c.mu.snapshots[s.Name] = s
			}
		default:
			return fmt.Errorf("catalog: unknown key kind %q", k[1])
		}
		if err != nil {
			return fmt.Errorf("catalog: decoding %q: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return nil, pgerr.Wrap(err)
	}
	// Ids written by PutJob (or by an older version) are never handed out
	// again, even if the counter lags behind them.
	for _, j := range c.mu.jobs {
		c.bumpID(j.ID + 1)
		c.bumpID(j.StateNS + 1)
	}
	for _, r := range c.mu.relations {
		switch {
		case r.Source != nil:
			c.bumpID(r.Source.ID + 1)
		case r.Table != nil:
			c.bumpID(r.Table.ID + 1)
		case r.Sink != nil:
			c.bumpID(r.Sink.ID + 1)
		}
	}
	return c, nil
}

func key(kind byte, name string) []byte {
	k := make([]byte, 0, 2+len(name))
	return append(append(k, prefixByte, kind), name...)
}

func jobKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{prefixByte, kindJob}, id)
}

// commit writes b to the store (a no-op for a memory catalog). Callers hold
// writeMu and not mu.
func (c *Catalog) commit(b *writeBatch) error {
	if c.store == nil {
		return nil
	}
	if err := c.store.write(b); err != nil {
		return pgerr.Wrap(err)
	}
	return nil
}

// allocID reserves n ids into b and returns the first. Callers hold writeMu;
// the counter in memory moves only after the batch commits (see bumpID).
func (c *Catalog) allocID(b *writeBatch, n uint64) uint64 {
	c.mu.RLock()
	first := c.mu.nextID
	c.mu.RUnlock()
	b.sets = append(b.sets, kvPair{[]byte{prefixByte, kindNextID},
		binary.BigEndian.AppendUint64(nil, first+n)})
	return first
}

// bumpID records ids up to next as allocated; callers hold writeMu and mu.
func (c *Catalog) bumpID(next uint64) {
	if next > c.mu.nextID {
		c.mu.nextID = next
	}
}

// NextID returns a new id, durable before it is returned and never handed
// out again, also across restarts. Ids are shared by tables, sources, sinks,
// jobs and state namespaces, and increase monotonically.
func (c *Catalog) NextID() (uint64, error) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	b := &writeBatch{}
	id := c.allocID(b, 1)
	if err := c.commit(b); err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.bumpID(id + 1)
	c.mu.Unlock()
	return id, nil
}

// ---- relations: sources, tables, sinks ----

// createRelation stores r under name, assigning *id if it is zero.
func (c *Catalog) createRelation(name string, id *uint64, r *relRecord) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.RLock()
	old, exists := c.mu.relations[name]
	c.mu.RUnlock()
	if exists {
		return pgerr.New(pgerr.DuplicateTable, "%s %q already exists", old.Kind, name)
	}
	b := &writeBatch{}
	next := uint64(0)
	if *id == 0 {
		*id = c.allocID(b, 1)
		next = *id + 1
	}
	if err := b.set(key(kindRelation, name), r); err != nil {
		return err
	}
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	c.bumpID(next)
	c.mu.relations[name] = r
	c.mu.Unlock()
	return nil
}

// getRelation returns the record named name, which must be of kind k.
func (c *Catalog) getRelation(name string, k RelKind) (*relRecord, error) {
	c.mu.RLock()
	r, ok := c.mu.relations[name]
	c.mu.RUnlock()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedTable, "%s %q does not exist", k, name)
	}
	if r.Kind != k {
		return nil, pgerr.New(pgerr.WrongObjectType, "%q is a %s, not a %s", name, r.Kind, k)
	}
	return r, nil
}

func (c *Catalog) dropRelation(name string, k RelKind) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.getRelation(name, k); err != nil {
		return err
	}
	b := &writeBatch{}
	b.del(key(kindRelation, name))
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.mu.relations, name)
	c.mu.Unlock()
	return nil
}

// listRelations returns the records of kind k, ordered by name.
func (c *Catalog) listRelations(k RelKind) []*relRecord {
	c.mu.RLock()
	var out []*relRecord
	for _, r := range c.mu.relations {
		if r.Kind == k {
			out = append(out, r)
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].name() < out[j].name() })
	return out
}

// CreateSource stores s. A zero s.ID is assigned from NextID (and written
// back into s). A name already used by a source, table or sink is 42P07.
func (c *Catalog) CreateSource(s *Source) error {
	s2 := s.clone()
	if err := c.createRelation(s.Name, &s2.ID, &relRecord{Kind: RelSource, Source: s2}); err != nil {
		return err
	}
	s.ID = s2.ID
	return nil
}

// GetSource returns the source named name (42P01 if there is none).
func (c *Catalog) GetSource(name string) (*Source, error) {
	r, err := c.getRelation(name, RelSource)
	if err != nil {
		return nil, err
	}
	return r.Source.clone(), nil
}

// DropSource removes the source named name (42P01 if there is none).
func (c *Catalog) DropSource(name string) error { return c.dropRelation(name, RelSource) }

// ListSources returns every source, ordered by name.
func (c *Catalog) ListSources() []*Source {
	var out []*Source
	for _, r := range c.listRelations(RelSource) {
		out = append(out, r.Source.clone())
	}
	return out
}

// CreateTable stores t, assigning a zero t.ID (see CreateSource).
func (c *Catalog) CreateTable(t *Table) error {
	t2 := t.clone()
	if err := c.createRelation(t.Name, &t2.ID, &relRecord{Kind: RelTable, Table: t2}); err != nil {
		return err
	}
	t.ID = t2.ID
	return nil
}

// GetTable returns the table named name (42P01 if there is none).
func (c *Catalog) GetTable(name string) (*Table, error) {
	r, err := c.getRelation(name, RelTable)
	if err != nil {
		return nil, err
	}
	return r.Table.clone(), nil
}

// DropTable removes the table named name (42P01 if there is none). Its rows
// are the caller's to delete.
func (c *Catalog) DropTable(name string) error { return c.dropRelation(name, RelTable) }

// ListTables returns every table, ordered by name.
func (c *Catalog) ListTables() []*Table {
	var out []*Table
	for _, r := range c.listRelations(RelTable) {
		out = append(out, r.Table.clone())
	}
	return out
}

// CreateSink stores s, assigning a zero s.ID (see CreateSource).
func (c *Catalog) CreateSink(s *Sink) error {
	s2 := s.clone()
	if err := c.createRelation(s.Name, &s2.ID, &relRecord{Kind: RelSink, Sink: s2}); err != nil {
		return err
	}
	s.ID = s2.ID
	return nil
}

// GetSink returns the sink named name (42P01 if there is none).
func (c *Catalog) GetSink(name string) (*Sink, error) {
	r, err := c.getRelation(name, RelSink)
	if err != nil {
		return nil, err
	}
	return r.Sink.clone(), nil
}

// DropSink removes the sink named name (42P01 if there is none).
func (c *Catalog) DropSink(name string) error { return c.dropRelation(name, RelSink) }

// ListSinks returns every sink, ordered by name.
func (c *Catalog) ListSinks() []*Sink {
	var out []*Sink
	for _, r := range c.listRelations(RelSink) {
		out = append(out, r.Sink.clone())
	}
	return out
}

// LookupRelation resolves a name in FROM or INSERT INTO to a user source,
// table or sink. Schema must be "" or "public": system schemas are the
// engine's (it wraps the catalog to serve them). A missing name is 42P01.
func (c *Catalog) LookupRelation(schema, name string) (*Relation, error) {
	if schema != "" && schema != "public" {
		return nil, pgerr.New(pgerr.UndefinedTable, "relation \"%s.%s\" does not exist", schema, name)
	}
	c.mu.RLock()
	r, ok := c.mu.relations[name]
	c.mu.RUnlock()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedTable, "relation %q does not exist", name)
	}
	rel := &Relation{Kind: r.Kind, Name: name}
	switch r.Kind {
	case RelSource:
		rel.Source = r.Source.clone()
		rel.ID, rel.Columns = rel.Source.ID, rel.Source.Columns
	case RelTable:
		rel.Table = r.Table.clone()
		rel.ID, rel.Columns = rel.Table.ID, rel.Table.Columns
	case RelSink:
		rel.Sink = r.Sink.clone()
		rel.ID, rel.Columns = rel.Sink.ID, rel.Sink.Columns
	}
	return rel, nil
}

// ---- jobs ----

// CreateJob records a new launch of j.Name. A zero j.ID (and a zero
// j.StateNS) is assigned from NextID and written back into j. The name must
// not belong to a live job (42710), unless that live job is the one j
// replaces (j.PrevID: an update starts its successor while it is UPDATING).
func (c *Catalog) CreateJob(j *Job) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.RLock()
	var conflict *Job
	for _, o := range c.mu.jobs {
		if o.Name == j.Name && o.Live() && o.ID != j.PrevID {
			conflict = o
		}
	}
	_, dup := c.mu.jobs[j.ID]
	c.mu.RUnlock()
	if conflict != nil {
		return pgerr.New(pgerr.DuplicateObject, "job %q already exists", j.Name).
			WithDetail("job id %d is %s", conflict.ID, conflict.State)
	}
	if j.ID != 0 && dup {
		return pgerr.New(pgerr.DuplicateObject, "job id %d already exists", j.ID)
	}
	b := &writeBatch{}
	next := uint64(0)
	if j.ID == 0 || j.StateNS == 0 {
		first := c.allocID(b, 2)
		next = first + 2
		if j.ID == 0 {
			j.ID = first
		}
		if j.StateNS == 0 {
			j.StateNS = first + 1
		}
	}
	if j.State == "" {
		j.State = JobRunning
	}
	j2 := j.clone()
	if err := b.set(jobKey(j2.ID), j2); err != nil {
		return err
	}
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	c.bumpID(next)
	c.mu.jobs[j2.ID] = j2
	c.mu.Unlock()
	return nil
}

// PutJob upserts j by its ID (state changes, end times, errors). It does not
// check names: use CreateJob for a new launch.
func (c *Catalog) PutJob(j *Job) error {
	if j.ID == 0 {
		return pgerr.New(pgerr.InternalError, "catalog: PutJob of job %q without an id", j.Name)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	j2 := j.clone()
	b := &writeBatch{}
	if err := b.set(jobKey(j2.ID), j2); err != nil {
		return err
	}
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	c.bumpID(j2.ID + 1)
	c.bumpID(j2.StateNS + 1)
	c.mu.jobs[j2.ID] = j2
	c.mu.Unlock()
	return nil
}

// GetJob returns the launch with job id id (42704 if there is none).
func (c *Catalog) GetJob(id uint64) (*Job, error) {
	c.mu.RLock()
	j, ok := c.mu.jobs[id]
	c.mu.RUnlock()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "job id %d does not exist", id)
	}
	return j.clone(), nil
}

// LiveJob returns the live (RUNNING, UPDATING or DRAINING) launch of name;
// during an update, the newest.
func (c *Catalog) LiveJob(name string) (*Job, bool) {
	var best *Job
	c.mu.RLock()
	for _, j := range c.mu.jobs {
		if j.Name == name && j.Live() && (best == nil || j.ID > best.ID) {
			best = j
		}
	}
	c.mu.RUnlock()
	if best == nil {
		return nil, false
	}
	return best.clone(), true
}

// LatestJob returns the newest launch of name, live or not.
func (c *Catalog) LatestJob(name string) (*Job, bool) {
	h := c.JobsByName(name)
	if len(h) == 0 {
		return nil, false
	}
	return h[len(h)-1], true
}

// JobsByName returns every launch of name, oldest first.
func (c *Catalog) JobsByName(name string) []*Job {
	var out []*Job
	c.mu.RLock()
	for _, j := range c.mu.jobs {
		if j.Name == name {
			out = append(out, j.clone())
		}
	}
	c.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// Jobs returns every launch of every job, ordered by job id.
func (c *Catalog) Jobs() []*Job {
	c.mu.RLock()
	out := make([]*Job, 0, len(c.mu.jobs))
	for _, j := range c.mu.jobs {
		out = append(out, j.clone())
	}
	c.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}

// DropJob forgets every launch of name. A live job cannot be dropped (55000):
// drain or cancel it first. No launch of name is 42704.
func (c *Catalog) DropJob(name string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	h := c.JobsByName(name)
	if len(h) == 0 {
		return pgerr.New(pgerr.UndefinedObject, "job %q does not exist", name)
	}
	b := &writeBatch{}
	for _, j := range h {
		if j.Live() {
			return pgerr.New(pgerr.ObjectNotInPrerequisiteState, "job %q is %s", name, j.State).
				WithHint("DRAIN JOB or CANCEL JOB first.")
		}
		b.del(jobKey(j.ID))
	}
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	for _, j := range h {
		delete(c.mu.jobs, j.ID)
	}
	c.mu.Unlock()
	return nil
}

// ---- templates ----

// CreateTemplate stores t (42710 if the name is taken).
func (c *Catalog) CreateTemplate(t *Template) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.RLock()
	_, exists := c.mu.templates[t.Name]
	c.mu.RUnlock()
	if exists {
		return pgerr.New(pgerr.DuplicateObject, "template %q already exists", t.Name)
	}
	t2 := t.clone()
	b := &writeBatch{}
	if err := b.set(key(kindTemplate, t.Name), t2); err != nil {
		return err
	}
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	c.mu.templates[t.Name] = t2
	c.mu.Unlock()
	return nil
}

// GetTemplate returns the template named name (42704 if there is none).
func (c *Catalog) GetTemplate(name string) (*Template, error) {
	c.mu.RLock()
	t, ok := c.mu.templates[name]
	c.mu.RUnlock()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "template %q does not exist", name)
	}
	return t.clone(), nil
}

// DropTemplate removes the template named name (42704 if there is none).
func (c *Catalog) DropTemplate(name string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.GetTemplate(name); err != nil {
		return err
	}
	b := &writeBatch{}
	b.del(key(kindTemplate, name))
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.mu.templates, name)
	c.mu.Unlock()
	return nil
}

// ListTemplates returns every template, ordered by name.
func (c *Catalog) ListTemplates() []*Template {
	c.mu.RLock()
	out := make([]*Template, 0, len(c.mu.templates))
	for _, t := range c.mu.templates {
		out = append(out, t.clone())
	}
	c.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// ---- snapshots ----

// CreateSnapshot stores s (42710 if the name is taken).
func (c *Catalog) CreateSnapshot(s *Snapshot) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.mu.RLock()
	_, exists := c.mu.snapshots[s.Name]
	c.mu.RUnlock()
	if exists {
		return pgerr.New(pgerr.DuplicateObject, "snapshot %q already exists", s.Name)
	}
	return c.putSnapshotLocked(s)
}

// PutSnapshot upserts s by name (e.g. to record its size once written).
func (c *Catalog) PutSnapshot(s *Snapshot) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.putSnapshotLocked(s)
}

func (c *Catalog) putSnapshotLocked(s *Snapshot) error {
	s2 := s.clone()
	b := &writeBatch{}
	if err := b.set(key(kindSnapshot, s.Name), s2); err != nil {
		return err
	}
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	c.mu.snapshots[s.Name] = s2
	c.mu.Unlock()
	return nil
}

// GetSnapshot returns the snapshot named name (42704 if there is none).
func (c *Catalog) GetSnapshot(name string) (*Snapshot, error) {
	c.mu.RLock()
	s, ok := c.mu.snapshots[name]
	c.mu.RUnlock()
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "snapshot %q does not exist", name)
	}
	return s.clone(), nil
}

// DropSnapshot removes the snapshot named name (42704 if there is none).
// Its files are the caller's to delete.
func (c *Catalog) DropSnapshot(name string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if _, err := c.GetSnapshot(name); err != nil {
		return err
	}
	b := &writeBatch{}
	b.del(key(kindSnapshot, name))
	if err := c.commit(b); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.mu.snapshots, name)
	c.mu.Unlock()
	return nil
}

// ListSnapshots returns every snapshot, ordered by creation time then name.
func (c *Catalog) ListSnapshots() []*Snapshot {
	c.mu.RLock()
	out := make([]*Snapshot, 0, len(c.mu.snapshots))
	for _, s := range c.mu.snapshots {
		out = append(out, s.clone())
	}
	c.mu.RUnlock()
	sort.Slice(out, func(a, b int) bool {
		if out[a].CreatedAt != out[b].CreatedAt {
			return out[a].CreatedAt < out[b].CreatedAt
		}
		return out[a].Name < out[b].Name
	})
	return out
}
