package runner

import (
	"context"
	"fmt"

	"github.com/nas-project/nas/internal/dataset"
	ort "github.com/yalue/onnxruntime_go"
)

// owner collects every ORT object a trainer or evaluator creates, so one
// call destroys them all.
type owner struct {
	values   []ort.Value
	bindings []*ort.IoBinding
	sessions []*ort.DynamicAdvancedSession
}

func (o *owner) destroy() {
	for _, b := range o.bindings {
		b.Destroy()
	}
	for _, s := range o.sessions {
		s.Destroy()
	}
	for _, v := range o.values {
		v.Destroy()
	}
	*o = owner{}
}

func newTensor[T ort.TensorData](o *owner, data []T, shape ...int64) (*ort.Tensor[T], error) {
	t, err := ort.NewTensor(ort.NewShape(shape...), data)
	if err != nil {
		return nil, err
	}
	o.values = append(o.values, t)
	return t, nil
}

// bind creates an IoBinding of sess with the given inputs and outputs, by
// name. Runs through a binding allocate nothing in Go.
func bind(o *owner, sess *ort.DynamicAdvancedSession, inNames []string, ins []ort.Value, outNames []string, outs []ort.Value) (*ort.IoBinding, error) {
	b, err := sess.CreateIoBinding()
	if err != nil {
		return nil, err
	}
	o.bindings = append(o.bindings, b)
	for i, n := range inNames {
		if err := b.BindInput(n, ins[i]); err != nil {
			return nil, fmt.Errorf("binding input %s: %w", n, err)
		}
	}
	for i, n := range outNames {
		if err := b.BindOutput(n, outs[i]); err != nil {
			return nil, fmt.Errorf("binding output %s: %w", n, err)
		}
	}
	return b, nil
}

// trainer holds one training session and two sets of weight and momentum
// tensors: a step reads set cur and writes set 1-cur, then flips cur, so the
// outputs of step k are the inputs of step k+1 without a copy.
type trainer struct {
	o       owner
	sess    *ort.DynamicAdvancedSession
	chw     int
	batch   int
	images  []float32 // backs the image tensor [batch,C,H,W]
	labels  []int64   // backs the label tensor [batch]
	lr      []float32 // backs the lr tensor [1]
	loss    []float32 // backs the loss output [1]
	correct []int64   // backs the correct output [1]
	params  [2][]*ort.Tensor[float32]
	binds   [2]*ort.IoBinding
	cur     int
}

// trainNames are the input and output names of a training graph whose
// parameters are ps; hasMom[i] says whether ps[i] has a momentum buffer.
func trainNames(ps []Param, hasMom []bool) (ins, outs []string) {
	ins = []string{"image", "label", "lr"}
	outs = []string{"loss", "correct"}
	for _, p := range ps {
		ins = append(ins, p.Name)
		outs = append(outs, p.Name+".next")
	}
	for i, p := range ps {
		if hasMom[i] {
			ins = append(ins, p.Name+".mom")
			outs = append(outs, p.Name+".mom.next")
		}
	}
	return ins, outs
}

