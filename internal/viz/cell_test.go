package viz

import (
	"strconv"
	"strings"
	"testing"

	"github.com/nas-project/nas/onnxgen"
)

// TestCellDot: the drawing of each named cell has its every node with its
// choices, the tree's edges, the inject and c_t edges, and nothing else.
func TestCellDot(t *testing.T) {
	for _, name := range onnxgen.CellNames() {
		c, _ := onnxgen.CellByName(name)
		dot, err := CellDot(c, name)
		if err != nil {
			t.Fatal(err)
		}
		edges := strings.Count(dot, " -> ")
		// 2 inputs per leaf, 2 children per inner node, root → h_t, the inject, c_t.
		if want := 2*c.Base + 2*(c.Base-1) + 3; edges != want {
			t.Errorf("%s: %d edges, want %d", name, edges, want)
		}
		for k, n := range c.Nodes {
			label := nodeLabel(n)
			if !strings.Contains(dot, quote(strings.Join([]string{strconv.Itoa(k), label}, ": "))) {
				t.Errorf("%s: node %d (%s) not drawn", name, k, label)
			}
		}
		for _, want := range []string{"digraph cell {", "cprev -> n" + strconv.Itoa(c.InjectAt) + " ", "n" + strconv.Itoa(c.CellFrom) + " -> cnext", "n" + strconv.Itoa(len(c.Nodes)-1) + " -> out"} {
			if !strings.Contains(dot, want) {
				t.Errorf("%s: no %q in\n%s", name, want, dot)
			}
		}
	}
	if _, err := CellDot(onnxgen.Cell{Base: 3}, ""); err == nil {
		t.Error("a cell of base 3: no error")
	}
}
