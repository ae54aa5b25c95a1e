package catalog

import (
	"github.com/weir-sql/weir/state"
)

// Open loads the catalog kept in st (under prefix 'c'). The catalog writes
// through st until the store is closed; it holds no resources of its own.
func Open(st *state.Store) (*Catalog, error) {
	return openKV(storeKV{st})
}

// storeKV adapts a state.Store to kv: each change is one state.Batch,
// committed (and synced) before the change is visible in memory.
type storeKV struct{ st *state.Store }

func (s storeKV) scan(lo, hi []byte, fn func(k, v []byte) error) error {
	return s.st.Scan(lo, hi, fn)
}

func (s storeKV) write(wb *writeBatch) error {
	b := s.st.NewBatch()
	defer b.Close()
	for _, p := range wb.sets {
		b.Set(p.k, p.v)
	}
	for _, k := range wb.dels {
		b.Delete(k)
	}
	return s.st.Commit(b)
}
