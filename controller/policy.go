package controller

import (
	"math"
)

// The scalar functions of the policy. They are copies of gorgonia's float64
// kernels (v0.9.18, built without the fastmath tag), thresholds included, so
// that the plain-Go sampler and the training graph compute the same numbers.

func sigmoid(x float64) float64 {
	if x < -709 {
		return 0
	}
	if x > 19 {
		return 1
	}
	return 1.0 / (1.0 + math.Exp(-x))
}

func softplus(x float64) float64 {
	if x < -708 {
		return 0
	}
	if x > 16 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// chooser picks the option of step t. For a softmax decision it gets the
// probabilities; for an anchor decision probs is [1−p, p].
type chooser func(t int, probs []float64) int

// rollout runs the policy for one architecture of the given depth in plain
// Go, asking choose for every decision, and returns the log-probability of
// the chosen options and the summed entropy of every decision's
// distribution. It writes the choices into out (len NumChoices).
func (c *Controller) rollout(layers int, choose chooser, out []int) (logp, ent float64) {
	H, w, sp := c.cfg.Hidden, c.w, c.sp
	b := &c.buf
	for l := range b.h {
		clear(b.h[l])
		clear(b.c[l])
	}
	x := w.goV.w // the current input
	t := 0
	for i := 0; i < layers; i++ {
		for d := range sp.Decisions {
			c.lstmStep(x)
			top := b.h[len(b.h)-1]
			K := len(sp.Decisions[d].Tokens)
			logits := b.logits[:K]
			copy(logits, w.headB[d].w)
			matVecAcc(logits, top, w.headW[d].w, K)
			mx := math.Inf(-1)
			for _, v := range logits {
				mx = max(mx, v)
			}
			s := 0.0
			for _, v := range logits {
				s += math.Exp(v - mx)
			}
			lse := mx + math.Log(s)
			probs := b.probs[:K]
			for k, v := range logits {
				probs[k] = math.Exp(v - lse)
			}
			a := choose(t, probs)
			out[t] = a
			t++
			logp += logits[a] - lse
			for k, p := range probs {
				ent -= p * (logits[k] - lse)
			}
			x = w.emb[d].w[a*c.cfg.Embedding : (a+1)*c.cfg.Embedding]
		}
		if !sp.Anchors {
			continue
		}
		// The anchor step: one more LSTM step whose top hidden state h_i
		// is kept; its projections attend over the earlier layers.
		c.lstmStep(x)
		x = w.goV.w
		top := b.h[len(b.h)-1]
		prev := b.prev[i]
		clear(prev)
		matVecAcc(prev, top, w.attPrev.w, H)
		curr := b.curr
		clear(curr)
		matVecAcc(curr, top, w.attCurr.w, H)
		for j := 0; j < i; j++ {
			z := 0.0
			for k := 0; k < H; k++ {
				z += w.attV.w[k] * math.Tanh(b.prev[j][k]+curr[k])
			}
			p := sigmoid(z)
			b.probs[0], b.probs[1] = 1-p, p
			a := choose(t, b.probs[:2])
			out[t] = a
			t++
			spNeg, spPos := softplus(-z), softplus(z)
			if a == 1 {
				logp -= spNeg
			} else {
				logp -= spPos
			}
			ent += p*spNeg + sigmoid(-z)*spPos
		}
	}
	return logp, ent
}

// lstmStep advances every LSTM layer by one step on input x.
func (c *Controller) lstmStep(x []float64) {
	H := c.cfg.Hidden
	b := &c.buf
	for l, gates := range c.w.lstm {
		z := b.z[l]
		n := copy(z, x)
		n += copy(z[n:], b.h[l])
		z[n] = 1
		for g := range gates {
			clear(b.gate[g])
			matVecAcc(b.gate[g], z, gates[g].w, H)
		}
		h, cs := b.h[l], b.c[l]
		for k := 0; k < H; k++ {
			ig := sigmoid(b.gate[0][k])
			fg := sigmoid(b.gate[1][k])
			gg := math.Tanh(b.gate[2][k])
			og := sigmoid(b.gate[3][k])
			cs[k] = fg*cs[k] + ig*gg
			h[k] = og * math.Tanh(cs[k])
		}
		x = h
	}
}

// matVecAcc adds v·W to dst, W row-major with cols columns.
func matVecAcc(dst, v, W []float64, cols int) {
	for r, vr := range v {
		row := W[r*cols : (r+1)*cols]
		for k, wk := range row {
			dst[k] += vr * wk
		}
	}
}

// buffers are the sampler's scratch space, sized once in New.
type buffers struct {
	h, c, z    [][]float64 // per LSTM layer
	gate       [4][]float64
	logits     []float64
	probs      []float64
	curr       []float64
	prev       [][]float64 // per child layer, grown on demand
	maxOptions int
}

func newBuffers(cfg Config, sp layout) buffers {
	var b buffers
	H, E := cfg.Hidden, cfg.Embedding
	for l := 0; l < cfg.LSTMLayers; l++ {
		in := E
		if l > 0 {
			in = H
		}
		b.h = append(b.h, make([]float64, H))
		b.c = append(b.c, make([]float64, H))
		b.z = append(b.z, make([]float64, in+H+1))
	}
	for g := range b.gate {
		b.gate[g] = make([]float64, H)
	}
	b.maxOptions = 2
	for _, d := range sp.Decisions {
		b.maxOptions = max(b.maxOptions, len(d.Tokens))
	}
	b.logits = make([]float64, b.maxOptions)
	b.probs = make([]float64, b.maxOptions)
	b.curr = make([]float64, H)
	return b
}

// growPrev makes room for the kept projections of n layers.
func (b *buffers) growPrev(n, H int) {
	for len(b.prev) < n {
		b.prev = append(b.prev, make([]float64, H))
	}
}
