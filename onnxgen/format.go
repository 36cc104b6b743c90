package onnxgen

import (
	"strconv"
	"strings"
)

// Format writes a in the canonical form of the architecture language: per
// layer the tokens kh, kw, sh, sw, f, p, in in that order, sh and sw omitted
// when they are 1, p omitted when it is 0 (no pooling), the in tokens ascending, one space between tokens and
// " | " between layers. For every a that Parse returns, Parse(Format(a))
// equals a, and Format(Parse(s)) is a fixed point of Format∘Parse.
//
// Format writes what a holds, valid or not (a zero stride is written sh0, so
// that Parse rejects it); use Arch.Validate or Space.Check for an Arch built
// in code.
func Format(a Arch) string {
	var b strings.Builder
	for i, l := range a.Layers {
		if i > 0 {
			b.WriteString(LayerSeparator)
		}
		b.WriteString(fieldPrefix[fKH])
		b.WriteString(strconv.Itoa(l.KH))
		write := func(prefix string, v int) {
			b.WriteByte(' ')
			b.WriteString(prefix)
			b.WriteString(strconv.Itoa(v))
		}
		write(fieldPrefix[fKW], l.KW)
		if l.SH != 1 {
			write(fieldPrefix[fSH], l.SH)
		}
		if l.SW != 1 {
			write(fieldPrefix[fSW], l.SW)
		}
		write(fieldPrefix[fF], l.Filters)
		if l.Pool != 0 {
			write(fieldPrefix[fP], l.Pool)
		}
		for _, j := range l.Inputs {
			write(AnchorPrefix, j)
		}
	}
	return b.String()
}

// String returns Format(a).
func (a Arch) String() string { return Format(a) }
