package search

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkTrialOverhead measures the search's own cost per trial (propose,
// the running row, the final row's commit with fsync, events) with an
// evaluator that returns at once: b.N trials of the random strategy.
func BenchmarkTrialOverhead(b *testing.B) {
	for _, s := range []string{StrategyRandom, StrategyRL} {
		b.Run(s, func(b *testing.B) {
			o := testOptions(s, max(b.N, 1))
			o.StartLayers = 6
			ev := EvaluatorFunc(func(_ context.Context, t Trial) (Outcome, error) {
				return Outcome{Status: Done, Reward: float64(len(t.Arch)%7) / 7, Model: []byte("m")}, nil
			})
			b.ResetTimer()
			sum, err := Run(context.Background(), Config{Dir: b.TempDir(), Options: o, Evaluator: ev})
			if err != nil {
				b.Fatal(err)
			}
			if sum.Trials != max(b.N, 1) {
				b.Fatal(fmt.Sprint(sum.Trials, " trials"))
			}
		})
	}
}
