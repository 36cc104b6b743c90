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
	return rt.stepsForTest(n, src, batch, false, 1, lr)
}

// StepsForTest is StepForTest for runs of steps steps of the K-step graph:
// step makes one run, each step on the same batch.
func (rt *Runtime) StepsForTest(n child.Net, src Source, batch, steps int, lr float32) (step func() error, fill func(), free func(), err error) {
	return rt.stepsForTest(n, src, batch, true, steps, lr)
}

// WithStepsForTest returns a copy of rt that trains with the K-step graph
// and steps steps per run, also when steps is 1.
func (rt *Runtime) WithStepsForTest(steps int) *Runtime {
	c := *rt
	c.steps, c.loop = steps, true
	return &c
}

func (rt *Runtime) stepsForTest(n child.Net, src Source, batch int, loop bool, steps int, lr float32) (step func() error, fill func(), free func(), err error) {
	if err := n.Validate(); err != nil {
		return nil, nil, nil, err
	}
	tr, err := rt.newTrainer(n, batch, loop, steps, 0)
	if err != nil {
		return nil, nil, nil, err
	}
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	r := tr.groups[0]
	fill = func() {
		for k := range r.steps {
			src.Fill(idx, r.batch.rows[k])
		}
	}
	fill()
	for k := range r.lr {
		r.lr[k] = lr
	}
	step = func() error { return tr.run(r) }
	return step, fill, tr.close, nil
}
