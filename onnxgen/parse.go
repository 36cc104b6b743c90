package onnxgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Tokens of the architecture language that other packages write.
const (
	// AnchorPrefix starts the token inJ: layer J feeds the current layer.
	AnchorPrefix = "in"
	// SeparatorToken is the token that separates two layers.
	SeparatorToken = "|"
	// LayerSeparator separates two layers in the canonical form.
	LayerSeparator = " " + SeparatorToken + " "
)

// maxValue bounds every number of an architecture string, so that no
// arithmetic on a parsed architecture is near overflow.
const maxValue = 1 << 20

// ParseError is the error of Parse, Space.ParseArch and ParseCell: where the
// string is wrong (Pos, the 0-based index of the whitespace-separated token,
// "|" included; Pos equals the number of tokens and Token is "" when the
// problem is at the end of the input) and what was expected (Msg).
type ParseError struct {
	Pos   int
	Token string
	Msg   string
}

func (e *ParseError) Error() string {
	if e.Token == "" {
		return fmt.Sprintf("onnxgen: token %d (end): %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("onnxgen: token %d %q: %s", e.Pos, e.Token, e.Msg)
}

// field is one decision of a layer.
type field int

const (
	fKH field = iota
	fKW
	fSH
	fSW
	fF
	fP
	nFields
)

var fieldPrefix = [nFields]string{"kh", "kw", "sh", "sw", "f", "p"}
var fieldName = [nFields]string{"filter height", "filter width", "stride height", "stride width", "number of filters", "pool size"}

func (l *Layer) field(f field) *int {
	switch f {
	case fKH:
		return &l.KH
	case fKW:
		return &l.KW
	case fSH:
		return &l.SH
	case fSW:
		return &l.SW
	case fP:
		return &l.Pool
	default:
		return &l.Filters
	}
}

// layerPos records where each decision of a layer was written, for the
// errors of Space.ParseArch. A position of -1 means the token is absent.
type layerPos struct {
	field  [nFields]int
	inputs map[int]int // input layer -> token index
	end    int         // index of the layer's closing "|", or len(tokens)
	start  int         // index of the layer's first token
}

// parsed is an architecture with the position of each token.
type parsed struct {
	arch   Arch
	layers []layerPos
	toks   []string
}

// tokenAt returns the token at i, or "" at the end of the input.
func (p *parsed) tokenAt(i int) string {
	if i < len(p.toks) {
		return p.toks[i]
	}
	return ""
}

func (p *parsed) errAt(i int, format string, args ...any) *ParseError {
	return &ParseError{Pos: i, Token: p.tokenAt(i), Msg: fmt.Sprintf(format, args...)}
}

// Kind is the kind of child an architecture string describes.
type Kind string

// The kinds of the language.
const (
	// KindCNN: an image classifier; its strings have no tag.
	KindCNN Kind = "cnn"
	// KindRNN: a recurrent cell ("rnn: base8 | ..."); ParseCell reads it.
	KindRNN Kind = "rnn"
)

// KindOf reads the kind of an architecture string from its tag: a first
// token containing ":" names the kind before the colon; no tag is a CNN. It
// returns the tag it read even when it is not a kind of the language (ok
// false). Tokens are separated by any Unicode whitespace, as Parse and
// ParseCell read them; "rnn: base8" and "rnn:base8" are both tagged rnn
// (ParseCell wants the tag to stand alone).
func KindOf(s string) (k Kind, ok bool) {
	first := strings.TrimLeftFunc(s, unicode.IsSpace)
	if end := strings.IndexFunc(first, unicode.IsSpace); end >= 0 {
		first = first[:end]
	}
	tag, _, tagged := strings.Cut(first, ":")
	switch {
	case !tagged:
		return KindCNN, true
	case tag == string(KindRNN):
		return KindRNN, true
	}
	return Kind(tag), false
}

// Parse reads an architecture string (see the package documentation for the
// grammar). It checks syntax and structure only; Space.ParseArch also checks
// the values against a search space. Errors are *ParseError. Only the CNN
// kind parses: a recurrent cell ("rnn: ...", KindRNN) is an error at its
// first token that says to use ParseCell, and so is a string with an
// unknown tag.
func Parse(s string) (Arch, error) {
	p, err := parse(s)
	if err != nil {
		return Arch{}, err
	}
	return p.arch, nil
}

func parse(s string) (*parsed, error) {
	p := &parsed{toks: strings.Fields(s)}
	if len(p.toks) == 0 {
		return nil, p.errAt(0, "empty architecture (want at least one layer, e.g. %q)", "kh3 kw3 f36")
	}
	switch k, known := KindOf(s); {
	case k == KindRNN:
		return nil, p.errAt(0, "architecture kind %q is a recurrent cell, not a CNN (ParseCell reads cells; want a CNN string, which has no kind tag)", k)
	case !known || k != KindCNN:
		return nil, p.errAt(0, "architecture kind %q is not supported (want a CNN string, which has no kind tag)", k)
	}
	var cur Layer
	lp := newLayerPos(0)
	for i := 0; i <= len(p.toks); i++ {
		if i == len(p.toks) || p.toks[i] == SeparatorToken {
			if err := p.closeLayer(&cur, &lp, i); err != nil {
				return nil, err
			}
			cur, lp = Layer{}, newLayerPos(i+1)
			continue
		}
		if err := p.token(&cur, &lp, i); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func newLayerPos(start int) layerPos {
	lp := layerPos{start: start}
	for f := range lp.field {
		lp.field[f] = -1
	}
	return lp
}

// token reads the decision token i into the layer being parsed.
func (p *parsed) token(l *Layer, lp *layerPos, i int) error {
	t := p.toks[i]
	n := len(p.arch.Layers)
	prefix := t[:len(t)-len(strings.TrimLeft(t, "abcdefghijklmnopqrstuvwxyz"))]
	num := t[len(prefix):]
	f := slices.Index(fieldPrefix[:], prefix)
	if f < 0 && prefix != AnchorPrefix {
		return p.errAt(i, "unknown token (want khN, kwN, shN, swN, fN, pN, inJ or %q)", SeparatorToken)
	}
	v, msg := parseNumber(prefix, num)
	if msg != "" {
		return p.errAt(i, "%s", msg)
	}
	if prefix == AnchorPrefix {
		if v >= n {
			return p.errAt(i, "layer %d cannot be fed by layer %d (not an earlier layer)", n, v)
		}
		if j, dup := lp.inputs[v]; dup {
			return p.errAt(i, "layer %d is already fed by layer %d (token %d)", n, v, j)
		}
		if lp.inputs == nil {
			lp.inputs = map[int]int{}
		}
		lp.inputs[v] = i
		l.Inputs = append(l.Inputs, v)
		return nil
	}
	if j := lp.field[f]; j >= 0 {
		return p.errAt(i, "layer %d already has a %s (token %d %q)", n, fieldName[f], j, p.toks[j])
	}
	switch {
	case f == int(fP) && v == 1:
		// A 1x1 pool is no pooling: only p0 (or no p token) says so, so
		// that the canonical string stays unique.
		return p.errAt(i, "pool size 1 pools nothing (want p0 or no p token for none, or p2 and up: a 2x2 max pool with stride 2, ...)")
	case v == 0 && f != int(fP):
		return p.errAt(i, "%s 0 is not positive", fieldName[f])
	}
	if (f == int(fKH) || f == int(fKW)) && v%2 == 0 {
		// 'same' padding is (k-1)/2 on each side: an even kernel would
		// shrink the map by one.
		return p.errAt(i, "%s %d is even (want an odd kernel size: 1, 3, 5, ...; 'same' padding needs one)", fieldName[f], v)
	}
	lp.field[f] = i
	*l.field(field(f)) = v
	return nil
}

// parseNumber reads the decimal number after prefix, without sign or leading zeros. It
// returns a message saying what is wrong, or "".
func parseNumber(prefix, s string) (int, string) {
	if s == "" {
		return 0, fmt.Sprintf("missing number after %q", prefix)
	}
	if strings.Trim(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Sprintf("malformed number %q after %q (want decimal digits without sign or leading zeros)", s, prefix)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > maxValue {
		return 0, fmt.Sprintf("number %s after %q is too large (want at most %d)", s, prefix, maxValue)
	}
	return v, ""
}

// closeLayer ends the layer being parsed at token end (a "|" or the end of
// the input) and appends it.
func (p *parsed) closeLayer(l *Layer, lp *layerPos, end int) error {
	n := len(p.arch.Layers)
	lp.end = end
	if end == lp.start {
		return p.errAt(end, "layer %d is empty (want kh, kw and f tokens)", n)
	}
	for _, f := range []field{fKH, fKW, fF} {
		if lp.field[f] < 0 {
			return p.errAt(end, "layer %d has no %s (want a %sN token)", n, fieldName[f], fieldPrefix[f])
		}
	}
	if lp.field[fSH] < 0 {
		l.SH = 1
	}
	if lp.field[fSW] < 0 {
		l.SW = 1
	}
	slices.Sort(l.Inputs)
	p.arch.Layers = append(p.arch.Layers, *l)
	p.layers = append(p.layers, *lp)
	return nil
}
