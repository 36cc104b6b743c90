package text

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseBrown(t *testing.T) {
	for _, tc := range []struct {
		name, why, in string
		want          []string
	}{
		{"sentence", "tags stripped, lowercased, punctuation dropped, EOS per line",
			"\tThe/at Jury/nn-tl said/vbd ,/, ``/`` yes/rb ''/'' ./.\n", words("the jury said yes <eos>")},
		{"blank lines", "blank lines between sentences give nothing", "\n\n\tA/at b/nn\n\n\nC/nn-hl\n", words("a b <eos> c <eos>")},
		{"numbers", "digits with . , : / - are N; other words with digits stay",
			"1960/cd 3.5/cd 1,000/cd 1/2/cd 10:30/cd 1961-62/cd 1920's/cd b-52/np one/cd\n", words("N N N N N N 1920's b-52 one <eos>")},
		{"suffixed punctuation", "headline, title and cited punctuation is punctuation",
			"Hello/uh ./.-hl ,/,-hl --/---hl (/(-hl ;/.-tl :/:-nc\n", words("hello <eos>")},
		{"only punctuation", "a sentence left with no words is dropped", "``/`` ./.\nok/jj\n", words("ok <eos>")},
		{"last slash", "a word may hold a slash: split at the last one", "and/or/cc\n", words("and/or <eos>")},
		{"not", "n't and not (tag *) are words", "isn't/bez* not/*\n", words("isn't not <eos>")},
		{"possessive", "clitics stay on their word, as the corpus has them", "Atlanta's/np$\n", words("atlanta's <eos>")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseBrown("f", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.why, got, tc.want)
			}
		})
	}
}

func TestParseBrownErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"no tag", "The/at jury said/vbd\n", `f:1: token 2 "jury" is not word/tag`},
		{"empty word", "a/at\n\n/nn\n", `f:3: token 1 "/nn" is not word/tag`},
		{"empty tag", "a/ b/nn\n", `f:1: token 1 "a/" is not word/tag`},
		{"reserved", "<unk>/nn\n", `f:1: token 1 is the reserved word "<unk>"`},
		{"binary", "a/at\x00\n", `f:1: NUL byte at offset 4`},
		{"utf-8", "a/at\n\xe9t\xe9/nn\n", `f:2: invalid UTF-8 at offset 5 (byte 0 of the line)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseBrown("f", []byte(tc.in))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q wrapping ErrFormat", err, tc.want)
			}
		})
	}
}

// The head of the real ca01 (testdata/brown-ca01-head.txt, 4 sentences).
func TestParseBrownSample(t *testing.T) {
	data, err := os.ReadFile("testdata/brown-ca01-head.txt")
	if err != nil {
		t.Fatal(err)
	}
	toks, err := ParseBrown("ca01", data)
	if err != nil {
		t.Fatal(err)
	}
	want := "the fulton county grand jury said friday an investigation of atlanta's recent primary election produced no evidence that any irregularities took place <eos>"
	if got := strings.Join(toks[:slices.Index(toks, EOS)+1], " "); got != want {
		t.Errorf("first sentence\n have %s\n want %s", got, want)
	}
	if n := strings.Count(strings.Join(toks, " "), EOS); n != 4 {
		t.Errorf("%d sentences, want 4", n)
	}
}

func TestLoadBrownSplit(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for _, g := range "ab" {
		for i := 1; i <= 10; i++ {
			names = append(names, fmt.Sprintf("c%c%02d", g, i))
		}
	}
	// File i holds one sentence of i+1 words: a split's length says which
	// files it holds.
	for i, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("\t"+strings.Repeat("x/nn ", i+1)+"./.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Not corpus files: skipped.
	for _, n := range []string{"README", "CONTENTS", "package.json", "cz01", "ca1"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadBrown(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// train: files 0..7 and 10..17 (i+2 tokens each, EOS included); valid:
	// ca09 and cb09 (files 8 and 18); test: ca10 and cb10 (9 and 19).
	train := 0
	for _, i := range []int{0, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17} {
		train += i + 2
	}
	if tr, va, te := c.Tokens(); tr != train || va != 10+20 || te != 11+21 {
		t.Errorf("tokens %d/%d/%d, want %d/30/32 (the 9th of every 10 files validates, the 10th tests)", tr, va, te, train)
	}
	if c.Name != "brown" || c.Level != Word {
		t.Errorf("name %q level %v", c.Name, c.Level)
	}
	// A bad file is named, with its line.
	if err := os.WriteFile(filepath.Join(dir, "cb05"), []byte("ok/jj\nbad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBrown(dir, Options{}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "cb05")+`:2: token 1 "bad" is not word/tag`) {
		t.Errorf("bad file: %v", err)
	}
	// Fewer than nine files: no valid split.
	small := t.TempDir()
	if err := os.WriteFile(filepath.Join(small, "ca01"), []byte("a/at\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBrown(small, Options{}); err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "text: brown: 1 files in "+small+" leave the valid split empty") {
		t.Errorf("one file: %v", err)
	}
}

func TestParseFortunes(t *testing.T) {
	for _, tc := range []struct {
		name, why, in string
		want          []string
	}{
		{"two", "separator lines split fortunes; lines keep their newlines", "A.\n\t-- B\n%\nC\n%\n", []string{"A.\n\t-- B\n", "C\n"}},
		{"empty", "empty fortunes are dropped", "%\n%\nA\n%\n%\n", []string{"A\n"}},
		{"no final", "a last line gets its newline", "A\n%\nB", []string{"A\n", "B\n"}},
		{"percent inside", "only a line of just % separates", "50% off\n %\n%%\n", []string{"50% off\n %\n%%\n"}},
		{"crlf", "a separator may end in CR", "A\r\n%\r\nB\n", []string{"A\r\n", "B\n"}},
		{"blank", "blank lines are text", "\n\n", []string{"\n\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFortunes("f", []byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %q, want %q", tc.why, got, tc.want)
			}
		})
	}
	if _, err := ParseFortunes("f", []byte("A\n%\n\xff\n")); err == nil || !strings.Contains(err.Error(), "f:3: invalid UTF-8 at offset 4") {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestLoadFortunesSplit(t *testing.T) {
	dir := t.TempDir()
	// Two files of 6 fortunes each: fortunes 0..11 across "a" then "b".
	for f, name := range []string{"a", "b"} {
		var b strings.Builder
		for i := range 6 {
			fmt.Fprintf(&b, "%s\n%%\n", strings.Repeat("x", 6*f+i+1))
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a.dat", "b.u8", "fortunes_1_all.deb", "copyright.txt"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("\x00"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := LoadFortunes(dir, Options{MinCount: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Fortune i is i+1 x's.
	x := func(is ...int) string {
		var b strings.Builder
		for _, i := range is {
			b.WriteString(strings.Repeat("x", i+1) + "\n%\n")
		}
		return b.String()
	}
	for _, s := range []struct {
		split string
		ids   []int32
		want  string
	}{
		{"train", c.Train, x(0, 1, 2, 3, 4, 5, 6, 7, 10, 11)},
		{"valid", c.Valid, x(8)},
		{"test", c.Test, x(9)},
	} {
		if got := c.Decode(s.ids); got != s.want {
			t.Errorf("%s: %q, want %q", s.split, got, s.want)
		}
	}
	if c.Name != "fortunes" || c.Level != Char || c.Vocab[0] != "\n" {
		t.Errorf("%v, vocab %q", c, c.Vocab)
	}
}
