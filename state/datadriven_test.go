package state

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weir-sql/weir/pgerr"
)

// TestDataDriven runs the scripts under testdata/ (regenerate expected output
// with -rewrite). Each script runs on an in-memory filesystem and again on a
// real directory; scripts that simulate crashes (they need a crashable
// in-memory filesystem) run only in memory.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		for _, backend := range []string{"mem", "disk"} {
			t.Run(backend, func(t *testing.T) {
				if backend == "disk" {
					text, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(string(text), "fs=strictmem") {
						t.Skip("simulates crashes: in-memory only")
					}
				}
				e := &ddEnv{t: t, backend: backend}
				defer e.closeAll()
				datadriven.RunTest(t, path, e.run)
			})
		}
	})
}

// ddEnv is the state of one script: a store and the state objects opened
// over it, by name.
type ddEnv struct {
	t       *testing.T
	backend string
	fs      vfs.FS
	crashFS *vfs.MemFS // set when the script opened fs=crashmem
	dir     string
	s       *Store
	values  map[string]*ValueState
	bags    map[string]*BagState
	maps    map[string]*MapState
	timers  map[string]*Timers
	batch   *Batch // flushed into, not yet committed
}

func (e *ddEnv) run(t *testing.T, d *datadriven.TestData) string {
	var out strings.Builder
	err := e.cmd(t, d, &out)
	if err != nil {
		fmt.Fprintf(&out, "error (%s): %s\n", pgerr.Code(err), err)
	}
	if out.Len() == 0 {
		return "ok\n"
	}
	return out.String()
}

