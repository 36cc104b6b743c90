package runner

import (
	"context"
	"fmt"
	"slices"

	"github.com/nas-project/nas/internal/child"
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

func names(ts []child.Tensor) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// batchShape is t's shape with the batch dimension set to n and the steps
// dimension (child.StepDim) to steps.
func batchShape(t child.Tensor, n, steps int) []int64 {
	s := slices.Clone(t.Shape)
	for i, d := range s {
		switch d {
		case child.BatchDim:
			s[i] = int64(n)
		case child.StepDim:
			s[i] = int64(steps)
		}
	}
	return s
}

// batchIO is one set of batch tensors of a given batch size: the columns a
// Source fills, over the Go slices of cols. In a K-step graph's tensors
// ([steps, n, ...]) step k's rows are rows[k], views of cols.
type batchIO struct {
	n    int
	cols []child.Column
	rows [][]child.Column // by step, by column; rows[0] is cols with one step
	vals []ort.Value      // by column
}

// newBatchIO makes the batch tensors of g for batch n; steps > 0 when g is
// a K-step graph (its batch inputs [StepDim, BatchDim, ...]).
func newBatchIO(o *owner, g child.Graph, batch []string, n, steps int) (*batchIO, error) {
	io := &batchIO{n: n, rows: make([][]child.Column, max(steps, 1))}
	for _, name := range batch {
		t, ok := g.Input(name)
		if !ok {
			return nil, fmt.Errorf("batch input %q is not a graph input", name)
		}
		dims := t.Shape
		if steps > 0 {
			if len(dims) == 0 || dims[0] != child.StepDim {
				return nil, fmt.Errorf("batch input %s (shape %v) has no steps dimension", name, t.Shape)
			}
			dims = dims[1:]
		}
		if len(dims) > 0 && dims[0] != child.BatchDim && dims[0] != int64(n) {
			return nil, fmt.Errorf("batch input %s has %d rows (shape %v), the batch is %d: set the batch size to %d", name, dims[0], t.Shape, n, dims[0])
		}
		shape := batchShape(t, n, steps)
		size := child.Elements(shape)
		if size < 0 {
			return nil, fmt.Errorf("batch input %s: shape %v", name, t.Shape)
		}
		per := size / len(io.rows)
		var c child.Column
		var v ort.Value
		var err error
		switch t.Type {
		case child.Float32:
			c.F32 = make([]float32, size)
			v, err = newTensor(o, c.F32, shape...)
			for k := range io.rows {
				io.rows[k] = append(io.rows[k], child.Column{F32: c.F32[k*per : (k+1)*per : (k+1)*per]})
			}
		case child.Int64:
			c.I64 = make([]int64, size)
			v, err = newTensor(o, c.I64, shape...)
			for k := range io.rows {
				io.rows[k] = append(io.rows[k], child.Column{I64: c.I64[k*per : (k+1)*per : (k+1)*per]})
			}
		default:
			err = fmt.Errorf("element type %v", t.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("batch input %s: %w", name, err)
		}
		io.cols = append(io.cols, c)
		io.vals = append(io.vals, v)
	}
	return io, nil
}

// metricIO holds the preallocated outputs of the metrics: [1] each, or
// [steps, 1] in a K-step graph.
type metricIO struct {
	defs []child.Metric
	f32  [][]float32 // by metric; nil where the metric is an int64
	i64  [][]int64
	vals []ort.Value
}

func newMetricIO(o *owner, g child.Graph, defs []child.Metric, steps int) (*metricIO, error) {
	m := &metricIO{defs: defs}
	shape := []int64{1}
	if steps > 0 {
		shape = []int64{int64(steps), 1}
	}
	for _, d := range defs {
		t, ok := g.Output(d.Name)
		if !ok {
			return nil, fmt.Errorf("metric %q is not a graph output", d.Name)
		}
		var f []float32
		var i []int64
		var v ort.Value
		var err error
		if t.Type == child.Int64 {
			i = make([]int64, max(steps, 1))
			v, err = newTensor(o, i, shape...)
		} else {
			f = make([]float32, max(steps, 1))
			v, err = newTensor(o, f, shape...)
		}
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", d.Name, err)
		}
		m.f32, m.i64, m.vals = append(m.f32, f), append(m.i64, i), append(m.vals, v)
	}
	return m, nil
}

// value is metric k's last value (of the last run's first step).
func (m *metricIO) value(k int) float64 { return m.at(k, 0) }

// at is metric k's value at step s of the last run.
func (m *metricIO) at(k, s int) float64 {
	if m.i64[k] != nil {
		return float64(m.i64[k][s])
	}
	return float64(m.f32[k][s])
}

// Pass is what one pass over a data set measured: every metric of the child
// reduced over the pass's examples (child.Mean: the mean over examples;
// child.Sum: the total), by name.
type Pass struct {
	Examples int
	Metrics  map[string]float64
}

// accumulator reduces metric values over the batches of a pass.
type accumulator struct {
	m    *metricIO
	sums []float64
	n    int
}

func (a *accumulator) reset() {
	clear(a.sums)
	a.n = 0
}

func (a *accumulator) add(batch int) {
	for k, d := range a.m.defs {
		v := a.m.value(k)
		if d.Reduce == child.Mean {
			v *= float64(batch)
		}
		a.sums[k] += v
	}
	a.n += batch
}

func (a *accumulator) pass() Pass {
	p := Pass{Examples: a.n, Metrics: make(map[string]float64, len(a.sums))}
	for k, d := range a.m.defs {
		v := a.sums[k]
		if d.Reduce == child.Mean && a.n > 0 {
			v /= float64(a.n)
		}
		p.Metrics[d.Name] = v
	}
	return p
}

// trainer holds one training session and two sets of state tensors: a run
// reads set cur and writes set 1-cur, then flips cur, so the outputs of one
// run are the inputs of the next without a copy.
//
// The session is the child's training graph (one step per run) or its
// K-step graph (child.Net.Steps): then a run makes the steps of a group,
// full groups of steps each and, when an epoch's batches are not a
// multiple of it, one group of the remainder through its own batch,
// learning-rate and metric tensors (one session: the number of steps is
// the first dimension of the batch inputs).
type trainer struct {
	o      owner
	sess   *ort.DynamicAdvancedSession
	net    child.Net
	steps  int                       // steps per full run; 1 with the training graph
	groups []*runIO                  // the full group, then the remainder's if any
	state  [2][]*ort.Tensor[float32] // by child.Net.State
	params []int                     // params[i]: the state that holds parameter i
	cur    int
}

// runIO is what one run of a given number of steps reads and writes
// besides the state: the batches, the learning rates (one per step), the
// metrics (one row per step), bound with each state set.
type runIO struct {
	steps   int
	batch   *batchIO
	lr      []float32 // backs the lr tensor; nil without one
	metrics *metricIO
	binds   [2]*ort.IoBinding
}

// newTrainer creates the training session of n and all its tensors; every
// parameter's state starts as its values (copied), every other state at
// zero. loop selects the K-step graph, with runs of steps steps and a
// group of tail steps (0: none) for the end of an epoch; else a run is one
// step of the training graph.
func (rt *Runtime) newTrainer(n child.Net, batch int, loop bool, steps, tail int) (_ *trainer, err error) {
	if !loop {
		steps, tail = 1, 0
	}
	tr := &trainer{net: n, params: make([]int, len(n.Params)), steps: max(steps, 1)}
	defer func() {
		if err != nil {
			tr.o.destroy()
		}
	}()
	for i := range tr.params {
		tr.params[i] = -1
	}
	g, what, dim := n.Train, "training graph", 0
	if loop {
		if len(n.Steps.Model) == 0 {
			return nil, fmt.Errorf("%d steps per run: the child has no K-step graph", steps)
		}
		g, what, dim = n.Steps, "K-step graph", 1
	}
	tr.sess, err = rt.newSession(g.Model, names(g.Inputs), names(g.Outputs))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	tr.o.sessions = append(tr.o.sessions, tr.sess)
	for s := range 2 {
		for _, st := range n.State {
			t, _ := g.Input(st.Input)
			if t.Type != child.Float32 {
				return nil, fmt.Errorf("state %s: element type %v, want float32", st.Input, t.Type)
			}
			data := make([]float32, child.Elements(t.Shape))
			if s == 0 && st.Param >= 0 {
				copy(data, n.Params[st.Param].Data)
			}
			v, err := newTensor(&tr.o, data, t.Shape...)
			if err != nil {
				return nil, fmt.Errorf("state %s: %w", st.Input, err)
			}
			tr.state[s] = append(tr.state[s], v)
		}
	}
	for k, st := range n.State {
		if st.Param >= 0 {
			tr.params[st.Param] = k
		}
	}
	for i, k := range tr.params {
		if k < 0 {
			return nil, fmt.Errorf("parameter %s has no state", n.Params[i].Name)
		}
	}
	sizes := []int{tr.steps}
	if tail > 0 {
		sizes = append(sizes, tail)
	}
	for _, size := range sizes {
		r := &runIO{steps: size}
		if r.batch, err = newBatchIO(&tr.o, g, n.Batch, batch, size*dim); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if r.metrics, err = newMetricIO(&tr.o, g, n.Metrics, size*dim); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		var lr ort.Value
		if n.LR != "" {
			r.lr = make([]float32, size)
			shape := []int64{1}
			if dim > 0 {
				shape = []int64{int64(size), 1}
			}
			if lr, err = newTensor(&tr.o, r.lr, shape...); err != nil {
				return nil, err
			}
		}
		byIn := map[string]ort.Value{}
		for k, name := range n.Batch {
			byIn[name] = r.batch.vals[k]
		}
		if lr != nil {
			byIn[n.LR] = lr
		}
		byOut := map[string]ort.Value{}
		for k, m := range n.Metrics {
			byOut[m.Name] = r.metrics.vals[k]
		}
		for s := range 2 {
			for k, st := range n.State {
				byIn[st.Input] = tr.state[s][k]
				byOut[st.Output] = tr.state[1-s][k]
			}
			ins, outs, err := lookup(g, byIn, byOut)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			if r.binds[s], err = bind(&tr.o, tr.sess, names(g.Inputs), ins, names(g.Outputs), outs); err != nil {
				return nil, err
			}
		}
		tr.groups = append(tr.groups, r)
	}
	return tr, nil
}

// lookup orders the bound values as g's signature: every input and output
// must have one.
func lookup(g child.Graph, byIn, byOut map[string]ort.Value) (ins, outs []ort.Value, err error) {
	for _, t := range g.Inputs {
		v, ok := byIn[t.Name]
		if !ok {
			return nil, nil, fmt.Errorf("input %q has no role in the child", t.Name)
		}
		ins = append(ins, v)
	}
	for _, t := range g.Outputs {
		v, ok := byOut[t.Name]
		if !ok {
			return nil, nil, fmt.Errorf("output %q has no role in the child", t.Name)
		}
		outs = append(outs, v)
	}
	return ins, outs, nil
}

// group is the runIO for a run of steps steps: the full group, or the
// remainder's.
func (tr *trainer) group(steps int) *runIO {
	if steps == tr.groups[0].steps || len(tr.groups) == 1 {
		return tr.groups[0]
	}
	return tr.groups[1]
}

// run makes the steps of r on its filled batches and learning rates. It
// allocates nothing.
func (tr *trainer) run(r *runIO) error {
	if err := tr.sess.RunWithBinding(r.binds[tr.cur]); err != nil {
		return err
	}
	tr.cur = 1 - tr.cur
	return nil
}

// resetState zeroes the states marked Reset (a carried hidden state) in
// the set the next step reads.
func (tr *trainer) resetState() {
	for k, st := range tr.net.State {
		if st.Reset {
			clear(tr.state[tr.cur][k].GetData())
		}
	}
}

// paramSets are the tensors of every parameter in each state set, by
// parameter.
func (tr *trainer) paramSets() [][]*ort.Tensor[float32] {
	sets := make([][]*ort.Tensor[float32], 2)
	for s := range 2 {
		for _, k := range tr.params {
			sets[s] = append(sets[s], tr.state[s][k])
		}
	}
	return sets
}

// weights are the current values of every parameter, copied.
func (tr *trainer) weights() []Param {
	out := make([]Param, len(tr.params))
	for i, k := range tr.params {
		p := tr.net.Params[i]
		out[i] = Param{Name: p.Name, Shape: slices.Clone(p.Shape), Data: slices.Clone(tr.state[tr.cur][k].GetData())}
	}
	return out
}

func (tr *trainer) close() { tr.o.destroy() }

// evaluator holds one evaluation session bound to one or more weight sets.
// It runs full batches of size batch and, when the set's size is not a
// multiple of it, one last batch of the remainder through its own tensors,
// so every example is counted exactly once and nothing is padded.
//
// With evaluation states (child.Net.EvalState) the batch is the states'
// first dimension, the set must be a multiple of it, and the states
// alternate between two sets as the trainer's do: every weight set has two
// bindings, and a pass starts from zero states.
type evaluator struct {
	o     owner
	sess  *ort.DynamicAdvancedSession
	full  evalIO
	tail  evalIO // batch 0 when the set divides evenly
	acc   accumulator
	state [2][]*ort.Tensor[float32] // by child.Net.EvalState
}

type evalIO struct {
	io    *batchIO
	binds [][2]*ort.IoBinding // per weight set, per state set (the second unused without states)
}

func (rt *Runtime) newEvaluator(n child.Net, sets [][]*ort.Tensor[float32], examples, batch int) (_ *evaluator, err error) {
	ev := &evaluator{}
	defer func() {
		if err != nil {
			ev.o.destroy()
		}
	}()
	g := n.Eval
	ev.sess, err = rt.newSession(g.Model, names(g.Inputs), names(g.Outputs))
	if err != nil {
		return nil, fmt.Errorf("evaluation graph: %w", err)
	}
	ev.o.sessions = append(ev.o.sessions, ev.sess)
	m, err := newMetricIO(&ev.o, g, n.Metrics, 0)
	if err != nil {
		return nil, fmt.Errorf("evaluation graph: %w", err)
	}
	ev.acc = accumulator{m: m, sums: make([]float64, len(n.Metrics))}
	byOut := map[string]ort.Value{}
	for k, d := range n.Metrics {
		byOut[d.Name] = m.vals[k]
	}
	stateSets := 1
	if sb := n.EvalBatch(); sb > 0 {
		if examples%sb != 0 {
			return nil, fmt.Errorf("evaluation graph: %d examples are not a multiple of the batch %d its states fix", examples, sb)
		}
		batch, stateSets = sb, 2
		for s := range 2 {
			for _, st := range n.EvalState {
				t, _ := g.Input(st.Input)
				v, err := newTensor(&ev.o, make([]float32, child.Elements(t.Shape)), t.Shape...)
				if err != nil {
					return nil, fmt.Errorf("evaluation state %s: %w", st.Input, err)
				}
				ev.state[s] = append(ev.state[s], v)
			}
		}
	}
	batch = min(batch, examples)
	sizes := [2]int{batch, examples % batch}
	for s, e := range []*evalIO{&ev.full, &ev.tail} {
		if sizes[s] == 0 {
			continue
		}
		if e.io, err = newBatchIO(&ev.o, g, n.Batch, sizes[s], 0); err != nil {
			return nil, fmt.Errorf("evaluation graph: %w", err)
		}
		for _, ws := range sets {
			var pair [2]*ort.IoBinding
			for ss := range stateSets {
				byIn := map[string]ort.Value{}
				for k, name := range n.Batch {
					byIn[name] = e.io.vals[k]
				}
				for i, p := range n.Params {
					byIn[p.Name] = ws[i]
				}
				for k, st := range n.EvalState {
					byIn[st.Input] = ev.state[ss][k]
					byOut[st.Output] = ev.state[1-ss][k]
				}
				ins, outs, err := lookup(g, byIn, byOut)
				if err != nil {
					return nil, fmt.Errorf("evaluation graph: %w", err)
				}
				if pair[ss], err = bind(&ev.o, ev.sess, names(g.Inputs), ins, names(g.Outputs), outs); err != nil {
					return nil, err
				}
			}
			e.binds = append(e.binds, pair)
		}
	}
	return ev, nil
}

// run evaluates weight set ws on every example of src, in order, and returns
// the pass's metrics. It checks ctx between batches.
func (ev *evaluator) run(ctx context.Context, src Source, ws int) (Pass, error) {
	ev.acc.reset()
	cur := 0
	for _, t := range ev.state[0] {
		clear(t.GetData())
	}
	n := src.Len()
	idx := make([]int, 0, ev.full.io.n)
	for start := 0; start < n; {
		if err := ctx.Err(); err != nil {
			return Pass{}, err
		}
		e := &ev.full
		if n-start < ev.full.io.n {
			e = &ev.tail
		}
		idx = idx[:0]
		for j := range e.io.n {
			idx = append(idx, start+j)
		}
		src.Fill(idx, e.io.cols)
		if err := ev.sess.RunWithBinding(e.binds[ws][cur]); err != nil {
			return Pass{}, err
		}
		if len(ev.state[0]) > 0 {
			cur = 1 - cur
		}
		ev.acc.add(e.io.n)
		start += e.io.n
	}
	return ev.acc.pass(), nil
}

func (ev *evaluator) close() { ev.o.destroy() }
