package text

import (
	"strings"
	"testing"

	"github.com/nas-project/nas/internal/child"
)

// source is the runner's Source (runner/child.go), restated: text does not
// import runner.
type source interface {
	Len() int
	Fill(idx []int, dst []child.Column)
}

var _ source = (*Stream)(nil)

// fill reads examples idx into fresh columns.
func fill(s *Stream, idx []int) (in, tgt []int64) {
	cols := []child.Column{{I64: make([]int64, len(idx)*s.Steps())}, {I64: make([]int64, len(idx)*s.Steps())}}
	s.Fill(idx, cols)
	return cols[0].I64, cols[1].I64
}

func TestStream(t *testing.T) {
	for _, tc := range []struct {
		name, why            string
		tokens, batch, steps int
		windows              int
	}{
		{"exact", "batch·(steps+1) tokens: one window per row", 3 * 5, 3, 4, 1},
		{"remainder", "len mod batch tokens dropped; (n-1)/steps windows", 103, 4, 5, 4},
		{"one row", "batch 1: the whole sequence is the row", 50, 1, 7, 7},
		{"steps 1", "windows of one token", 20, 2, 1, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([]int32, tc.tokens)
			for i := range ids {
				ids[i] = int32(i) // the id is the position: continuity is arithmetic
			}
			s, err := NewStream(ids, tc.batch, tc.steps)
			if err != nil {
				t.Fatal(err)
			}
			if s.Windows() != tc.windows || s.Len() != tc.windows*tc.batch || s.Tokens() != s.Len()*tc.steps {
				t.Fatalf("%s: windows %d, len %d, tokens %d; want %d windows", tc.why, s.Windows(), s.Len(), s.Tokens(), tc.windows)
			}
			n := tc.tokens / tc.batch
			var prev []int64 // last batch's targets
			for b := range s.Windows() {
				idx := make([]int, tc.batch)
				for r := range idx {
					idx[r] = b*tc.batch + r
				}
				in, tgt := fill(s, idx)
				for r := range tc.batch {
					row, rowT := in[r*tc.steps:(r+1)*tc.steps], tgt[r*tc.steps:(r+1)*tc.steps]
					for k := range tc.steps {
						if want := int64(r*n + b*tc.steps + k); row[k] != want {
							t.Fatalf("batch %d row %d input %d = %d, want %d (row r is ids[r·n:])", b, r, k, row[k], want)
						}
						if rowT[k] != row[k]+1 {
							t.Fatalf("batch %d row %d: target %d = %d, want the next token %d", b, r, k, rowT[k], row[k]+1)
						}
						if rowT[k] >= int64((r+1)*n) {
							t.Fatalf("batch %d row %d: target %d crosses into the next row", b, r, rowT[k])
						}
					}
					// The row continues last batch's row: its first input is the
					// token after last batch's last input, last batch's last target.
					if prev != nil && row[0] != prev[(r+1)*tc.steps-1] {
						t.Fatalf("batch %d row %d starts at %d, want %d, the continuation of batch %d", b, r, row[0], prev[(r+1)*tc.steps-1], b-1)
					}
				}
				prev = tgt
			}
		})
	}
}

func TestStreamFillOrder(t *testing.T) {
	c, err := Tiny(Word, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStream(c.Train, 4, 6)
	if err != nil {
		t.Fatal(err)
	}
	// Any idx order: each example is the same window wherever it sits.
	in, tgt := fill(s, []int{5, 0, s.Len() - 1})
	one, oneT := fill(s, []int{5})
	for k := range s.Steps() {
		if in[k] != one[k] || tgt[k] != oneT[k] {
			t.Fatalf("example 5 differs when read with others")
		}
	}
	n := len(c.Train) / 4
	if in[s.Steps()] != int64(c.Train[0]) || tgt[s.Steps()] != int64(c.Train[1]) {
		t.Errorf("example 0 is not the start of the sequence")
	}
	// Example 5 = window 1 of row 1.
	if want := int64(c.Train[n+s.Steps()]); one[0] != want {
		t.Errorf("example 5 starts with %d, want %d", one[0], want)
	}
}

func TestStreamErrors(t *testing.T) {
	ids := make([]int32, 10)
	for _, tc := range []struct {
		name         string
		batch, steps int
		want         string
	}{
		{"batch 0", 0, 3, "both must be at least 1"},
		{"steps 0", 2, 0, "both must be at least 1"},
		{"too few", 3, 3, "10 tokens are too few for a stream of batch 3, steps 3 (want at least 12)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewStream(ids, tc.batch, tc.steps); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
