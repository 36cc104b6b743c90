package text

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Level says what a token of a corpus is: a word or a character.
type Level int

const (
	// Word: tokens are whitespace-separated words; every line ends in EOS.
	Word Level = iota + 1
	// Char: tokens are Unicode code points (runes) of UTF-8 text; the
	// newline is a token of its own (the EOS of a character corpus).
	Char
)

// String returns "word" or "char".
func (l Level) String() string {
	switch l {
	case Word:
		return "word"
	case Char:
		return "char"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// The reserved symbols. Every corpus this package builds has EOS at id 0
// and UNK at id 1 (see [Corpus.EOS], [Corpus.UNK]).
const (
	// EOS ends every line of a word-level corpus, as in the PTB files.
	EOS = "<eos>"
	// UNK stands for every token outside the vocabulary, at both levels.
	// A character corpus can never contain it as a token: its tokens are
	// one rune each.
	UNK = "<unk>"
	// Newline is the EOS of a character-level corpus.
	Newline = "\n"
)

// ErrFormat is wrapped by every error about the content of a file: a
// binary file, invalid UTF-8, a line or a file over the limits, a token
// that does not parse, an empty split.
var ErrFormat = errors.New("malformed text")

// Default vocabulary limits (see [Options]).
const (
	DefaultWordVocab    = 10000
	DefaultCharVocab    = 256
	DefaultCharMinCount = 5
)

// Options sets how a corpus' vocabulary is built. The zero value gives the
// defaults.
type Options struct {
	// VocabSize is the most symbols the vocabulary holds, EOS and UNK
	// included. 0 means DefaultWordVocab (10,000, as the PTB files) at word
	// level and DefaultCharVocab (256) at character level; otherwise it
	// must be at least 3.
	VocabSize int
	// MinCount is how often a token must occur in the training split to
	// enter the vocabulary. 0 means 1 at word level and
	// DefaultCharMinCount (5) at character level. (0 and 1 would mean the
	// same thing: every token of the training split has count ≥ 1.)
	MinCount int
}

// Validate reports options that make no sense.
func (o Options) Validate() error {
	if o.VocabSize != 0 && o.VocabSize < 3 {
		return fmt.Errorf("text: VocabSize %d: want 0 (the default) or at least 3 (EOS, UNK and one token)", o.VocabSize)
	}
	if o.MinCount < 0 {
		return fmt.Errorf("text: MinCount %d is negative", o.MinCount)
	}
	return nil
}

func (o Options) withDefaults(l Level) Options {
	if o.VocabSize == 0 {
		o.VocabSize = DefaultWordVocab
		if l == Char {
			o.VocabSize = DefaultCharVocab
		}
	}
	if o.MinCount == 0 {
		o.MinCount = 1
		if l == Char {
			o.MinCount = DefaultCharMinCount
		}
	}
	return o
}

// Corpus is a tokenised text with its vocabulary and three splits of
// token ids (indices into Vocab). The loaders build it with an index of the
// vocabulary: change Vocab afterwards only in a copy built as a literal
// (whose lookups then scan Vocab).
type Corpus struct {
	Name  string
	Level Level
	// Vocab is the id → token table: Vocab[0] is EOS ("<eos>" at word
	// level, "\n" at character level), Vocab[1] is UNK ("<unk>"), then the
	// training split's tokens by decreasing count, ties broken by first
	// appearance in the training split.
	Vocab              []string
	Train, Valid, Test []int32

	ids map[string]int32 // Vocab inverted; nil for a Corpus built as a literal
}

// ID returns the id of tok, or the id of UNK when tok is not in the
// vocabulary.
func (c *Corpus) ID(tok string) int32 {
	if id, ok := c.Lookup(tok); ok {
		return id
	}
	return c.UNK()
}

// Lookup returns the id of tok and whether it is in the vocabulary.
func (c *Corpus) Lookup(tok string) (int32, bool) {
	if c.ids != nil {
		id, ok := c.ids[tok]
		return id, ok
	}
	if i := slices.Index(c.Vocab, tok); i >= 0 {
		return int32(i), true
	}
	return 0, false
}

// EOS returns the id of the end-of-line symbol: "<eos>" at word level,
// "\n" at character level (0 in every corpus this package builds; -1 when
// the vocabulary has none).
func (c *Corpus) EOS() int32 {
	sym := EOS
	if c.Level == Char {
		sym = Newline
	}
	if id, ok := c.Lookup(sym); ok {
		return id
	}
	return -1
}

// UNK returns the id of "<unk>" (1 in every corpus this package builds; -1
// when the vocabulary has none).
func (c *Corpus) UNK() int32 {
	if id, ok := c.Lookup(UNK); ok {
		return id
	}
	return -1
}

// Token returns the token of id, or UNK when id is out of range.
func (c *Corpus) Token(id int32) string {
	if id < 0 || int(id) >= len(c.Vocab) {
		return UNK
	}
	return c.Vocab[id]
}

// Encode tokenises s as the corpus' loaders do and returns the ids: at
// word level the whitespace-separated fields of each line followed by EOS
// for every newline, at character level one id per rune (invalid UTF-8
// bytes become UNK). Tokens outside the vocabulary become UNK. No
// normalisation (lowercasing, numbers) is applied.
func (c *Corpus) Encode(s string) []int32 {
	var ids []int32
	if c.Level == Char {
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				ids = append(ids, c.UNK())
			} else {
				ids = append(ids, c.ID(string(r)))
			}
			i += n
		}
		return ids
	}
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		for _, f := range strings.Fields(line) {
			ids = append(ids, c.ID(f))
		}
		if i < len(lines)-1 {
			ids = append(ids, c.EOS())
		}
	}
	return ids
}

