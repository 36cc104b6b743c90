package runner

import (
	"math"

	"github.com/nas-project/nas/internal/child"
)

// Param is one parameter tensor: the contract's type (package child).
type Param = child.Param

// Source is a data set the runner reads batches from: Len examples in a
// fixed order, each one row of every batch input of the child
// (child.Net.Batch, in order). The runner knows nothing of what the columns
// mean (images and labels, token windows, ...).
type Source interface {
	// Len is the number of examples.
	Len() int
	// Fill writes examples idx, in order, into the batch tensors: dst[k]
	// is column k with len(idx) rows, its values in the F32 or the I64
	// slice as the column's element type says. It must not keep dst.
	Fill(idx []int, dst []child.Column)
}

// EstimateMemory estimates the bytes that training n at the given batch size
// needs:
//
//	2 × (parameters + zero-started state)   two sets, read and written
//	+ batch × the batch inputs' values        (4 B a float, 8 B an int64)
//	+ batch × 2 × ActivationFloats            forward values and their gradients
//
// in bytes (4 B a float). It is an estimate of the peak working set, not a
// bound: ORT's own arena and the evaluation session come on top.
func EstimateMemory(n child.Net, batch int) int64 {
	b := int64(batch)
	floats := 2*(n.ParamFloats()+n.StateFloats()) + b*2*n.ActivationFloats
	var bytes int64
	for _, name := range n.Batch {
		t, _ := n.Train.Input(name)
		per := int64(max(child.Elements(t.Shape[min(1, len(t.Shape)):]), 0))
		if t.Type == child.Int64 {
			bytes += 8 * b * per
		} else {
			floats += b * per
		}
	}
	if floats < 0 || floats > math.MaxInt64/4-bytes { // overflow: as good as infinite
		return math.MaxInt64
	}
	return 4*floats + bytes
}
