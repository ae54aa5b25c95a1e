package state

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/weir-sql/weir/pgerr"
)

// backends returns the filesystems every storage test runs on: Pebble's
// in-memory FS and a real temporary directory.
func backends(t *testing.T) []struct {
	name string
	fs   vfs.FS
	dir  string
} {
	return []struct {
		name string
		fs   vfs.FS
		dir  string
	}{
		{"mem", vfs.NewMem(), "/db"},
		{"disk", vfs.Default, t.TempDir()},
	}
}

func mustOpen(t testing.TB, fs vfs.FS, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreGetScanCommit(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := mustOpen(t, be.fs, be.dir)
			b := s.NewBatch()
			defer b.Close()
			if !b.Empty() {
				t.Fatal("new batch not empty")
			}
			b.Set([]byte("ta"), []byte("1"))
			b.Set([]byte("tb"), []byte("2"))
			b.Set([]byte("tc"), nil)
			b.Set([]byte("u"), []byte("3"))
			b.Delete([]byte("tb"))
			if b.Count() != 5 || b.Len() == 0 {
				t.Fatalf("count %d len %d", b.Count(), b.Len())
			}
			hooked := 0
			b.OnCommit(func() { hooked++ })
			// Nothing is visible before the commit.
			if _, ok, _ := s.Get([]byte("ta")); ok {
				t.Fatal("uncommitted write visible")
			}
			if err := s.Commit(b); err != nil {
				t.Fatal(err)
			}
			if hooked != 1 {
				t.Fatalf("hook ran %d times", hooked)
			}
			b.Reset()
			b.DeleteRange([]byte("t"), []byte("tb"))
			if err := s.Commit(b); err != nil {
				t.Fatal(err)
			}
			if hooked != 1 {
				t.Fatal("hook survived Reset")
			}

			v, ok, err := s.Get([]byte("tc"))
			if err != nil || !ok || v == nil || len(v) != 0 {
				t.Fatalf("empty value: %q %v %v", v, ok, err)
			}
			var got []string
			err = s.Scan([]byte("t"), PrefixEnd([]byte("t")), func(k, v []byte) error {
				got = append(got, fmt.Sprintf("%s=%s", k, v))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != "tc=" {
				t.Fatalf("scan: %v", got)
			}
			stop := errors.New("stop")
			n := 0
			if err := s.Scan(nil, nil, func(k, v []byte) error { n++; return stop }); err != stop || n != 1 {
				t.Fatalf("scan stop: %v after %d", err, n)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.Get([]byte("tc")); err != ErrClosed {
				t.Fatalf("get after close: %v", err)
			}
			if err := s.Close(); err != ErrClosed {
				t.Fatalf("second close: %v", err)
			}

			s = mustOpen(t, be.fs, be.dir)
			defer s.Close()
			if v, ok, _ := s.Get([]byte("u")); !ok || string(v) != "3" {
				t.Fatalf("after reopen: %q %v", v, ok)
			}
			if s.epoch != 2 {
				t.Fatalf("epoch %d after two opens", s.epoch)
			}
		})
	}
}

// TestCommitDiskFull injects ENOSPC into WAL syncs: Commit must return a
// 53100 error, not exit the process, and the store stays poisoned.
func TestCommitDiskFull(t *testing.T) {
	full := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo,
			errorfs.OpFileWrite, errorfs.OpFileWriteAt:
			if strings.HasSuffix(op.Path, ".log") {
				return fmt.Errorf("write %s: %w", op.Path, syscall.ENOSPC)
			}
		}
		return nil
	})}
	s := mustOpen(t, errorfs.Wrap(vfs.NewMem(), full), "/db")
	v := NewValueState(s, 1, "agg")
	v.Put(1, []byte("a"), []byte("1"))
	b := s.NewBatch()
	v.Flush(b)
	if err := s.Commit(b); err != nil {
		t.Fatal(err)
	}
	b.Reset()

	full.On()
	v.Put(1, []byte("a"), []byte("2"))
	v.Flush(b)
	err := s.Commit(b)
	if pgerr.Code(err) != pgerr.DiskFull {
		t.Fatalf("commit on a full disk: %v (code %s)", err, pgerr.Code(err))
	}
	t.Logf("commit on a full disk: %v", err)
	b2 := s.NewBatch()
	b2.Set([]byte("tx"), nil)
	if err2 := s.Commit(b2); pgerr.Code(err2) != pgerr.DiskFull {
		t.Fatalf("store not poisoned: %v", err2)
	}
	full.Off()
	_ = s.Close()
}

func TestStorageErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
	}{
		{fmt.Errorf("sync: %w", syscall.ENOSPC), pgerr.DiskFull},
		{fmt.Errorf("sync: %w", syscall.EIO), pgerr.IOError},
		{pgerr.New(pgerr.QueryCanceled, "x"), pgerr.QueryCanceled},
	} {
		if got := storageError("commit", c.err).Code; got != c.code {
			t.Errorf("%v: code %s, want %s", c.err, got, c.code)
		}
	}
}

func TestKindConflictPanics(t *testing.T) {
	s := mustOpen(t, vfs.NewMem(), "/db")
	defer s.Close()
	NewValueState(s, 1, "x")
	NewValueState(s, 1, "x") // same shape again: fine
	NewBagState(s, 2, "x")   // other namespace: fine
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "holds value state") {
			t.Fatalf("recovered %v", r)
		}
	}()
	NewMapState(s, 1, "x")
}

func TestKeys(t *testing.T) {
	p := StateKeyPrefix(7, "agg")
	if !bytes.Equal(p, []byte("s\x00\x00\x00\x00\x00\x00\x00\x07agg\x00")) {
		t.Fatalf("prefix %q", p)
	}
	k := StateKey(7, "agg", 0x0102, []byte("k"))
	if !bytes.Equal(k, append(append([]byte{}, p...), 0, 0, 0, 0, 0, 0, 1, 2, 'k')) {
		t.Fatalf("key %q", k)
	}
	lo, hi := StateSpan(7, "agg", 0x0102, 0x0103)
	if bytes.Compare(lo, k) > 0 || bytes.Compare(k, hi) >= 0 {
		t.Fatalf("span [%q, %q) misses %q", lo, hi, k)
	}
	if _, hi := StateSpan(7, "agg", 5, 0); !bytes.Equal(hi, PrefixEnd(p)) {
		t.Fatalf("open span end %q", hi)
	}
	for _, c := range []struct{ in, out string }{
		{"a", "b"}, {"a\xff", "b"}, {"\xff\xff", ""}, {"", ""}, {"ab\x00", "ab\x01"},
	} {
		if got := string(PrefixEnd([]byte(c.in))); got != c.out {
			t.Errorf("PrefixEnd(%q) = %q, want %q", c.in, got, c.out)
		}
	}
	// Timer keys sort by (ts, hash, key), negative ts included.
	ts := []int64{-1 << 62, -2, -1, 0, 1, 1 << 62}
	for i := 1; i < len(ts); i++ {
		a := TimerKey(1, "w", EventTime, ts[i-1], 9, []byte("z"))
		b := TimerKey(1, "w", EventTime, ts[i], 0, nil)
		if bytes.Compare(a, b) >= 0 {
			t.Errorf("timer keys out of order at ts %d, %d", ts[i-1], ts[i])
		}
	}
	if !InRange(5, 5, 0) || InRange(4, 5, 0) || !InRange(^uint64(0), 0, 0) || InRange(6, 5, 6) {
		t.Error("InRange")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("operator name with 0x00 accepted")
			}
		}()
		StateKeyPrefix(1, "a\x00b")
	}()
}

func TestEscaping(t *testing.T) {
	keys := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x00\xff", "\x01", "a", "a\x00", "a\x00b", "ab", "\xff"}
	for i, k := range keys {
		enc := appendEscaped(nil, []byte(k))
		dec, rest, ok := decodeEscaped(append(enc, "tail"...))
		if !ok || string(dec) != k || string(rest) != "tail" {
			t.Errorf("%q: decoded %q rest %q ok %v", k, dec, rest, ok)
		}
		// Order-preserving and prefix-free: a key's encoding plus any suffix
		// sorts between its neighbours' encodings.
		if i > 0 {
			prev := appendEscaped(nil, []byte(keys[i-1]))
			if bytes.Compare(append(prev, 0xff, 0xff), enc) >= 0 {
				t.Errorf("%q+suffix sorts after %q", keys[i-1], k)
			}
		}
	}
}