// Decode is the inverse of Encode as far as it goes: at word level the
// tokens joined by spaces with EOS written as a newline, at character
// level the runes concatenated.
func (c *Corpus) Decode(ids []int32) string {
	var b strings.Builder
	eos := c.EOS()
	for i, id := range ids {
		if c.Level == Char {
			b.WriteString(c.Token(id))
			continue
		}
		if id == eos {
			b.WriteByte('\n')
			continue
		}
		if i > 0 && ids[i-1] != eos {
			b.WriteByte(' ')
		}
		b.WriteString(c.Token(id))
	}
	return b.String()
}

// UnkRate is the fraction of ids that are UNK: the out-of-vocabulary rate
// of a split (tokens that were "<unk>" in the source count too).
func (c *Corpus) UnkRate(ids []int32) float64 {
	if len(ids) == 0 {
		return 0
	}
	unk, n := c.UNK(), 0
	for _, id := range ids {
		if id == unk {
			n++
		}
	}
	return float64(n) / float64(len(ids))
}

// Tokens returns the number of tokens of the three splits.
func (c *Corpus) Tokens() (train, valid, test int) {
	return len(c.Train), len(c.Valid), len(c.Test)
}

// String summarises the corpus in one line.
func (c *Corpus) String() string {
	return fmt.Sprintf("%s (%s level): vocabulary %d, tokens train %d, valid %d, test %d",
		c.Name, c.Level, len(c.Vocab), len(c.Train), len(c.Valid), len(c.Test))
}

// buildVocab returns the vocabulary of a training split given as a
// sequence of tokens: reserved (EOS, UNK) first, then the tokens with
// count ≥ minCount by decreasing count, ties by first appearance, until
// size symbols.
func buildVocab(reserved []string, train func(yield func(string) bool), size, minCount int) []string {
	type entry struct {
		tok   string
		count int
		first int
	}
	index := map[string]int{}
	var entries []entry
	i := 0
	for tok := range train {
		if k, ok := index[tok]; ok {
			entries[k].count++
		} else {
			index[tok] = len(entries)
			entries = append(entries, entry{tok, 1, i})
		}
		i++
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return cmp.Compare(a.first, b.first)
	})
	vocab := append([]string{}, reserved...)
	for _, e := range entries {
		if len(vocab) >= size || e.count < minCount {
			break
		}
		if slices.Contains(reserved, e.tok) {
			continue
		}
		vocab = append(vocab, e.tok)
	}
	return vocab
}

