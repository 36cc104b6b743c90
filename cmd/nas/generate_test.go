package main

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLMModelText: prompts become ids (unknown words lowercased, then
// <unk>; characters one by one), ids become text (<eos> a line break at
// word level), and greedy sampling is the argmax.
func TestLMModelText(t *testing.T) {
	words := lmModel{vocab: []string{"<eos>", "<unk>", "the", "cat"}}
	if got := words.encode("The cat sat"); !slices.Equal(got, []int64{2, 3, 1}) {
		t.Errorf("word encode: %v", got)
	}
	if got := words.encode("  "); !slices.Equal(got, []int64{0}) {
		t.Errorf("empty prompt: %v, want the end of a sentence", got)
	}
	if got := words.text([]int64{2, 3, 0, 3}); got != "the cat\ncat" {
		t.Errorf("word text: %q", got)
	}
	chars := lmModel{vocab: []string{"\n", "<unk>", "a", "b"}, char: true}
	if got := chars.encode("abA"); !slices.Equal(got, []int64{2, 3, 1}) {
		t.Errorf("char encode: %v (no lowercasing at character level)", got)
	}
	if got := chars.text([]int64{2, 3, 0}); got != "ab\n" {
		t.Errorf("char text: %q", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if got := sample([]float32{0.1, 3, -2}, 0, rng); got != 1 {
		t.Errorf("greedy sample: %d, want 1", got)
	}
	counts := make([]int, 3)
	for range 1000 {
		counts[sample([]float32{0, 0, -50}, 1, rng)]++
	}
	if counts[2] != 0 || counts[0] < 400 || counts[1] < 400 {
		t.Errorf("samples of softmax(0, 0, -50): %v", counts)
	}
}
