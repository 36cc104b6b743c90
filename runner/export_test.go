package runner

import "github.com/nas-project/nas/internal/dataset"

// StepForTest prepares a training session of c at the given batch, fills it
// with the first batch of set, and returns a function that runs one step
// (what Train runs per batch, without the fill) and a function that frees
// everything.
func (rt *Runtime) StepForTest(c Child, set *dataset.Set, batch int, lr float32) (step func() error, fill func(), free func(), err error) {
	tr, err := rt.newTrainer(c, batch, set.C, set.H, set.W)
	if err != nil {
		return nil, nil, nil, err
	}
	idx := make([]int, batch)
	for i := range idx {
		idx[i] = i
	}
	fill = func() { tr.fill(set, idx) }
	fill()
	step = func() error {
		_, _, err := tr.step(lr)
		return err
	}
	return step, fill, tr.close, nil
}
