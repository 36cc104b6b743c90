package onnxgen

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that its errors are *ParseError
// with a position inside the input, and that an accepted string round-trips:
// Parse(Format(a)) equals a and Format is a fixed point. The seed corpus is
// in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add("kh3 kw3 f36 | kh5 kw5 f48 in0 | kh3 kw3 sh2 sw2 f64 in0 in1")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q): error %T is not a *ParseError", s, err)
			}
			if pe.Pos < 0 || pe.Pos > len(strings.Fields(s)) || pe.Msg == "" {
				t.Fatalf("Parse(%q): bad error %+v", s, pe)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("Parse(%q) returned an invalid Arch: %v", s, err)
		}
		c := Format(a)
		b, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(Format(Parse(%q))) = %q: %v", s, c, err)
		}
		if d := cmp.Diff(a, b); d != "" {
			t.Fatalf("Parse(Format(a)) != a for %q (-a +b):\n%s", s, d)
		}
		if c2 := Format(b); c2 != c {
			t.Fatalf("Format not a fixed point: %q then %q", c, c2)
		}
		// The space checks agree, and Cost does not panic (its errors, e.g.
		// a stride larger than the map, are fine).
		for _, sp := range []Space{SpaceV2, SpaceV3} {
			_, perr := sp.ParseArch(s)
			if cerr := sp.Check(a); (perr == nil) != (cerr == nil) {
				t.Fatalf("%q: space %s: ParseArch error %v but Check error %v", s, sp.Name, perr, cerr)
			}
		}
		_, _ = a.Cost(Input{3, 8, 8}, 10, true)
	})
}
