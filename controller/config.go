package controller

import (
	"fmt"
	"math"
)

// Config sizes and trains the controller. The zero value of every field
// selects the documented default, so Config{} is the paper's controller.
type Config struct {
	// Hidden is the number of units of each LSTM layer. Zero means 35.
	Hidden int `json:"hidden"`
	// LSTMLayers is the number of stacked LSTM layers. Zero means 2.
	LSTMLayers int `json:"lstm_layers"`
	// Embedding is the size of the token embeddings fed back as inputs.
	// Zero means Hidden.
	Embedding int `json:"embedding"`
	// InitRange is r in the uniform initialisation U[-r, r] of every weight.
	// Zero means 0.08.
	InitRange float64 `json:"init_range"`
	// LR is Adam's learning rate. Zero means 0.0006.
	LR float64 `json:"lr"`
	// BaselineDecay is d in the reward baseline b ← d·b + (1−d)·mean(R).
	// Zero means 0.95. It must lie in [0, 1); use a tiny positive value
	// (e.g. 1e-9) for a baseline that is just the previous batch's mean.
	BaselineDecay float64 `json:"baseline_decay"`
	// EntropyWeight is β of the entropy bonus. Zero means no bonus.
	EntropyWeight float64 `json:"entropy_weight"`
	// ClipNorm is the largest global L2 norm of the gradient; larger
	// gradients are scaled down to it. Zero means no clipping.
	ClipNorm float64 `json:"clip_norm"`
	// Seed seeds the weight initialisation and the sampler. Every seed,
	// zero included, is used as given.
	Seed uint64 `json:"seed"`
}

// Defaults of Config's fields.
const (
	DefaultHidden        = 35
	DefaultLSTMLayers    = 2
	DefaultInitRange     = 0.08
	DefaultLR            = 0.0006
	DefaultBaselineDecay = 0.95
)

// WithDefaults returns c with its zero fields replaced by the defaults.
func (c Config) WithDefaults() Config {
	if c.Hidden == 0 {
		c.Hidden = DefaultHidden
	}
	if c.LSTMLayers == 0 {
		c.LSTMLayers = DefaultLSTMLayers
	}
	if c.Embedding == 0 {
		c.Embedding = c.Hidden
	}
	if c.InitRange == 0 {
		c.InitRange = DefaultInitRange
	}
	if c.LR == 0 {
		c.LR = DefaultLR
	}
	if c.BaselineDecay == 0 {
		c.BaselineDecay = DefaultBaselineDecay
	}
	return c
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate reports the first field that is out of range (after defaults).
func (c Config) Validate() error {
	d := c.WithDefaults()
	switch {
	case d.Hidden < 1 || d.Hidden > 4096:
		return fmt.Errorf("controller: config: hidden %d out of range [1, 4096]", c.Hidden)
	case d.LSTMLayers < 1 || d.LSTMLayers > 16:
		return fmt.Errorf("controller: config: lstm layers %d out of range [1, 16]", c.LSTMLayers)
	case d.Embedding < 1 || d.Embedding > 4096:
		return fmt.Errorf("controller: config: embedding %d out of range [1, 4096]", c.Embedding)
	case !finite(d.InitRange) || d.InitRange < 0 || d.InitRange > 1:
		return fmt.Errorf("controller: config: init range %v out of range (0, 1]", c.InitRange)
	case !finite(d.LR) || d.LR < 0:
		return fmt.Errorf("controller: config: learning rate %v must be positive", c.LR)
	case !finite(d.BaselineDecay) || d.BaselineDecay < 0 || d.BaselineDecay >= 1:
		return fmt.Errorf("controller: config: baseline decay %v out of range [0, 1)", c.BaselineDecay)
	case !finite(d.EntropyWeight) || d.EntropyWeight < 0:
		return fmt.Errorf("controller: config: entropy weight %v must be >= 0", c.EntropyWeight)
	case !finite(d.ClipNorm) || d.ClipNorm < 0:
		return fmt.Errorf("controller: config: clip norm %v must be >= 0", c.ClipNorm)
	}
	return nil
}