func (e *ddEnv) cmd(t *testing.T, d *datadriven.TestData, out *strings.Builder) error {
	switch d.Cmd {
	case "open":
		// fs=mem (the default) runs on the backend under test; fs=strictmem
		// is always a crashable in-memory filesystem (Pebble v2's
		// NewCrashableMem, which replaced NewStrictMem).
		fsName := "mem"
		d.MaybeScanArgs(t, "fs", &fsName)
		if fsName == "mem" {
			fsName = e.backend
		}
		switch fsName {
		case "mem":
			e.fs, e.dir = vfs.NewMem(), "/db"
		case "strictmem", "crashmem":
			e.crashFS = vfs.NewCrashableMem()
			e.fs, e.dir = e.crashFS, "/db"
		case "disk":
			e.fs, e.dir = vfs.Default, filepath.Join(t.TempDir(), "db")
		default:
			t.Fatalf("unknown fs %q", fsName)
		}
		return e.open()

	case "restart":
		e.closeAll()
		return e.open()

	case "crash":
		// Keep exactly what was synced, as a power failure would.
		crashed := e.crashFS.CrashClone(vfs.CrashCloneCfg{})
		e.closeAll()
		e.fs, e.crashFS = crashed, crashed
		return e.open()

	case "checkpoint":
		var dir string
		d.ScanArgs(t, "dir", &dir)
		return e.s.Checkpoint(e.path(dir))

	case "open-checkpoint":
		var dir string
		d.ScanArgs(t, "dir", &dir)
		e.closeAll()
		e.dir = e.path(dir)
		return e.open()

	case "value-put":
		e.value(t, d).Put(hashArg(t, d), []byte(strArg(t, d, "key")), []byte(strArg(t, d, "val")))
	case "value-del":
		e.value(t, d).Delete(hashArg(t, d), []byte(strArg(t, d, "key")))
	case "value-get":
		v, ok, err := e.value(t, d).Get(hashArg(t, d), []byte(strArg(t, d, "key")))
		if err != nil {
			return err
		}
		printVal(out, v, ok)
	case "value-scan":
		lo, hi := rangeArgs(t, d)
		return e.value(t, d).Scan(lo, hi, func(h uint64, k, v []byte) error {
			fmt.Fprintf(out, "h=%#x %q = %q\n", h, k, v)
			return nil
		})
	case "value-evict":
		lo, hi := rangeArgs(t, d)
		e.value(t, d).Evict(lo, hi)
	case "value-discard":
		lo, hi := rangeArgs(t, d)
		e.value(t, d).Discard(lo, hi)
	case "value-limit":
		var n int64
		d.ScanArgs(t, "bytes", &n)
		e.value(t, d).SetCacheLimit(n)
	case "value-bytes":
		fmt.Fprintf(out, "%d\n", e.value(t, d).Bytes())

	case "bag-append":
		b := e.bag(t, d)
		arg, _ := d.Arg("val")
		for _, v := range arg.Vals {
			b.Append(hashArg(t, d), []byte(strArg(t, d, "key")), []byte(v))
		}
	case "bag-read":
		var vals []string
		err := e.bag(t, d).Read(hashArg(t, d), []byte(strArg(t, d, "key")), func(v []byte) error {
			vals = append(vals, strconv.Quote(string(v)))
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "[%s]\n", strings.Join(vals, " "))
	case "bag-clear":
		e.bag(t, d).Clear(hashArg(t, d), []byte(strArg(t, d, "key")))
	case "bag-bytes":
		fmt.Fprintf(out, "%d\n", e.bag(t, d).Bytes())

	case "map-put":
		e.mapState(t, d).Put(hashArg(t, d), []byte(strArg(t, d, "key")),
			[]byte(strArg(t, d, "mkey")), []byte(strArg(t, d, "val")))
	case "map-del":
		e.mapState(t, d).Delete(hashArg(t, d), []byte(strArg(t, d, "key")), []byte(strArg(t, d, "mkey")))
	case "map-get":
		v, ok, err := e.mapState(t, d).Get(hashArg(t, d), []byte(strArg(t, d, "key")), []byte(strArg(t, d, "mkey")))
		if err != nil {
			return err
		}
		printVal(out, v, ok)
	case "map-iter":
		n := 0
		err := e.mapState(t, d).Iterate(hashArg(t, d), []byte(strArg(t, d, "key")), func(mk, v []byte) error {
			fmt.Fprintf(out, "%q = %q\n", mk, v)
			n++
			return nil
		})
		if err == nil && n == 0 {
			fmt.Fprintf(out, "<empty>\n")
		}
		return err
	case "map-clear":
		e.mapState(t, d).Clear(hashArg(t, d), []byte(strArg(t, d, "key")))
	case "map-evict":
		lo, hi := rangeArgs(t, d)
		e.mapState(t, d).Evict(lo, hi)

	case "timer-set":
		e.timer(t, d).Set(tsArg(t, d, "ts"), hashArg(t, d), []byte(strArg(t, d, "key")))
	case "timer-del":
		e.timer(t, d).Delete(tsArg(t, d, "ts"), hashArg(t, d), []byte(strArg(t, d, "key")))
	case "timer-load":
		return e.timer(t, d).Load()
	case "timer-limit":
		var n int
		d.ScanArgs(t, "n", &n)
		e.timer(t, d).SetMemoryLimit(n)
	case "timer-pop":
		// set-during=(ts:hash:key ...) are set by the callback of the first
		// timer fired, to show that timers set while popping fire in order.
		tm := e.timer(t, d)
		var during []Timer
		if arg, ok := d.Arg("set-during"); ok {
			for _, v := range arg.Vals {
				f := strings.Split(v, ":")
				ts, _ := strconv.ParseInt(f[0], 10, 64)
				h, _ := strconv.ParseUint(f[1], 0, 64)
				during = append(during, Timer{TS: ts, Hash: h, Key: []byte(f[2])})
			}
		}
		return tm.PopDue(tsArg(t, d, "limit"), func(x Timer) error {
			fmt.Fprintf(out, "fire ts=%d h=%#x key=%s\n", x.TS, x.Hash, x.Key)
			for _, s := range during {
				tm.Set(s.TS, s.Hash, s.Key)
			}
			during = nil
			return nil
		})
	case "timer-next":
		ts, ok := e.timer(t, d).Next()
		if !ok {
			fmt.Fprintf(out, "none\n")
		} else {
			fmt.Fprintf(out, "%d\n", ts)
		}
	case "timer-len":
		fmt.Fprintf(out, "%d\n", e.timer(t, d).Len())

	case "flush":
		e.flush()
	case "commit":
		return e.commit()
	case "flush-commit":
		e.flush()
		return e.commit()

	case "scan":
		prefix := ""
		d.MaybeScanArgs(t, "prefix", &prefix)
		defer func() {
			if out.Len() == 0 {
				out.WriteString("<empty>\n")
			}
		}()
		return e.s.Scan([]byte(prefix), PrefixEnd([]byte(prefix)), func(k, v []byte) error {
			if k[0] == prefixInternal {
				return nil // the boot epoch: not interesting
			}
			if len(v) == 0 {
				fmt.Fprintf(out, "%s\n", e.s.FormatKey(k))
			} else {
				fmt.Fprintf(out, "%s -> %q\n", e.s.FormatKey(k), v)
			}
			return nil
		})

	default:
		t.Fatalf("unknown command %q", d.Cmd)
	}
	return nil
}

func (e *ddEnv) path(dir string) string {
	if e.fs == vfs.Default {
		return filepath.Join(filepath.Dir(e.dir), dir)
	}
	return "/" + dir
}

func (e *ddEnv) open() error {
	s, err := Open(e.dir, Options{FS: e.fs})
	if err != nil {
		return err
	}
	e.s = s
	e.values = map[string]*ValueState{}
	e.bags = map[string]*BagState{}
	e.maps = map[string]*MapState{}
	e.timers = map[string]*Timers{}
	return nil
}

func (e *ddEnv) closeAll() {
	if e.s == nil {
		return
	}
	if e.batch != nil {
		e.batch.Close()
		e.batch = nil
	}
	for _, tm := range e.timers {
		tm.Close()
	}
	if err := e.s.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.s = nil
}

// flush flushes every state object, in a fixed order, into the pending batch.
func (e *ddEnv) flush() {
	if e.batch == nil {
		e.batch = e.s.NewBatch()
	}
	for _, name := range sortedKeys(e.values) {
		e.values[name].Flush(e.batch)
	}
	for _, name := range sortedKeys(e.bags) {
		e.bags[name].Flush(e.batch)
	}
	for _, name := range sortedKeys(e.maps) {
		e.maps[name].Flush(e.batch)
	}
	for _, name := range sortedKeys(e.timers) {
		e.timers[name].Flush(e.batch)
	}
}

func (e *ddEnv) commit() error {
	if e.batch == nil {
		e.batch = e.s.NewBatch()
	}
	err := e.s.Commit(e.batch)
	e.batch.Close()
	e.batch = nil
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (e *ddEnv) value(t *testing.T, d *datadriven.TestData) *ValueState {
	op := strArg(t, d, "op")
	if e.values[op] == nil {
		e.values[op] = NewValueState(e.s, 1, op)
	}
	return e.values[op]
}

func (e *ddEnv) bag(t *testing.T, d *datadriven.TestData) *BagState {
	op := strArg(t, d, "op")
	if e.bags[op] == nil {
		e.bags[op] = NewBagState(e.s, 1, op)
	}
	return e.bags[op]
}

func (e *ddEnv) mapState(t *testing.T, d *datadriven.TestData) *MapState {
	op := strArg(t, d, "op")
	if e.maps[op] == nil {
		e.maps[op] = NewMapState(e.s, 1, op)
	}
	return e.maps[op]
}

// timer returns the Timers of op, domain (default e) and range lo..hi
// (default the whole space).
func (e *ddEnv) timer(t *testing.T, d *datadriven.TestData) *Timers {
	op := strArg(t, d, "op")
	domain := "e"
	d.MaybeScanArgs(t, "domain", &domain)
	lo, hi := rangeArgs(t, d)
	name := fmt.Sprintf("%s/%s/%#x-%#x", op, domain, lo, hi)
	if e.timers[name] == nil {
		e.timers[name] = NewTimers(e.s, 1, op, Domain(domain[0]), lo, hi)
	}
	return e.timers[name]
}

func strArg(t *testing.T, d *datadriven.TestData, key string) string {
	var s string
	d.ScanArgs(t, key, &s)
	return s
}

func hashArg(t *testing.T, d *datadriven.TestData) uint64 {
	h, err := strconv.ParseUint(strArg(t, d, "hash"), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func tsArg(t *testing.T, d *datadriven.TestData, key string) int64 {
	ts, err := strconv.ParseInt(strArg(t, d, key), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// rangeArgs reads lo= and hi= (hash range bounds, default the whole space).
func rangeArgs(t *testing.T, d *datadriven.TestData) (lo, hi uint64) {
	for _, p := range []struct {
		key string
		dst *uint64
	}{{"lo", &lo}, {"hi", &hi}} {
		if arg, ok := d.Arg(p.key); ok {
			v, err := strconv.ParseUint(arg.SingleVal(t), 0, 64)
			if err != nil {
				t.Fatal(err)
			}
			*p.dst = v
		}
	}
	return lo, hi
}

func printVal(out *strings.Builder, v []byte, ok bool) {
	if !ok {
		fmt.Fprintf(out, "<absent>\n")
		return
	}
	fmt.Fprintf(out, "%q\n", v)
}
