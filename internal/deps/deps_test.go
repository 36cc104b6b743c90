// Package deps holds no code: its test writes down the allowed import
// directions of nas (like go/build's deps_test.go) and checks them with
// `go list`.
package deps

import (
	"encoding/json"
	"io"
	"os/exec"
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

// cgoAllowed: the packages that may depend on onnxruntime_go: runner, the
// in-process evaluator that wires it into search, and the command.
func cgoAllowed(rel string) bool {
	return rel == "runner" || rel == "internal/localeval" || strings.HasPrefix(rel, "cmd/")
}

// TestImportDirections checks the rules of DESIGN.md: controller, onnxgen and
// runner are leaves that never import each other (nor search or cmd); only
// controller imports gorgonia; only runner imports onnxruntime_go (cgo), so
// everything but runner and the command that wires it builds without cgo.
func TestImportDirections(t *testing.T) {
	pkgs := listPackages(t)
	leaves := []string{"controller", "onnxgen", "runner"}
	forbiddenFor := map[string][]string{
		"controller": {"onnxgen", "runner", "search", "cmd"},
		"onnxgen":    {"controller", "runner", "search", "cmd"},
		"runner":     {"controller", "onnxgen", "search", "cmd"},
		"search":     {"runner", "cmd"},
		// viz draws plain data (an Arch, points): it knows nothing of how
		// they were made.
		"internal/viz": {"runner", "search", "controller", "cmd"},
		// modelfile reads a model's signature and metadata: onnxgen's
		// types only.
		"internal/modelfile": {"runner", "search", "controller", "cmd"},
		// serve reads run directories (search, read-only), draws with viz
		// and reads models with modelfile; it never trains (no runner, no
		// localeval), so it builds without cgo.
		"internal/serve": {"runner", "internal/localeval", "cmd"},
	}
	for rel, p := range pkgs {
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, module+"/") {
				continue
			}
			drel := strings.TrimPrefix(d, module+"/")
			for owner, bad := range forbiddenFor {
				if rel != owner && !strings.HasPrefix(rel, owner+"/") {
					continue
				}
				for _, b := range bad {
					if drel == b || strings.HasPrefix(drel, b+"/") {
						t.Errorf("%s depends on %s: %s must not depend on %s", rel, drel, owner, b)
					}
				}
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
	for _, l := range leaves {
		if _, ok := pkgs[l]; !ok {
			t.Errorf("package %s is missing from the module", l)
		}
	}
}
