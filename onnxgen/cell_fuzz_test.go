package onnxgen

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseCell checks that ParseCell never panics, that its errors are
// *ParseError whose position is inside the input and whose token is the one
// at that position, and that an accepted string is a valid cell that
// round-trips: ParseCell(c.String()) equals c, String is a fixed point, the
// cell space's decision vector inverts, and Parse (the CNN parser) refuses
// it at its tag; KindOf agrees with the first token. Seeds: below and in
// testdata/fuzz/FuzzParseCell.
func FuzzParseCell(f *testing.F) {
	for _, nc := range namedCells {
		f.Add(nc.cell)
	}
	f.Add(cellBase2)
	f.Add("rnn: base4 | add relu add identity mul tanh mul sigmoid | add tanh mul relu | mul identity | inject mul sigmoid at6 c0")
	f.Add("rnn: base2 | add tanh add | add tanh | inject add tanh at0 c2")
	f.Add("rnn:base8 | inject")
	f.Fuzz(func(t *testing.T, s string) {
		// KindOf reads the first token as the parsers split it.
		if toks := strings.Fields(s); len(toks) > 0 {
			tag, _, tagged := strings.Cut(toks[0], ":")
			if k, _ := KindOf(s); tagged && string(k) != tag || !tagged && k != KindCNN {
				t.Fatalf("KindOf(%q) = %q, first token %q", s, k, toks[0])
			}
		}
		c, err := ParseCell(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseCell(%q): error %T is not a *ParseError", s, err)
			}
			toks := strings.Fields(s)
			if pe.Pos < 0 || pe.Pos > len(toks) || pe.Msg == "" {
				t.Fatalf("ParseCell(%q): bad error %+v", s, pe)
			}
			if want := (&parsed{toks: toks}).tokenAt(pe.Pos); pe.Token != want {
				t.Fatalf("ParseCell(%q): error token %q at %d, the input has %q there", s, pe.Token, pe.Pos, want)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCell(%q) returned an invalid Cell: %v", s, err)
		}
		if k, ok := KindOf(s); k != KindRNN || !ok {
			t.Fatalf("ParseCell(%q) accepted a string KindOf calls %q, %v", s, k, ok)
		}
		canon := c.String()
		b, err := ParseCell(canon)
		if err != nil {
			t.Fatalf("ParseCell(String(ParseCell(%q))) = %q: %v", s, canon, err)
		}
		if d := cmp.Diff(c, b); d != "" {
			t.Fatalf("ParseCell(String(c)) != c for %q (-c +b):\n%s", s, d)
		}
		if again := b.String(); again != canon {
			t.Fatalf("String not a fixed point: %q then %q", canon, again)
		}
		if strings.Join(strings.Fields(s), " ") != canon {
			// The language has one spelling per cell: only whitespace
			// differs between an accepted string and its canonical form.
			t.Fatalf("%q parses but its tokens are not the canonical %q", s, canon)
		}
		var pe *ParseError
		if _, err := Parse(s); !errors.As(err, &pe) || pe.Pos != 0 {
			t.Fatalf("Parse(%q) of a cell: %v, want a *ParseError at token 0", s, err)
		}
		sp := CellSpace{Base: c.Base}
		v, err := sp.Choices(c)
		if err != nil {
			t.Fatalf("Choices(%q): %v", s, err)
		}
		if len(v) != len(sp.Decisions()) {
			t.Fatalf("Choices(%q) has %d entries for %d decisions", s, len(v), len(sp.Decisions()))
		}
		back, err := sp.Cell(v)
		if err != nil {
			t.Fatalf("Cell(Choices(%q)): %v", s, err)
		}
		if d := cmp.Diff(c, back); d != "" {
			t.Fatalf("Cell(Choices(c)) != c for %q (-c +back):\n%s", s, d)
		}
	})
}
