package text

import (
	"fmt"

	"github.com/nas-project/nas/internal/child"
)

// Stream is a token sequence cut for truncated backpropagation through
// time, as the runner reads it (it implements the runner's Source).
//
// The sequence is cut into Batch equal contiguous rows, as PTB's batchify
// does (the len mod Batch last tokens are dropped): row r is
// ids[r·n : (r+1)·n] with n = len(ids)/Batch. Each row is cut into
// Windows = (n-1)/Steps windows of Steps tokens: window w of a row holds
// its tokens w·Steps … w·Steps+Steps-1 as input and the next tokens,
// w·Steps+1 … w·Steps+Steps, as targets (the last token of a row is only
// ever a target).
//
// Example idx is window idx/Batch of row idx%Batch, so Len = Windows·Batch
// and batch b, the examples b·Batch … b·Batch+Batch-1 in order, is window b
// of every row: row r of batch b+1 continues row r of batch b, which is
// what carrying the hidden state between batches needs. Read the examples
// in order, never shuffled.
type Stream struct {
	ids                   []int32
	batch, steps, n, wins int
}

// NewStream cuts ids into a Stream of batch rows and windows of steps
// tokens. It fails when batch or steps is below 1 or when ids is too short
// for one window in each row (fewer than batch·(steps+1) tokens). ids is
// kept, not copied.
func NewStream(ids []int32, batch, steps int) (*Stream, error) {
	if batch < 1 || steps < 1 {
		return nil, fmt.Errorf("text: stream of batch %d, steps %d: both must be at least 1", batch, steps)
	}
	n := len(ids) / batch
	if n < steps+1 {
		return nil, fmt.Errorf("text: %d tokens are too few for a stream of batch %d, steps %d (want at least %d)", len(ids), batch, steps, batch*(steps+1))
	}
	return &Stream{ids: ids, batch: batch, steps: steps, n: n, wins: (n - 1) / steps}, nil
}

// Len is the number of examples, Windows·Batch.
func (s *Stream) Len() int { return s.wins * s.batch }

// Batch is the number of rows.
func (s *Stream) Batch() int { return s.batch }

// Steps is the number of tokens of a window.
func (s *Stream) Steps() int { return s.steps }

// Windows is the number of windows of each row: the batches of an epoch.
func (s *Stream) Windows() int { return s.wins }

// Tokens is the number of target tokens of an epoch, Len·Steps.
func (s *Stream) Tokens() int { return s.Len() * s.steps }

// Fill writes examples idx into the two int64 columns: dst[0] the input
// tokens, dst[1] the targets, each Steps values per example, row-major.
// The columns must hold len(idx)·Steps values; an idx outside [0, Len)
// panics like an index out of range.
func (s *Stream) Fill(idx []int, dst []child.Column) {
	in, out := dst[0].I64, dst[1].I64
	for k, i := range idx {
		if i < 0 || i >= s.Len() {
			panic(fmt.Sprintf("text: stream example %d out of range [0, %d)", i, s.Len()))
		}
		start := (i%s.batch)*s.n + (i/s.batch)*s.steps
		src := s.ids[start : start+s.steps+1]
		o := k * s.steps
		for t := range s.steps {
			in[o+t] = int64(src[t])
			out[o+t] = int64(src[t+1])
		}
	}
}
