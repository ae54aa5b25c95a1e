package catalog

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/pgerr"
	"github.com/weir-sql/weir/state"
)

// TestDataDriven runs the scripts in testdata/. Verbs:
//
//	create kind=source|table|sink|job|template|snapshot   input: the object as JSON
//	put kind=job|snapshot                                  input: JSON (upsert)
//	get kind=... name=N | get kind=job id=N
//	drop kind=... name=N
//	list kind=...                                          one JSON object per line
//	lookup [schema=S] name=N                               LookupRelation
//	live name=N / history name=N                           LiveJob, JobsByName
//	next-id
//	restart                                                close the store, reopen it, reload
//
// Each file starts with an empty store on an in-memory filesystem.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		e := &env{t: t, fs: vfs.NewMem()}
		e.open()
		defer e.close()
		datadriven.RunTest(t, path, e.run)
	})
}

type env struct {
	t  *testing.T
	fs vfs.FS
	st *state.Store
	c  *Catalog
}

func (e *env) open() {
	st, err := state.Open("/db", state.Options{FS: e.fs})
	if err != nil {
		e.t.Fatal(err)
	}
	c, err := Open(st)
	if err != nil {
		e.t.Fatal(err)
	}
	e.st, e.c = st, c
}

func (e *env) close() {
	if err := e.st.Close(); err != nil {
		e.t.Fatal(err)
	}
}

func errString(err error) string {
	pe := pgerr.Wrap(err)
	return fmt.Sprintf("error (%s): %s\n", pe.Code, pe.Message)
}

func jsonLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b) + "\n"
}

func (e *env) run(t *testing.T, d *datadriven.TestData) string {
	arg := func(k string) string {
		for _, a := range d.CmdArgs {
			if a.Key == k && len(a.Vals) > 0 {
				return a.Vals[0]
			}
		}
		return ""
	}
	decode := func(v any) {
		if err := json.Unmarshal([]byte(d.Input), v); err != nil {
			t.Fatalf("%s: bad JSON input: %v", d.Pos, err)
		}
	}
	out := func(v any, err error) string {
		if err != nil {
			return errString(err)
		}
		return jsonLine(v)
	}
	c := e.c
	kind, name := arg("kind"), arg("name")
	switch d.Cmd {
	case "create", "put":
		var obj any
		var err error
		switch kind {
		case "source":
			s := &Source{}
			decode(s)
			obj, err = s, c.CreateSource(s)
		case "table":
			s := &Table{}
			decode(s)
			obj, err = s, c.CreateTable(s)
		case "sink":
			s := &Sink{}
			decode(s)
			obj, err = s, c.CreateSink(s)
		case "job":
			j := &Job{}
			decode(j)
			if d.Cmd == "put" {
				obj, err = j, c.PutJob(j)
			} else {
				obj, err = j, c.CreateJob(j)
			}
		case "template":
			s := &Template{}
			decode(s)
			obj, err = s, c.CreateTemplate(s)
		case "snapshot":
			s := &Snapshot{}
			decode(s)
			if d.Cmd == "put" {
				obj, err = s, c.PutSnapshot(s)
			} else {
				obj, err = s, c.CreateSnapshot(s)
			}
		default:
			t.Fatalf("%s: unknown kind %q", d.Pos, kind)
		}
		return out(obj, err)
	case "get":
		switch kind {
		case "source":
			return out(c.GetSource(name))
		case "table":
			return out(c.GetTable(name))
		case "sink":
			return out(c.GetSink(name))
		case "job":
			var id uint64
			fmt.Sscan(arg("id"), &id)
			return out(c.GetJob(id))
		case "template":
			return out(c.GetTemplate(name))
		case "snapshot":
			return out(c.GetSnapshot(name))
		}
	case "drop":
		var err error
		switch kind {
		case "source":
			err = c.DropSource(name)
		case "table":
			err = c.DropTable(name)
		case "sink":
			err = c.DropSink(name)
		case "job":
			err = c.DropJob(name)
		case "template":
			err = c.DropTemplate(name)
		case "snapshot":
			err = c.DropSnapshot(name)
		}
		if err != nil {
			return errString(err)
		}
		return "ok\n"
	case "list":
		var b strings.Builder
		switch kind {
		case "source":
			for _, x := range c.ListSources() {
				b.WriteString(jsonLine(x))
			}
		case "table":
			for _, x := range c.ListTables() {
				b.WriteString(jsonLine(x))
			}
		case "sink":
			for _, x := range c.ListSinks() {
				b.WriteString(jsonLine(x))
			}
		case "job":
			for _, x := range c.Jobs() {
				b.WriteString(jsonLine(x))
			}
		case "template":
			for _, x := range c.ListTemplates() {
				b.WriteString(jsonLine(x))
			}
		case "snapshot":
			for _, x := range c.ListSnapshots() {
				b.WriteString(jsonLine(x))
			}
		}
		if b.Len() == 0 {
			return "(none)\n"
		}
		return b.String()
	case "lookup":
		r, err := c.LookupRelation(arg("schema"), name)
		if err != nil {
			return errString(err)
		}
		return fmt.Sprintf("%s %s id=%d columns=%d\n", r.Kind, r.Name, r.ID, len(r.Columns))
	case "live":
		j, ok := c.LiveJob(name)
		if !ok {
			return "no live job\n"
		}
		return jsonLine(j)
	case "history":
		var b strings.Builder
		for _, j := range c.JobsByName(name) {
			fmt.Fprintf(&b, "id=%d state=%s prev=%d\n", j.ID, j.State, j.PrevID)
		}
		if b.Len() == 0 {
			return "(none)\n"
		}
		return b.String()
	case "next-id":
		id, err := c.NextID()
		if err != nil {
			return errString(err)
		}
		return fmt.Sprintf("%d\n", id)
	case "restart":
		e.close()
		e.open()
		return "ok\n"
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return ""
}

// TestConcurrentCreates checks that concurrent creates of one name admit
// exactly one, and that ids stay unique under concurrency.
func TestConcurrentCreates(t *testing.T) {
	c := NewMemory()
	var wg sync.WaitGroup
	errs := make([]error, 16)
	ids := make([]uint64, 16)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = c.CreateTable(&Table{Name: "t"})
			ids[i], _ = c.NextID()
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if pgerr.Code(err) != pgerr.DuplicateTable {
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want 1", ok)
	}
	seen := map[uint64]bool{}
	for _, id := range ids {
		if seen[id] || id == 0 {
			t.Fatalf("id %d handed out twice (or zero)", id)
		}
		seen[id] = true
	}
}

// TestGettersReturnCopies checks callers cannot change the catalog through
// the objects it returns.
func TestGettersReturnCopies(t *testing.T) {
	c := NewMemory()
	if err := c.CreateSource(&Source{Name: "s", Options: map[string]string{"connector": "log"}}); err != nil {
		t.Fatal(err)
	}
	s, _ := c.GetSource("s")
	s.Options["connector"] = "file"
	s2, _ := c.GetSource("s")
	if s2.Connector() != "log" {
		t.Fatalf("catalog changed through a returned object")
	}
}
