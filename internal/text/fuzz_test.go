package text

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// The parsers never panic: on any input they fail with an error wrapping
// ErrFormat and saying where, or return tokens consistent with the input.
// Seeds: testdata/fuzz/ and the f.Add calls below.

func FuzzPTB(f *testing.F) {
	f.Add([]byte(" the cat sat \n a <unk> N \n"))
	f.Add([]byte("x\x00y"))
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := ParsePTB("f", data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "text: f:") {
				t.Fatalf("error %q: want text: f:LINE: ... wrapping ErrFormat", err)
			}
			return
		}
		lines := strings.Count(string(data), "\n")
		if len(data) > 0 && data[len(data)-1] != '\n' {
			lines++
		}
		eos := 0
		for _, tok := range toks {
			if tok == EOS {
				eos++
				continue
			}
			if tok == "" || strings.ContainsAny(tok, " \t\n\r") || !utf8.ValidString(tok) {
				t.Fatalf("token %q", tok)
			}
		}
		if eos < lines { // a literal <eos> in the text adds one
			t.Fatalf("%d EOS for %d lines", eos, lines)
		}
		if len(toks) > 0 {
			if _, err := NewWords("f", toks, toks, toks, Options{}); err != nil {
				t.Fatalf("NewWords on parsed tokens: %v", err)
			}
		}
	})
}

func FuzzBrown(f *testing.F) {
	f.Add([]byte("\tThe/at jury/nn said/vbd ./.\n\n"))
	f.Add([]byte("1,000/cd ``/`` a/b/c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := ParseBrown("f", data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "text: f:") {
				t.Fatalf("error %q: want text: f:LINE: ... wrapping ErrFormat", err)
			}
			return
		}
		for i, tok := range toks {
			if tok == UNK || tok == "" || strings.ContainsAny(tok, " \t\n") {
				t.Fatalf("token %q", tok)
			}
			if tok == EOS && (i == 0 || toks[i-1] == EOS) {
				t.Fatalf("an empty sentence at %d", i)
			}
			if tok != "N" && tok != EOS && isNumber(tok) {
				t.Fatalf("number %q not replaced", tok)
			}
		}
		if len(toks) > 0 && toks[len(toks)-1] != EOS {
			t.Fatalf("tokens end in %q, not EOS", toks[len(toks)-1])
		}
	})
}

func FuzzFortunes(f *testing.F) {
	f.Add([]byte("A\n%\nB\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := ParseFortunes("f", data)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "text: f:") {
				t.Fatalf("error %q: want text: f:LINE: ... wrapping ErrFormat", err)
			}
			return
		}
		for _, s := range fs {
			if s == "" || !strings.HasSuffix(s, "\n") || strings.HasPrefix(s, "%\n") || strings.Contains(s, "\n%\n") {
				t.Fatalf("fortune %q", s)
			}
		}
	})
}
