package executor

import (
	"encoding/binary"
	"fmt"

	"github.com/weir-sql/weir/datum"
	"github.com/weir-sql/weir/expr"
	"github.com/weir-sql/weir/plan"
)

// formatSlicedEntry prints a sliced window aggregation's state entry for
// the datadriven scan-state verb: a slice with its time span, or a
// window's extra contributions, with the accumulators' results.
func formatSlicedEntry(op string, wop *plan.WindowAggOp, key, v []byte, raw string) string {
	if len(key) < 9 {
		return raw
	}
	tag := key[0]
	t := int64(binary.BigEndian.Uint64(key[1:9]) ^ (1 << 63))
	keyRow, _, err := datum.DecodeKeyRow(key[9:], len(wop.KeyCols))
	if err != nil {
		return raw
	}
	accs := expr.NewAccSet(wop.Aggs).New()
	if _, err := accs.Decode(v); err != nil {
		return raw
	}
	step := wop.Window.Size
	if wop.Window.Kind == plan.Hop && wop.Prewindowed == 0 {
		step = wop.Window.Slide
	}
	switch tag {
	case sliceTag:
		return fmt.Sprintf("slice %s %s [%s, %s): aggs=(%s)", op, ddKey(keyRow), datum.FormatTimestamp(t),
			datum.FormatTimestamp(t+step), ddResults(accs))
	case extraTag:
		return fmt.Sprintf("extra %s %s window ending %s: aggs=(%s)", op, ddKey(keyRow), datum.FormatTimestamp(t), ddResults(accs))
	}
	return raw
}
