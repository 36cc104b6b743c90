// Package deps holds no code: its test writes down the allowed import
// directions of nas (like go/build's deps_test.go) and checks them with
// `go list`.
package deps

import (
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/nas-project/nas"

type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

// allowed lists, for every package of nas, the packages of nas it may
// import directly: the design's import arrows, written out (as go/build's
// deps_test does). A package missing here, or an import not listed, fails
// the test until someone decides it and writes it down.
var allowed = map[string][]string{
	// The contract between the compiler and the runner: plain data.
	"internal/child": {},
	// The data directory make data fills, shared by the image and text loaders.
	"internal/dataroot": {},
	// Leaves: the controller sees the space as plain data, the compiler
	// owns the language and describes its graphs through the contract, the
	// runner binds from the contract and knows nothing else of nas.
	"controller":     {"internal/atomicfile"},
	"onnxgen":        {"internal/child", "onnxgen/graph", "onnxgen/onnxpb"},
	"onnxgen/graph":  {"onnxgen/onnxpb"},
	"onnxgen/onnxpb": {},
	"runner":         {"internal/child"},
	// search combines the strategies and the language; it never trains.
	"search": {"controller", "internal/atomicfile", "onnxgen"},
	// Helpers with no nas dependencies of their own, or only the contract.
	"internal/atomicfile":      {},
	"internal/dataset":         {"internal/child", "internal/dataroot"},
	"internal/dataset/gendata": {},
	"internal/testenv":         {},
	// text: corpora and the LM batch source; the runner reads its Stream
	// through the contract's columns.
	"internal/text": {"internal/child", "internal/dataroot"},
	// viz draws plain data (an Arch, points): it knows nothing of how they
	// were made.
	"internal/viz": {"onnxgen"},
	// modelfile reads a model's signature and metadata: onnxgen's types only.
	"internal/modelfile": {"onnxgen", "onnxgen/onnxpb"},
	// serve reads run directories (search, read-only), draws with viz and
	// reads models with modelfile; it never trains (no runner, no
	// localeval), so it builds without cgo.
	"internal/serve": {"internal/modelfile", "internal/viz", "onnxgen", "search"},
	// The in-process evaluator wires the compiler, the runner and the data
	// into search.
	"internal/localeval": {"internal/child", "internal/dataset", "internal/text", "onnxgen", "onnxgen/onnxpb", "runner", "search"},
	// dist carries trials to worker processes through NATS JetStream: it
	// speaks search's types and never trains (workers get an evaluator from
	// cmd/nas), so it builds without cgo.
	"internal/dist": {"search"},
	// Test-only packages.
	"internal/deps":      {},
	"internal/gradcheck": {},
	// The command wires everything.
	"cmd/nas": {"internal/atomicfile", "internal/dataroot", "internal/dataset", "internal/dist", "internal/localeval", "internal/modelfile", "internal/serve", "internal/text", "internal/viz", "onnxgen", "onnxgen/graph", "onnxgen/onnxpb", "runner", "search"},
}

// cgoAllowed: the packages that may depend on onnxruntime_go: runner, the
// in-process evaluator that wires it into search, and the command.
func cgoAllowed(rel string) bool {
	return rel == "runner" || rel == "internal/localeval" || strings.HasPrefix(rel, "cmd/")
}

// TestImportDirections checks the allowlist above (every package listed,
// every nas import of a package allowed), and the rules of DESIGN.md for
// the heavy dependencies: only controller imports gorgonia; only runner
// imports onnxruntime_go (cgo), so everything but runner and what wires it
// builds without cgo.
func TestImportDirections(t *testing.T) {
	pkgs := listPackages(t)
	for rel, p := range pkgs {
		ok, listed := allowed[rel]
		if !listed {
			t.Errorf("package %s is not in the allowlist: add it, with the nas packages it may import", rel)
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			irel := strings.TrimPrefix(imp, module+"/")
			if listed && !slices.Contains(ok, irel) {
				t.Errorf("%s imports %s: not an allowed arrow (the allowlist in internal/deps says %s may import %v)", rel, irel, rel, ok)
			}
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "gorgonia.org/") && rel != "controller" {
				t.Errorf("%s imports %s: only controller may import gorgonia", rel, imp)
			}
			if strings.HasPrefix(imp, "github.com/yalue/onnxruntime_go") && rel != "runner" {
				t.Errorf("%s imports %s: only runner may import onnxruntime_go", rel, imp)
			}
		}
		for _, d := range p.Deps {
			if strings.HasPrefix(d, "github.com/yalue/onnxruntime_go") && !cgoAllowed(rel) {
				t.Errorf("%s depends on onnxruntime_go (cgo) through %v: only runner, what wires it (internal/localeval) and cmd may", rel, p.Imports)
			}
		}
	}
	for rel := range allowed {
		if _, ok := pkgs[rel]; !ok {
			t.Errorf("the allowlist names %s, which is not a package of the module", rel)
		}
	}
}