func newIndex(vocab []string) map[string]int32 {
	m := make(map[string]int32, len(vocab))
	for i, t := range vocab {
		m[t] = int32(i)
	}
	return m
}

// NewWords builds a word-level corpus from three token sequences (each
// line's tokens followed by EOS, as [ParsePTB] and [ParseBrown] return
// them). The vocabulary comes from train alone (see [Corpus.Vocab] and
// [Options]); tokens outside it become UNK. A split with no tokens is an
// error.
func NewWords(name string, train, valid, test []string, opt Options) (*Corpus, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	if err := nonEmpty(name, len(train), len(valid), len(test)); err != nil {
		return nil, err
	}
	o := opt.withDefaults(Word)
	vocab := buildVocab([]string{EOS, UNK}, slices.Values(train), o.VocabSize, o.MinCount)
	c := &Corpus{Name: name, Level: Word, Vocab: vocab, ids: newIndex(vocab)}
	enc := func(toks []string) []int32 {
		ids := make([]int32, len(toks))
		for i, t := range toks {
			id, ok := c.ids[t]
			if !ok {
				id = 1
			}
			ids[i] = id
		}
		return ids
	}
	c.Train, c.Valid, c.Test = enc(train), enc(valid), enc(test)
	return c, nil
}

// NewChars builds a character-level corpus from three texts: one token per
// rune, the newline included. The texts must be valid UTF-8 (the loaders
// check it and say where it is not). The vocabulary comes from train alone:
// "\n", UNK, then the runes of train occurring at least MinCount times by
// decreasing count (ties by first appearance), at most VocabSize symbols in
// all; every other rune becomes UNK.
func NewChars(name string, train, valid, test string, opt Options) (*Corpus, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	for _, s := range []struct{ split, text string }{{"train", train}, {"valid", valid}, {"test", test}} {
		if !utf8.ValidString(s.text) {
			off := firstInvalid(s.text)
			return nil, fmt.Errorf("text: %s: %s split: invalid UTF-8 at byte %d: %w", name, s.split, off, ErrFormat)
		}
	}
	if err := nonEmpty(name, len(train), len(valid), len(test)); err != nil {
		return nil, err
	}
	o := opt.withDefaults(Char)
	runes := func(s string) func(func(string) bool) {
		return func(yield func(string) bool) {
			for _, r := range s {
				if !yield(string(r)) {
					return
				}
			}
		}
	}
	vocab := buildVocab([]string{Newline, UNK}, runes(train), o.VocabSize, o.MinCount)
	c := &Corpus{Name: name, Level: Char, Vocab: vocab, ids: newIndex(vocab)}
	byRune := map[rune]int32{}
	for i, t := range vocab[2:] {
		r, _ := utf8.DecodeRuneInString(t)
		byRune[r] = int32(i + 2)
	}
	byRune['\n'] = 0
	enc := func(s string) []int32 {
		ids := make([]int32, 0, utf8.RuneCountInString(s))
		for _, r := range s {
			id, ok := byRune[r]
			if !ok {
				id = 1
			}
			ids = append(ids, id)
		}
		return ids
	}
	c.Train, c.Valid, c.Test = enc(train), enc(valid), enc(test)
	return c, nil
}

func nonEmpty(name string, train, valid, test int) error {
	for _, s := range []struct {
		split string
		n     int
	}{{"train", train}, {"valid", valid}, {"test", test}} {
		if s.n == 0 {
			return fmt.Errorf("text: %s: the %s split is empty: %w", name, s.split, ErrFormat)
		}
	}
	return nil
}

func firstInvalid(s string) int {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}
