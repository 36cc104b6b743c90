package text

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func words(s string) []string { return strings.Fields(s) }

func TestNewWordsVocab(t *testing.T) {
	for _, tc := range []struct {
		name, why          string
		train, valid, test string
		opt                Options
		vocab              []string
		validIDs           []int32
	}{
		{"order", "by decreasing count, ties by first appearance in train",
			"b a c a b a <eos>", "a b c", "c", Options{},
			[]string{"<eos>", "<unk>", "a", "b", "c"}, []int32{2, 3, 4}},
		{"cap", "VocabSize counts EOS and UNK; the tie b/c goes to b, seen first",
			"a a b c <eos>", "a b c d", "a", Options{VocabSize: 4},
			[]string{"<eos>", "<unk>", "a", "b"}, []int32{2, 3, 1, 1}},
		{"reserved in train", "a <unk> in the source (the PTB files) keeps id 1, <eos> keeps 0",
			"x <unk> <unk> <unk> <eos> <eos>", "x <unk> <eos>", "y", Options{},
			[]string{"<eos>", "<unk>", "x"}, []int32{2, 1, 0}},
		{"min count", "words seen once are out",
			"a a b <eos>", "a b", "a", Options{MinCount: 2},
			[]string{"<eos>", "<unk>", "a"}, []int32{2, 1}},
		{"valid only", "the vocabulary comes from train alone",
			"a <eos>", "z z z", "a", Options{},
			[]string{"<eos>", "<unk>", "a"}, []int32{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewWords("t", words(tc.train), words(tc.valid), words(tc.test), tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Vocab, tc.vocab) {
				t.Errorf("%s: vocab %q, want %q", tc.why, c.Vocab, tc.vocab)
			}
			if !slices.Equal(c.Valid, tc.validIDs) {
				t.Errorf("%s: valid %v, want %v", tc.why, c.Valid, tc.validIDs)
			}
			if c.EOS() != 0 || c.UNK() != 1 {
				t.Errorf("EOS %d, UNK %d: want 0 and 1", c.EOS(), c.UNK())
			}
		})
	}
}

