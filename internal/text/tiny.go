package text

import "strings"

// The tiny fixture: sentences of a small English-like grammar, generated
// deterministically (a fixed splitmix64 stream, no math/rand), so tests and
// quick searches need no download.
//
//	S  → NP VP | NP VP PP        NP → det noun | det adj noun
//	VP → verb NP | verb          PP → prep NP
//
// 2 determiners, 5 adjectives, 10 nouns, 6 verbs, 4 prepositions: 27
// words. Sentences 0..399 train, 400..449 valid, 450..499 test.
var (
	tinyDet  = []string{"the", "a"}
	tinyAdj  = []string{"big", "small", "red", "old", "happy"}
	tinyNoun = []string{"cat", "dog", "bird", "man", "woman", "child", "house", "tree", "car", "ball"}
	tinyVerb = []string{"sees", "likes", "chases", "finds", "holds", "sleeps"}
	tinyPrep = []string{"near", "under", "with", "behind"}
)

const tinyTrain, tinyValid, tinyTest = 400, 50, 50

type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// pick returns one of words; the modulo bias is irrelevant here and the
// result is the same on every machine.
func (s *splitmix) pick(words []string) string { return words[s.next()%uint64(len(words))] }
func (s *splitmix) coin() bool                 { return s.next()&1 == 1 }

// TinySentences returns the fixture's sentences of the three splits, one
// line each (words separated by single spaces, no newline).
func TinySentences() (train, valid, test []string) {
	r := splitmix(12)
	np := func(b *[]string) {
		*b = append(*b, r.pick(tinyDet))
		if r.coin() {
			*b = append(*b, r.pick(tinyAdj))
		}
		*b = append(*b, r.pick(tinyNoun))
	}
	var all []string
	for range tinyTrain + tinyValid + tinyTest {
		var w []string
		np(&w)
		v := r.pick(tinyVerb)
		w = append(w, v)
		if v != "sleeps" {
			np(&w)
		}
		if r.next()%4 == 0 {
			w = append(w, r.pick(tinyPrep))
			np(&w)
		}
		all = append(all, strings.Join(w, " "))
	}
	return all[:tinyTrain], all[tinyTrain : tinyTrain+tinyValid], all[tinyTrain+tinyValid:]
}

// Tiny returns the fixture as a word-level corpus ("tiny": each
// sentence's words and EOS) or a character-level one ("tiny-char": each
// sentence and a newline).
func Tiny(level Level, opt Options) (*Corpus, error) {
	tr, va, te := TinySentences()
	if level == Char {
		join := func(s []string) string { return strings.Join(s, "\n") + "\n" }
		return NewChars("tiny-char", join(tr), join(va), join(te), opt)
	}
	words := func(s []string) []string {
		var out []string
		for _, l := range s {
			out = append(out, strings.Fields(l)...)
			out = append(out, EOS)
		}
		return out
	}
	return NewWords("tiny", words(tr), words(va), words(te), opt)
}