// newTrainer creates the training session of c and all its tensors; the
// weights start as c.Params (copied), the momentum buffers at zero. A
// parameter has a momentum buffer when the graph has an input p.mom (batch
// norm running statistics, updated by the graph but not by SGD, have none).
func (rt *Runtime) newTrainer(c Child, batch, C, H, W int) (_ *trainer, err error) {
	tr := &trainer{chw: C * H * W, batch: batch}
	defer func() {
		if err != nil {
			tr.o.destroy()
		}
	}()
	graphIns, err := graphInputs(c.Train)
	if err != nil {
		return nil, fmt.Errorf("training graph: %w", err)
	}
	hasMom := make([]bool, len(c.Params))
	for i, p := range c.Params {
		hasMom[i] = graphIns[p.Name+".mom"]
	}
	inNames, outNames := trainNames(c.Params, hasMom)
	tr.sess, err = rt.newSession(c.Train, inNames, outNames)
	if err != nil {
		return nil, fmt.Errorf("training graph: %w", err)
	}
	tr.o.sessions = append(tr.o.sessions, tr.sess)
	tr.images = make([]float32, batch*tr.chw)
	tr.labels = make([]int64, batch)
	tr.lr = make([]float32, 1)
	tr.loss = make([]float32, 1)
	tr.correct = make([]int64, 1)
	img, err := newTensor(&tr.o, tr.images, int64(batch), int64(C), int64(H), int64(W))
	if err != nil {
		return nil, err
	}
	lab, err := newTensor(&tr.o, tr.labels, int64(batch))
	if err != nil {
		return nil, err
	}
	lr, err := newTensor(&tr.o, tr.lr, 1)
	if err != nil {
		return nil, err
	}
	loss, err := newTensor(&tr.o, tr.loss, 1)
	if err != nil {
		return nil, err
	}
	correct, err := newTensor(&tr.o, tr.correct, 1)
	if err != nil {
		return nil, err
	}
	var moms [2][]*ort.Tensor[float32]
	for s := range 2 {
		for i, p := range c.Params {
			w := make([]float32, len(p.Data))
			if s == 0 {
				copy(w, p.Data)
			}
			wt, err := newTensor(&tr.o, w, p.Shape...)
			if err != nil {
				return nil, fmt.Errorf("param %s: %w", p.Name, err)
			}
			tr.params[s] = append(tr.params[s], wt)
			if !hasMom[i] {
				moms[s] = append(moms[s], nil)
				continue
			}
			mt, err := newTensor(&tr.o, make([]float32, len(p.Data)), p.Shape...)
			if err != nil {
				return nil, fmt.Errorf("param %s: %w", p.Name, err)
			}
			moms[s] = append(moms[s], mt)
		}
	}
	for s := range 2 {
		ins := []ort.Value{img, lab, lr}
		outs := []ort.Value{loss, correct}
		for i := range c.Params {
			ins = append(ins, tr.params[s][i])
			outs = append(outs, tr.params[1-s][i])
		}
		for i := range c.Params {
			if hasMom[i] {
				ins = append(ins, moms[s][i])
				outs = append(outs, moms[1-s][i])
			}
		}
		if tr.binds[s], err = bind(&tr.o, tr.sess, inNames, ins, outNames, outs); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

// fill writes the images and labels of set at idx (len batch) into the
// batch tensors, in place.
func (tr *trainer) fill(set *dataset.Set, idx []int) {
	for j, i := range idx {
		copy(tr.images[j*tr.chw:(j+1)*tr.chw], set.X[i*tr.chw:(i+1)*tr.chw])
		tr.labels[j] = set.Y[i]
	}
}

// step runs one training step on the filled batch at learning rate lr and
// returns its loss and number of correct predictions. It allocates nothing.
func (tr *trainer) step(lr float32) (float32, int64, error) {
	tr.lr[0] = lr
	if err := tr.sess.RunWithBinding(tr.binds[tr.cur]); err != nil {
		return 0, 0, err
	}
	tr.cur = 1 - tr.cur
	return tr.loss[0], tr.correct[0], nil
}

// weights are the tensors that hold the current weights.
func (tr *trainer) weights() []*ort.Tensor[float32] { return tr.params[tr.cur] }

func (tr *trainer) close() { tr.o.destroy() }

// evaluator holds one evaluation session bound to one or more weight sets.
// It runs full batches of size batch and, when the set's size is not a
// multiple of it, one last batch of the remainder through its own tensors,
// so every image is counted exactly once and nothing is padded.
type evaluator struct {
	o     owner
	sess  *ort.DynamicAdvancedSession
	chw   int
	full  evalIO
	tail  evalIO // batch 0 when the set divides evenly
	loss  []float32
	right []int64
}

type evalIO struct {
	batch  int
	images []float32
	labels []int64
	binds  []*ort.IoBinding // one per weight set
}

func (rt *Runtime) newEvaluator(model []byte, params []Param, sets [][]*ort.Tensor[float32], set *dataset.Set, batch int) (_ *evaluator, err error) {
	ev := &evaluator{chw: set.C * set.H * set.W, loss: make([]float32, 1), right: make([]int64, 1)}
	defer func() {
		if err != nil {
			ev.o.destroy()
		}
	}()
	inNames := []string{"image", "label"}
	for _, p := range params {
		inNames = append(inNames, p.Name)
	}
	outNames := []string{"loss", "correct"}
	ev.sess, err = rt.newSession(model, inNames, outNames)
	if err != nil {
		return nil, fmt.Errorf("evaluation graph: %w", err)
	}
	ev.o.sessions = append(ev.o.sessions, ev.sess)
	loss, err := newTensor(&ev.o, ev.loss, 1)
	if err != nil {
		return nil, err
	}
	right, err := newTensor(&ev.o, ev.right, 1)
	if err != nil {
		return nil, err
	}
	batch = min(batch, set.Len())
	ev.full.batch = batch
	ev.tail.batch = set.Len() % batch
	for _, io := range []*evalIO{&ev.full, &ev.tail} {
		if io.batch == 0 {
			continue
		}
		io.images = make([]float32, io.batch*ev.chw)
		io.labels = make([]int64, io.batch)
		img, err := newTensor(&ev.o, io.images, int64(io.batch), int64(set.C), int64(set.H), int64(set.W))
		if err != nil {
			return nil, err
		}
		lab, err := newTensor(&ev.o, io.labels, int64(io.batch))
		if err != nil {
			return nil, err
		}
		for _, ws := range sets {
			ins := []ort.Value{img, lab}
			for _, w := range ws {
				ins = append(ins, w)
			}
			b, err := bind(&ev.o, ev.sess, inNames, ins, outNames, []ort.Value{loss, right})
			if err != nil {
				return nil, err
			}
			io.binds = append(io.binds, b)
		}
	}
	return ev, nil
}

// run evaluates weight set ws on every image of set, in order, and returns
// the accuracy and the mean loss. It checks ctx between batches.
func (ev *evaluator) run(ctx context.Context, set *dataset.Set, ws int) (acc, loss float64, err error) {
	var right int64
	var sum float64
	n := set.Len()
	for start := 0; start < n; {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		io := &ev.full
		if n-start < ev.full.batch {
			io = &ev.tail
		}
		for j := range io.batch {
			i := start + j
			copy(io.images[j*ev.chw:(j+1)*ev.chw], set.X[i*ev.chw:(i+1)*ev.chw])
			io.labels[j] = set.Y[i]
		}
		if err := ev.sess.RunWithBinding(io.binds[ws]); err != nil {
			return 0, 0, err
		}
		right += ev.right[0]
		sum += float64(ev.loss[0]) * float64(io.batch)
		start += io.batch
	}
	return float64(right) / float64(n), sum / float64(n), nil
}

func (ev *evaluator) close() { ev.o.destroy() }

// checkSet checks that set is usable: non-empty, consistent sizes, labels in
// range.
func checkSet(what string, set *dataset.Set) error {
	if set == nil {
		return fmt.Errorf("runner: %s set: nil", what)
	}
	if set.Len() == 0 {
		return fmt.Errorf("runner: %s set %q: empty", what, set.Name)
	}
	if set.C <= 0 || set.H <= 0 || set.W <= 0 || set.Classes <= 0 {
		return fmt.Errorf("runner: %s set %q: shape %dx%dx%d with %d classes: want positive sizes", what, set.Name, set.C, set.H, set.W, set.Classes)
	}
	if len(set.X) != set.Len()*set.C*set.H*set.W {
		return fmt.Errorf("runner: %s set %q: %d values for %d images of %dx%dx%d", what, set.Name, len(set.X), set.Len(), set.C, set.H, set.W)
	}
	for i, y := range set.Y {
		if y < 0 || y >= int64(set.Classes) {
			return fmt.Errorf("runner: %s set %q: image %d: label %d outside [0,%d)", what, set.Name, i, y, set.Classes)
		}
	}
	return nil
}