func TestNewCharsVocab(t *testing.T) {
	c, err := NewChars("t", "abca\nbaé\n", "abz\n", "é", Options{MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	// a×3, b×2, \n×2 (reserved), c×1, é×1 (c first).
	if want := []string{"\n", "<unk>", "a", "b", "c", "é"}; !slices.Equal(c.Vocab, want) {
		t.Errorf("vocab %q, want %q", c.Vocab, want)
	}
	if want := []int32{2, 3, 1, 0}; !slices.Equal(c.Valid, want) {
		t.Errorf("valid %v, want %v (z is UNK, the newline EOS)", c.Valid, want)
	}
	if want := []int32{5}; !slices.Equal(c.Test, want) {
		t.Errorf("test %v, want %v (é is one rune, one token)", c.Test, want)
	}
	if c.EOS() != 0 || c.UNK() != 1 || c.ID("\n") != 0 {
		t.Errorf("EOS %d, UNK %d: want 0 and 1", c.EOS(), c.UNK())
	}
	// The default MinCount (5) sends every rune of this text to UNK.
	d, err := NewChars("t", "abca\nbaé\n", "abz\n", "é", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"\n", "<unk>"}; !slices.Equal(d.Vocab, want) {
		t.Errorf("default options: vocab %q, want %q", d.Vocab, want)
	}
	if _, err := NewChars("bad", "ok\n", "x\xffy", "z", Options{}); err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "valid split: invalid UTF-8 at byte 1") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestEmptySplit(t *testing.T) {
	for _, tc := range []struct {
		name               string
		train, valid, test []string
		want               string
	}{
		{"train", nil, []string{"a"}, []string{"a"}, "the train split is empty"},
		{"valid", []string{"a"}, nil, []string{"a"}, "the valid split is empty"},
		{"test", []string{"a"}, []string{"a"}, []string{}, "the test split is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWords("x", tc.train, tc.valid, tc.test, Options{})
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q wrapping ErrFormat", err, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		opt Options
		ok  bool
	}{
		{Options{}, true},
		{Options{VocabSize: 3, MinCount: 1}, true},
		{Options{VocabSize: 2}, false},
		{Options{VocabSize: -1}, false},
		{Options{MinCount: -1}, false},
	} {
		if err := tc.opt.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.opt, err, tc.ok)
		}
		if _, err := NewWords("x", []string{"a"}, []string{"a"}, []string{"a"}, tc.opt); (err == nil) != tc.ok {
			t.Errorf("%+v: NewWords error %v, want ok=%v", tc.opt, err, tc.ok)
		}
	}
}

func TestLookup(t *testing.T) {
	built, err := NewWords("x", words("b a a <eos>"), words("a"), words("a"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A Corpus written as a literal (no index) answers the same.
	literal := &Corpus{Name: "x", Level: Word, Vocab: built.Vocab}
	for _, c := range []*Corpus{built, literal} {
		for _, tc := range []struct {
			tok string
			id  int32
			in  bool
		}{{"<eos>", 0, true}, {"<unk>", 1, true}, {"a", 2, true}, {"b", 3, true}, {"zz", 1, false}} {
			if id, ok := c.Lookup(tc.tok); ok != tc.in || (ok && id != tc.id) {
				t.Errorf("Lookup(%q) = %d, %v; want %d, %v", tc.tok, id, ok, tc.id, tc.in)
			}
			if id := c.ID(tc.tok); id != tc.id {
				t.Errorf("ID(%q) = %d, want %d", tc.tok, id, tc.id)
			}
		}
		if c.Token(3) != "b" || c.Token(-1) != UNK || c.Token(99) != UNK {
			t.Errorf("Token: %q %q %q", c.Token(3), c.Token(-1), c.Token(99))
		}
	}
	if (&Corpus{Vocab: []string{"a"}}).UNK() != -1 {
		t.Error("UNK of a vocabulary without <unk> is not -1")
	}
}

func TestEncodeDecode(t *testing.T) {
	w, err := Tiny(Word, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c        *Corpus
		in, want string
	}{
		{w, "the cat sees a dog\na  bird\n", "the cat sees a dog\na bird\n"},
		{w, "the zebra sleeps", "the <unk> sleeps"},
	} {
		if got := tc.c.Decode(tc.c.Encode(tc.in)); got != tc.want {
			t.Errorf("Decode(Encode(%q)) = %q, want %q", tc.in, got, tc.want)
		}
	}
	c, err := Tiny(Char, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Decode(c.Encode("the cat\n")); got != "the cat\n" {
		t.Errorf("char round trip: %q", got)
	}
	if ids := c.Encode("a\xffQ"); ids[1] != c.UNK() || ids[2] != c.UNK() {
		t.Errorf("invalid byte and unseen rune: %v, want UNK (%d) for both", ids, c.UNK())
	}
}

func TestTiny(t *testing.T) {
	w, err := Tiny(Word, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Tiny(Char, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr, va, te := TinySentences()
	// Pinned: the fixture is the same on every machine and release.
	if len(tr) != 400 || len(va) != 50 || len(te) != 50 || tr[0] != "a old tree holds the happy house near the red car" {
		t.Errorf("sentences %d/%d/%d, first %q", len(tr), len(va), len(te), tr[0])
	}
	if w.Name != "tiny" || len(w.Vocab) != 29 || w.UnkRate(w.Valid) != 0 {
		t.Errorf("%v: want 27 words + EOS + UNK, no UNK in valid (rate %v)", w, w.UnkRate(w.Valid))
	}
	if tr, va, te := w.Tokens(); tr != 3024 || va != 372 || te != 391 {
		t.Errorf("%v: want tokens 3024/372/391 (doc.go)", w)
	}
	if tr, va, te := c.Tokens(); c.Name != "tiny-char" || c.Level != Char || len(c.Vocab) != 24 || tr != 11807 || va != 1477 || te != 1512 {
		t.Errorf("%v: want vocabulary 24, tokens 11807/1477/1512 (doc.go)", c)
	}
	if got := c.Decode(c.Train[:len(tr[0])+1]); got != tr[0]+"\n" {
		t.Errorf("char train starts %q, want %q", got, tr[0]+"\n")
	}
}
