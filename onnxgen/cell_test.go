package onnxgen

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cellBase2 is a small valid cell; its tokens are numbered for the error table:
// 0 rnn:, 1 base2, 2 |, 3 add, 4 tanh, 5 mul, 6 sigmoid, 7 |, 8 add, 9 tanh,
// 10 |, 11 inject, 12 add, 13 tanh, 14 at0, 15 c2.
const cellBase2 = "rnn: base2 | add tanh mul sigmoid | add tanh | inject add tanh at0 c2"

func cellNodesOf(s string) []CellNode {
	var out []CellNode
	f := strings.Fields(s)
	for i := 0; i < len(f); i += 2 {
		c, _ := cellToken(cellCombTokens[:], f[i])
		a, _ := cellToken(cellActTokens[:], f[i+1])
		out = append(out, CellNode{Comb(c), Act(a)})
	}
	return out
}

func TestParseCell(t *testing.T) {
	tests := []struct {
		name, in, canon string
		want            Cell
		reason          string
	}{
		{
			name: "base2", in: cellBase2, canon: cellBase2,
			want:   Cell{Base: 2, Nodes: cellNodesOf("add tanh mul sigmoid add tanh"), Inject: CellNode{CombAdd, ActTanh}, InjectAt: 0, CellFrom: 2},
			reason: "the smallest tree: 2 leaves and a root",
		},
		{
			name: "whitespace", in: "\u00a0rnn:\tbase2\n|\u2003add tanh  mul\u3000sigmoid |\radd tanh\v|\u0085inject add tanh at0 c2 \n",
			canon:  cellBase2,
			want:   Cell{Base: 2, Nodes: cellNodesOf("add tanh mul sigmoid add tanh"), Inject: CellNode{CombAdd, ActTanh}, InjectAt: 0, CellFrom: 2},
			reason: "any Unicode whitespace separates tokens (no-break, em and ideographic spaces, NEL, tabs, newlines)",
		},
		{
			name: "base4", in: "rnn: base4 | add relu add identity mul tanh mul sigmoid | add tanh mul relu | mul identity | inject mul sigmoid at6 c6",
			canon:  "rnn: base4 | add relu add identity mul tanh mul sigmoid | add tanh mul relu | mul identity | inject mul sigmoid at6 c6",
			want:   Cell{Base: 4, Nodes: cellNodesOf("add relu add identity mul tanh mul sigmoid add tanh mul relu mul identity"), Inject: CellNode{CombMul, ActSigmoid}, InjectAt: 6, CellFrom: 6},
			reason: "the inject may be at the root, and at the node c_t comes from",
		},
		{
			name: "brief example", in: "rnn: base8 | add sigmoid add relu add sigmoid mul relu add tanh add sigmoid add tanh add sigmoid | mul tanh add tanh mul tanh add sigmoid | mul identity add tanh | mul tanh | inject add tanh at9 c12",
			canon: "rnn: base8 | add sigmoid add relu add sigmoid mul relu add tanh add sigmoid add tanh add sigmoid | mul tanh add tanh mul tanh add sigmoid | mul identity add tanh | mul tanh | inject add tanh at9 c12",
			want: Cell{Base: 8, Nodes: cellNodesOf("add sigmoid add relu add sigmoid mul relu add tanh add sigmoid add tanh add sigmoid mul tanh add tanh mul tanh add sigmoid mul identity add tanh mul tanh"),
				Inject: CellNode{CombAdd, ActTanh}, InjectAt: 9, CellFrom: 12},
			reason: "base 8, the paper's: NASCell's nodes with the inject moved to node 9",
		},
		{
			name: "leaf", in: "rnn: base8 | add identity add identity add identity add identity add identity add identity add identity mul relu | add identity add identity add identity add identity | add identity add identity | add identity | inject add identity at14 c7",
			canon:  "rnn: base8 | add identity add identity add identity add identity add identity add identity add identity mul relu | add identity add identity add identity add identity | add identity add identity | add identity | inject add identity at14 c7",
			want:   Cell{Base: 8, Nodes: append(cellNodesOf(strings.Repeat("add identity ", 7)+"mul relu"), cellNodesOf(strings.Repeat("add identity ", 7))...), Inject: CellNode{}, InjectAt: 14, CellFrom: 7},
			reason: "c_t may come from a leaf (the paper's example does) and the inject be at the root",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCell(tt.in)
			if err != nil {
				t.Fatalf("ParseCell(%q): %v (%s)", tt.in, err, tt.reason)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("ParseCell (-want +got):\n%s(%s)", d, tt.reason)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if s := got.String(); s != tt.canon {
				t.Errorf("String = %q, want %q (%s)", s, tt.canon, tt.reason)
			}
			again, err := ParseCell(tt.canon)
			if err != nil {
				t.Fatalf("ParseCell(String): %v", err)
			}
			if d := cmp.Diff(got, again); d != "" {
				t.Errorf("ParseCell(String(c)) != c (-want +got):\n%s", d)
			}
			if k, ok := KindOf(tt.in); k != KindRNN || !ok {
				t.Errorf("KindOf = %q, %v; want rnn, true", k, ok)
			}
		})
	}
}

