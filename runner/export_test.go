package runner

import (
	"github.com/nas-project/nas/internal/child"
	ort "github.com/yalue/onnxruntime_go"
)

// WithSessionOptionsForTest returns a copy of rt whose sessions get tweak
// applied to their options after the defaults.
func (rt *Runtime) WithSessionOptionsForTest(tweak func(*ort.SessionOptions) error) *Runtime {
	c := *rt
	c.tweak = tweak
	return &c
}

// StepForTest prepares a training session of n at the given batch, fills it
// with the first batch of src, and returns a function that runs one step
// (what Train runs per batch, without the fill), a function that refills the
// batch from src (what Train runs before every step) and a function that
// frees everything.
func (rt *Runtime) StepForTest(n child.Net, src Source, batch int, lr float32) (step func() error, fill func(), free func(), err error) {
	if err := n.Validate(); err != nil {
		return nil, nil, nil, err
	}
	tr, err := rt.newTrainer(n, batch)
	if err != nil {
		return nil, nil, nil, err
	}
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	fill = func() { tr.fill(src, idx) }
	fill()
	step = func() error { return tr.step(lr) }
	return step, fill, tr.close, nil
}