func TestParseCellErrors(t *testing.T) {
	tail := " | add tanh add tanh | add tanh | inject add tanh at0 c2"
	b8 := func(l0, l1, l2, l3, inj string) string {
		return "rnn: base8 | " + l0 + " | " + l1 + " | " + l2 + " | " + l3 + " | " + inj
	}
	leaves := strings.Repeat("add tanh ", 8)
	tests := []struct {
		name, in string
		pos      int
		msg      string
		reason   string
	}{
		{"empty", "", 0, `onnxgen: token 0 (end): empty cell (want "rnn:", baseB, the levels and the inject group)`, "nothing to parse"},
		{"blank", " \t\u2028", 0, `onnxgen: token 0 (end): empty cell (want "rnn:", baseB, the levels and the inject group)`, "whitespace only is empty"},
		{"cnn", "kh3 kw3 f36", 0, `onnxgen: token 0 "kh3": a CNN string, not a cell (want "rnn:" first; Parse reads CNN strings)`, "a string without a tag is a CNN"},
		{"unknown tag", "gru: base2" + tail, 0, `onnxgen: token 0 "gru:": architecture kind "gru" is not a cell (want "rnn:" first)`, "only rnn: tags a cell"},
		{"glued tag", "rnn:base2" + tail, 0, `onnxgen: token 0 "rnn:base2": the kind tag "rnn:" must stand alone (want "rnn:", then baseB)`, "the tag is a token of its own, as | is"},
		{"upper tag", "RNN: base2" + tail, 0, `onnxgen: token 0 "RNN:": architecture kind "RNN" is not a cell (want "rnn:" first)`, "the tag is lower case"},
		{"no base", "rnn:", 1, `onnxgen: token 1 (end): want the base after "rnn:" (base2, base4 or base8: the number of leaves)`, "the base is required"},
		{"separator for base", "rnn:" + tail, 1, `onnxgen: token 1 "|": want the base after "rnn:" (base2, base4 or base8: the number of leaves)`, "the base comes before the first level"},
		{"base misspelt", "rnn: b2" + tail, 1, `onnxgen: token 1 "b2": want the base after "rnn:" (base2, base4 or base8: the number of leaves)`, "the base is spelt baseB"},
		{"base no number", "rnn: base" + tail, 1, `onnxgen: token 1 "base": missing number after "base"`, "baseB needs its B"},
		{"base leading zero", "rnn: base02" + tail, 1, `onnxgen: token 1 "base02": malformed number "02" after "base" (want decimal digits without sign or leading zeros)`, "one spelling per number"},
		{"base 3", "rnn: base3" + tail, 1, `onnxgen: token 1 "base3": base 3 is not supported (want base2, base4 or base8)`, "a binary tree needs a power of two"},
		{"base 16", "rnn: base16" + tail, 1, `onnxgen: token 1 "base16": base 16 is not supported (want base2, base4 or base8)`, "the language stops at the paper's 8"},
		{"base 1", "rnn: base1 | add tanh | inject add tanh at0 c0", 1, `onnxgen: token 1 "base1": base 1 is not supported (want base2, base4 or base8)`, "a single leaf is no tree"},
		{"base huge", "rnn: base99999999999999999999" + tail, 1, `onnxgen: token 1 "base99999999999999999999": number 99999999999999999999 after "base" is too large (want at most 1048576)`, "beyond int"},
		{"no separator after base", "rnn: base2 add tanh add tanh | add tanh | inject add tanh at0 c2", 2, `onnxgen: token 2 "add": want "|" after the base (then the 2 nodes of level 0)`, "the base is a group of its own"},
		{"no level", "rnn: base2", 2, `onnxgen: token 2 (end): missing level 0 (want "|" and its 2 nodes; base 2 has levels of 2, 1 nodes)`, "a cell has levels"},
		{"level short", "rnn: base2 | add tanh | add tanh | inject add tanh at0 c2", 5, `onnxgen: token 5 "|": level 0 has 1 node (want 2; base 2 has levels of 2, 1 nodes)`, "a level has exactly its nodes; reported at its closing |"},
		{"level long", "rnn: base2 | add tanh add tanh add tanh | add tanh | inject add tanh at0 c2", 7, `onnxgen: token 7 "add": level 0 has 3 nodes (want 2; base 2 has levels of 2, 1 nodes)`, "too many nodes: reported at the first extra one"},
		{"level long odd", "rnn: base2 | add tanh add tanh add | add tanh | inject add tanh at0 c2", 7, `onnxgen: token 7 "add": level 0 has 3 nodes (want 2; base 2 has levels of 2, 1 nodes)`, "a started node counts"},
		{"base8 level 1 short", b8(leaves, "add tanh add tanh add tanh", "add tanh add tanh", "mul tanh", "inject add tanh at8 c12"), 26, `onnxgen: token 26 "|": level 1 has 3 nodes (want 4; base 8 has levels of 8, 4, 2, 1 nodes)`, "the message names the level and both counts"},
		{"base8 root long", b8(leaves, "add tanh add tanh add tanh add tanh", "add tanh add tanh", "mul tanh add tanh", "inject add tanh at8 c12"), 36, `onnxgen: token 36 "add": level 3 has 2 nodes (want 1; base 8 has levels of 8, 4, 2, 1 nodes)`, "one root"},
		{"empty level", "rnn: base2 | | add tanh | inject add tanh at0 c2", 3, `onnxgen: token 3 "|": level 0 has 0 nodes (want 2; base 2 has levels of 2, 1 nodes)`, "| |"},
		{"trailing separator level", "rnn: base2 | add tanh add tanh |", 8, `onnxgen: token 8 (end): level 1 has 0 nodes (want 1; base 2 has levels of 2, 1 nodes)`, "a | opens a level"},
		{"bad combination", "rnn: base2 | sub tanh add tanh | add tanh | inject add tanh at0 c2", 3, `onnxgen: token 3 "sub": node 0 (level 0): want a combination (add or mul)`, "two combinations"},
		{"activation for combination", "rnn: base2 | tanh add add tanh | add tanh | inject add tanh at0 c2", 3, `onnxgen: token 3 "tanh": node 0 (level 0): want a combination (add or mul)`, "a node is comb then act"},
		{"bad activation", "rnn: base2 | add tanh add tan | add tanh | inject add tanh at0 c2", 6, `onnxgen: token 6 "tan": node 1 (level 0): want an activation (identity, tanh, sigmoid or relu)`, "four activations"},
		{"upper case", "rnn: base2 | ADD tanh add tanh | add tanh | inject add tanh at0 c2", 3, `onnxgen: token 3 "ADD": node 0 (level 0): want a combination (add or mul)`, "tokens are lower case"},
		{"missing activation", "rnn: base2 | add tanh add | add tanh | inject add tanh at0 c2", 6, `onnxgen: token 6 "|": node 1 (level 0) has no activation (want identity, tanh, sigmoid or relu)`, "each node has both"},
		{"glued separator", "rnn: base2 | add tanh add tanh| add tanh | inject add tanh at0 c2", 6, `onnxgen: token 6 "tanh|": node 1 (level 0): want an activation (identity, tanh, sigmoid or relu)`, "| must stand alone"},
		{"inner node position", "rnn: base4 | add tanh add tanh add tanh add tanh | add tanh mul exp | add tanh | inject add tanh at0 c2", 15, `onnxgen: token 15 "exp": node 5 (level 1): want an activation (identity, tanh, sigmoid or relu)`, "nodes are numbered in level order"},
		{"missing level", "rnn: base2 | add tanh add tanh | inject add tanh at0 c2", 8, `onnxgen: token 8 "inject": level 1 is missing (want its 1 node before the inject group; base 2 has levels of 2, 1 nodes)`, "every level is written, the root included"},
		{"missing levels at end", "rnn: base4 | add tanh add tanh add tanh add tanh", 11, `onnxgen: token 11 (end): missing level 1 (want "|" and its 2 nodes; base 4 has levels of 4, 2, 1 nodes)`, "the tree is cut short"},
		{"missing inject", "rnn: base2 | add tanh add tanh | add tanh", 10, `onnxgen: token 10 (end): missing inject group (want "|" then inject COMB ACT atN cM)`, "the inject group is required"},
		{"empty inject", "rnn: base2 | add tanh add tanh | add tanh |", 11, `onnxgen: token 11 (end): empty inject group (want inject COMB ACT atN cM)`, "a | opens the inject group"},
		{"empty inject before inject", "rnn: base2 | add tanh add tanh | add tanh | | inject add tanh at0 c2", 11, `onnxgen: token 11 "|": empty inject group (want inject COMB ACT atN cM)`, "| |"},
		{"extra level", "rnn: base2 | add tanh add tanh | add tanh | add tanh | inject add tanh at0 c2", 11, `onnxgen: token 11 "add": want "inject": base 2 has levels of 2, 1 nodes, then the inject group (inject COMB ACT atN cM)`, "after the root comes the inject group"},
		{"inject no combination", "rnn: base2 | add tanh add tanh | add tanh | inject", 12, `onnxgen: token 12 (end): inject group: want a combination (add or mul) merging c_{t-1} into a node`, "the inject has its own choices"},
		{"inject bad combination", "rnn: base2 | add tanh add tanh | add tanh | inject tanh add at0 c2", 12, `onnxgen: token 12 "tanh": inject group: want a combination (add or mul) merging c_{t-1} into a node`, "comb first"},
		{"inject no activation", "rnn: base2 | add tanh add tanh | add tanh | inject add", 13, `onnxgen: token 13 (end): inject group: want an activation (identity, tanh, sigmoid or relu) after the combination`, "then act"},
		{"inject bad activation", "rnn: base2 | add tanh add tanh | add tanh | inject add at0 c2", 13, `onnxgen: token 13 "at0": inject group: want an activation (identity, tanh, sigmoid or relu) after the combination`, "the act is not optional"},
		{"no at", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh", 14, `onnxgen: token 14 (end): inject group: want atN (N the node that receives c_{t-1}, 0..2)`, "the inject node is required"},
		{"c before at", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh c2 at0", 14, `onnxgen: token 14 "c2": inject group: want atN (N the node that receives c_{t-1}, 0..2)`, "at comes before c"},
		{"at out of range", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at3 c2", 14, `onnxgen: token 14 "at3": node 3 out of range for the node that receives c_{t-1} (want 0..2: base 2 has 3 nodes)`, "the index names a node of the tree"},
		{"at out of range base8", b8(leaves, "add tanh add tanh add tanh add tanh", "add tanh add tanh", "mul tanh", "inject add tanh at15 c12"), 40, `onnxgen: token 40 "at15": node 15 out of range for the node that receives c_{t-1} (want 0..14: base 8 has 15 nodes)`, "0..2B-2"},
		{"at no number", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at c2", 14, `onnxgen: token 14 "at": missing number after "at"`, "atN needs its N"},
		{"at leading zero", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at01 c2", 14, `onnxgen: token 14 "at01": malformed number "01" after "at" (want decimal digits without sign or leading zeros)`, "one spelling per number"},
		{"at glued", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at0c2", 14, `onnxgen: token 14 "at0c2": malformed number "0c2" after "at" (want decimal digits without sign or leading zeros)`, "at and c are two tokens"},
		{"at huge", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at99999999999999999999 c2", 14, `onnxgen: token 14 "at99999999999999999999": number 99999999999999999999 after "at" is too large (want at most 1048576)`, "beyond int"},
		{"no c", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at0", 15, `onnxgen: token 15 (end): inject group: want cN (N the node whose pre-activation is c_t, 0..2)`, "the c_t node is required"},
		{"c misspelt", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at0 from2", 15, `onnxgen: token 15 "from2": inject group: want cN (N the node whose pre-activation is c_t, 0..2)`, "spelt cM"},
		{"c out of range", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at0 c3", 15, `onnxgen: token 15 "c3": node 3 out of range for the node whose pre-activation is c_t (want 0..2: base 2 has 3 nodes)`, "the index names a node of the tree"},
		{"c negative", "rnn: base2 | add tanh add tanh | add tanh | inject add tanh at0 c-1", 15, `onnxgen: token 15 "c-1": malformed number "-1" after "c" (want decimal digits without sign or leading zeros)`, "no signs"},
		{"trailing token", cellBase2 + " add", 16, `onnxgen: token 16 "add": trailing tokens after the inject group (want the end of the cell)`, "the inject group ends the cell"},
		{"trailing separator", cellBase2 + " |", 16, `onnxgen: token 16 "|": trailing tokens after the inject group (want the end of the cell)`, "nothing after the inject group, not even |"},
		{"two cells", cellBase2 + " " + cellBase2, 16, `onnxgen: token 16 "rnn:": trailing tokens after the inject group (want the end of the cell)`, "one cell per string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCell(tt.in)
			if err == nil {
				t.Fatalf("ParseCell(%q) = %v, want error (%s)", tt.in, c, tt.reason)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if pe.Pos != tt.pos {
				t.Errorf("Pos = %d, want %d (%s)", pe.Pos, tt.pos, tt.reason)
			}
			if toks := strings.Fields(tt.in); (pe.Pos < len(toks)) != (pe.Token != "") || (pe.Token != "" && toks[pe.Pos] != pe.Token) {
				t.Errorf("Token %q does not match position %d of %q", pe.Token, pe.Pos, toks)
			}
			if err.Error() != tt.msg {
				t.Errorf("error:\n have %s\n want %s\n(%s)", err, tt.msg, tt.reason)
			}
		})
	}
}

// TestParseRNN: Parse, the CNN parser, refuses a cell at its tag and points
// at ParseCell; so do the spaces' ParseArch.
func TestParseRNN(t *testing.T) {
	want := `onnxgen: token 0 "rnn:": architecture kind "rnn" is a recurrent cell, not a CNN (ParseCell reads cells; want a CNN string, which has no kind tag)`
	for _, name := range CellNames() {
		c, _ := CellByName(name)
		if _, err := Parse(c.String()); err == nil || err.Error() != want {
			t.Errorf("Parse(%s) error %v, want %s", name, err, want)
		}
		if _, err := SpaceV3.ParseArch(c.String()); err == nil || err.Error() != want {
			t.Errorf("SpaceV3.ParseArch(%s) error %v, want %s", name, err, want)
		}
	}
}

// TestKindOfWhitespace: the tag is the first token under any Unicode
// whitespace, as the parsers split it.
func TestKindOfWhitespace(t *testing.T) {
	for _, c := range []struct {
		s    string
		want Kind
		ok   bool
	}{
		{"\u00a0rnn:\u2003base8", KindRNN, true},
		{"kh3\tx:y f3", KindCNN, true}, // the colon is in the second token
		{"kh3\u00a0kw3 f3", KindCNN, true},
		{"\n\tgru:\tbase8", "gru", false},
		{"", KindCNN, true},
	} {
		if k, ok := KindOf(c.s); k != c.want || ok != c.ok {
			t.Errorf("KindOf(%q) = %q, %v; want %q, %v", c.s, k, ok, c.want, c.ok)
		}
	}
}

func TestCellValidate(t *testing.T) {
	lstm, _ := CellByName("lstm")
	with := func(f func(c *Cell)) Cell {
		c, _ := CellByName("lstm")
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		c      Cell
		msg    string
		reason string
	}{
		{"lstm", lstm, "", "a named cell is valid"},
		{"zero", Cell{}, "onnxgen: cell: base 0 (want 2, 4 or 8)", "the zero Cell has no base"},
		{"base 16", with(func(c *Cell) { c.Base = 16 }), "onnxgen: cell: base 16 (want 2, 4 or 8)", "the bases of the language"},
		{"nodes", with(func(c *Cell) { c.Nodes = c.Nodes[:14] }), "onnxgen: cell: 14 nodes (want 15 for base 8: base 8 has levels of 8, 4, 2, 1 nodes)", "2B-1 nodes"},
		{"one node", Cell{Base: 2, Nodes: make([]CellNode, 1)}, "onnxgen: cell: 1 node (want 3 for base 2: base 2 has levels of 2, 1 nodes)", "2B-1 nodes"},
		{"comb", with(func(c *Cell) { c.Nodes[3].Comb = 2 }), "onnxgen: cell: node 3: combination 2 is not add (0) or mul (1)", "enum range"},
		{"act", with(func(c *Cell) { c.Nodes[14].Act = -1 }), "onnxgen: cell: node 14: activation -1 is not identity (0), tanh (1), sigmoid (2) or relu (3)", "enum range"},
		{"inject comb", with(func(c *Cell) { c.Inject.Comb = -1 }), "onnxgen: cell: inject: combination -1 is not add (0) or mul (1)", "the inject's enums"},
		{"inject act", with(func(c *Cell) { c.Inject.Act = 4 }), "onnxgen: cell: inject: activation 4 is not identity (0), tanh (1), sigmoid (2) or relu (3)", "the inject's enums"},
		{"inject at", with(func(c *Cell) { c.InjectAt = 15 }), "onnxgen: cell: inject node 15 out of range (want 0..14)", "a node of the tree"},
		{"inject at negative", with(func(c *Cell) { c.InjectAt = -1 }), "onnxgen: cell: inject node -1 out of range (want 0..14)", "a node of the tree"},
		{"cell from", with(func(c *Cell) { c.CellFrom = 15 }), "onnxgen: cell: c_t node 15 out of range (want 0..14)", "a node of the tree"},
		{"root and leaf", with(func(c *Cell) { c.InjectAt, c.CellFrom = 14, 0 }), "", "any node: the inject at the root, c_t from a leaf"},
		{"same node", with(func(c *Cell) { c.InjectAt, c.CellFrom = 5, 5 }), "", "the inject and c_t at one node"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if got := cellErrString(err); got != tt.msg {
				t.Errorf("Validate:\n have %s\n want %s\n(%s)", got, tt.msg, tt.reason)
			}
			s := tt.c.String() // never panics
			back, perr := ParseCell(s)
			if (err == nil) != (perr == nil) {
				t.Errorf("Validate error %v but ParseCell(String()) = %q error %v", err, s, perr)
			}
			if err == nil {
				if d := cmp.Diff(tt.c, back); d != "" {
					t.Errorf("ParseCell(String(c)) != c (-want +got):\n%s", d)
				}
			}
		})
	}
}

func cellErrString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestCellStringInvalid: String writes what it has, without panicking.
func TestCellStringInvalid(t *testing.T) {
	for _, tt := range []struct {
		c    Cell
		want string
	}{
		{Cell{}, "rnn: base0 | inject add identity at0 c0"},
		{Cell{Base: 3, Nodes: cellNodesOf("add tanh mul relu")}, "rnn: base3 | add tanh mul relu | inject add identity at0 c0"},
		{Cell{Base: 2, Nodes: cellNodesOf("add tanh mul relu add tanh add tanh"), Inject: CellNode{5, -2}, InjectAt: -1, CellFrom: 9},
			"rnn: base2 | add tanh mul relu | add tanh | add tanh | inject Comb(5) Act(-2) at-1 c9"},
		{Cell{Base: 4, Nodes: cellNodesOf("add tanh mul relu add tanh")}, "rnn: base4 | add tanh mul relu add tanh | inject add identity at0 c0"},
	} {
		if s := tt.c.String(); s != tt.want {
			t.Errorf("String = %q, want %q", s, tt.want)
		}
	}
}

func TestCellSpace(t *testing.T) {
	if d := cmp.Diff([]string{"cell8", "cell4", "cell2"}, CellSpaceNames()); d != "" {
		t.Errorf("CellSpaceNames (-want +got):\n%s", d)
	}
	if _, err := CellSpaceByName("cell16"); err == nil || err.Error() != `onnxgen: unknown cell space "cell16" (want cell8, cell4, cell2)` {
		t.Errorf("CellSpaceByName(cell16) error %v", err)
	}
	for _, name := range CellSpaceNames() {
		t.Run(name, func(t *testing.T) {
			s, err := CellSpaceByName(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name() != name || s.Validate() != nil {
				t.Fatalf("%s: Name %q, Validate %v", name, s.Name(), s.Validate())
			}
			ds := s.Decisions()
			n := 2*s.Base - 1
			if len(ds) != 4*s.Base+2 {
				t.Fatalf("%d decisions, want 4·Base+2 = %d", len(ds), 4*s.Base+2)
			}
			nodeTokens := make([]string, n)
			for k := range nodeTokens {
				nodeTokens[k] = strconv.Itoa(k)
			}
			for k := range n {
				if ds[2*k].Name != "n"+nodeTokens[k]+".comb" || !cmp.Equal(ds[2*k].Tokens, []string{"add", "mul"}) {
					t.Errorf("decision %d = %+v", 2*k, ds[2*k])
				}
				if ds[2*k+1].Name != "n"+nodeTokens[k]+".act" || !cmp.Equal(ds[2*k+1].Tokens, []string{"identity", "tanh", "sigmoid", "relu"}) {
					t.Errorf("decision %d = %+v", 2*k+1, ds[2*k+1])
				}
			}
			tail := []Decision{
				{"inject.comb", []string{"add", "mul"}},
				{"inject.act", []string{"identity", "tanh", "sigmoid", "relu"}},
				{"inject.at", nodeTokens},
				{"cell.from", nodeTokens},
			}
			if d := cmp.Diff(tail, ds[2*n:]); d != "" {
				t.Errorf("last decisions (-want +got):\n%s", d)
			}
			// Every vector whose entries are all k (clamped to the
			// decision) is a cell, and Choices inverts Cell.
			for k := range n {
				v := make([]int, len(ds))
				for i, d := range ds {
					v[i] = min(k, len(d.Tokens)-1)
				}
				c, err := s.Cell(v)
				if err != nil {
					t.Fatalf("Cell(%v): %v", v, err)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("Cell(%v) is invalid: %v", v, err)
				}
				back, err := s.Choices(c)
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(v, back); d != "" {
					t.Errorf("Choices(Cell(v)) != v (-want +got):\n%s", d)
				}
				if c2, err := s.ParseCell(c.String()); err != nil || !cmp.Equal(c, c2) {
					t.Errorf("ParseCell(%q) = %v, %v", c.String(), c2, err)
				}
			}
		})
	}
}

func TestCellSpaceChoices(t *testing.T) {
	s := CellSpace{Base: 8}
	lstm, _ := CellByName("lstm")
	v, err := s.Choices(lstm)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{
		0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // leaves: add sigmoid, add tanh, add identity ×6
		1, 0, 0, 2, 0, 0, 0, 0, // mul identity, add sigmoid, add identity ×2
		0, 1, 0, 2, // add tanh, add sigmoid
		1, 0, // mul identity
		1, 0, 9, 12, // inject mul identity at9 c12
	}
	if d := cmp.Diff(want, v); d != "" {
		t.Errorf("Choices(lstm) (-want +got):\n%s", d)
	}
	bad := func(f func(v []int) []int) []int { return f(append([]int(nil), want...)) }
	for _, tt := range []struct {
		name string
		s    CellSpace
		v    []int
		msg  string
	}{
		{"short", s, want[:33], "onnxgen: cell space cell8: 33 choices (want 34: 15 nodes × comb, act, then inject comb, act, at and cell from)"},
		{"long", s, append(bad(func(v []int) []int { return v }), 0), "onnxgen: cell space cell8: 35 choices (want 34: 15 nodes × comb, act, then inject comb, act, at and cell from)"},
		{"comb", s, bad(func(v []int) []int { v[4] = 2; return v }), "onnxgen: cell space cell8: choice 4 (n2.comb) is 2 (want 0..1)"},
		{"act", s, bad(func(v []int) []int { v[29] = 4; return v }), "onnxgen: cell space cell8: choice 29 (n14.act) is 4 (want 0..3)"},
		{"negative", s, bad(func(v []int) []int { v[0] = -1; return v }), "onnxgen: cell space cell8: choice 0 (n0.comb) is -1 (want 0..1)"},
		{"at", s, bad(func(v []int) []int { v[32] = 15; return v }), "onnxgen: cell space cell8: choice 32 (inject.at) is 15 (want 0..14)"},
		{"from", s, bad(func(v []int) []int { v[33] = 15; return v }), "onnxgen: cell space cell8: choice 33 (cell.from) is 15 (want 0..14)"},
		{"invalid space", CellSpace{Base: 3}, want, "onnxgen: cell space: base 3 (want 2, 4 or 8)"},
	} {
		if _, err := tt.s.Cell(tt.v); cellErrString(err) != tt.msg {
			t.Errorf("%s: Cell error\n have %v\n want %s", tt.name, err, tt.msg)
		}
	}
	if _, err := (CellSpace{Base: 4}).Choices(lstm); cellErrString(err) != "onnxgen: cell: base 8 not in cell space cell4 (want 4)" {
		t.Errorf("Choices of a base-8 cell in cell4: %v", err)
	}
	if _, err := s.Choices(Cell{Base: 8}); cellErrString(err) != "onnxgen: cell: 0 nodes (want 15 for base 8: base 8 has levels of 8, 4, 2, 1 nodes)" {
		t.Errorf("Choices of an invalid cell: %v", err)
	}
	if ds := (CellSpace{}).Decisions(); ds != nil {
		t.Errorf("the zero space has decisions %v", ds)
	}
	_, err = (CellSpace{Base: 4}).ParseCell(lstm.String())
	if cellErrString(err) != `onnxgen: token 1 "base8": base 8 not in cell space cell4 (want base4)` {
		t.Errorf("cell4.ParseCell(lstm): %v", err)
	}
	if _, err := (CellSpace{Base: 4}).ParseCell("rnn: base3"); cellErrString(err) != `onnxgen: token 1 "base3": base 3 is not supported (want base2, base4 or base8)` {
		t.Errorf("cell4.ParseCell(base3): %v", err)
	}
}
