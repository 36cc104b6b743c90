package runner_test

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/nas-project/nas/internal/testenv"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/runner"
)

// profileEvent is one event of ONNX Runtime's Chrome-trace profile: a node
// run ("Node", name "<node>_kernel_time", args.op_name) or a whole run
// ("Session", name "model_run"); dur in microseconds.
type profileEvent struct {
	Cat  string `json:"cat"`
	Name string `json:"name"`
	TS   int64  `json:"ts"`
	Dur  int64  `json:"dur"`
	Args struct {
		OpName string `json:"op_name"`
	} `json:"args"`
}

// opShare is the total kernel time of one op type (or one role: a node name
// without its layer prefix, "conv.cols" for l3.conv.cols) over the profiled
// runs.
type opShare struct {
	op    string
	nodes int // node runs
	us    int64
}

// summarise reads an ORT profile and returns, over the runs after the first
// skip (warm-up: ORT plans and faults in its memory on the first runs), the
// kernel time per op type, largest first, the total kernel time, the total
// time of those runs and their number.
func summarise(path string, skip int) (ops, roles []opShare, kernel, runs int64, nRuns int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, 0, 0, 0, err
	}
	var evs []profileEvent
	if err := json.Unmarshal(data, &evs); err != nil {
		return nil, nil, 0, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	var starts []int64
	for _, e := range evs {
		if e.Cat == "Session" && e.Name == "model_run" {
			starts = append(starts, e.TS)
		}
	}
	slices.Sort(starts)
	if len(starts) <= skip {
		return nil, nil, 0, 0, 0, fmt.Errorf("%s: %d model runs, want more than %d", path, len(starts), skip)
	}
	from := starts[skip]
	by, byRole := map[string]*opShare{}, map[string]*opShare{}
	add := func(m map[string]*opShare, key string, us int64) {
		s := m[key]
		if s == nil {
			s = &opShare{op: key}
			m[key] = s
		}
		s.nodes++
		s.us += us
	}
	for _, e := range evs {
		switch {
		case e.TS < from:
		case e.Cat == "Session" && e.Name == "model_run":
			runs += e.Dur
			nRuns++
		case e.Cat == "Node" && strings.HasSuffix(e.Name, "_kernel_time"):
			add(by, e.Args.OpName, e.Dur)
			add(byRole, e.Args.OpName+" "+layerPrefix.ReplaceAllString(strings.TrimSuffix(e.Name, "_kernel_time"), ""), e.Dur)
			kernel += e.Dur
		}
	}
	sorted := func(m map[string]*opShare) []opShare {
		var out []opShare
		for _, s := range m {
			out = append(out, *s)
		}
		slices.SortFunc(out, func(a, b opShare) int { return cmp.Or(cmp.Compare(b.us, a.us), strings.Compare(a.op, b.op)) })
		return out
	}
	return sorted(by), sorted(byRole), kernel, runs, nRuns, nil
}

// layerPrefix is the layer part of a node name ("l12.").
var layerPrefix = regexp.MustCompile(`^l\d+\.`)

// readArchs reads bench/archs.txt ("name: arch" lines).
func readArchs(t testing.TB) map[string]onnxgen.Arch {
	t.Helper()
	f, err := os.Open("../bench/archs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	archs := map[string]onnxgen.Arch{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, s, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("bench/archs.txt: %q is not \"name: arch\"", line)
		}
		a, err := onnxgen.Parse(s)
		if err != nil {
			t.Fatalf("bench/archs.txt %s: %v", name, err)
		}
		archs[strings.TrimSpace(name)] = a
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return archs
}

// TestProfileTrainStep runs training steps of the benchmark architectures
// (batch 64, 3×32×32, 2 threads) under ORT's profiler (Config.ProfilePrefix)
// and checks the profile: one model_run per step (two warm-up runs left out
// of the summary), convolution kernels in it,
// and node kernel time accounting for most of the run time. With -v it logs
// where the step spends its time, per op type. -short profiles A only; the
// full run profiles B and C, the deep ones. NAS_PROFILE_DIR keeps the JSON.
func TestProfileTrainStep(t *testing.T) {
	const batch, warm, steps = 64, 2, 2
	lib := testenv.ORTLibrary(t)
	dir := os.Getenv("NAS_PROFILE_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	// The ORT environment is process-wide; this Runtime shares it and only
	// its sessions profile.
	rt, err := runner.New(runner.Config{LibraryPath: lib, Threads: min(2, runtime.NumCPU()),
		ProfilePrefix: filepath.Join(dir, "nas")})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"B", "C"}
	if testing.Short() {
		names = []string{"A"}
	}
	archs := readArchs(t)
	in := onnxgen.Input{C: 3, H: 32, W: 32}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			a := archs[name]
			opts := onnxgen.TrainOptions{Options: onnxgen.Options{Seed: 1}, Momentum: 0.9, WeightDecay: 1e-4}
			net, err := onnxgen.CompileNet(a, in, 10, opts)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := filepath.Glob(filepath.Join(dir, "nas*.json"))
			step, _, free, err := rt.StepForTest(net, blobs(1, batch, in.C, in.H, in.W, 10), batch, 0.01)
			if err != nil {
				t.Fatal(err)
			}
			for range warm + steps {
				if err := step(); err != nil {
					free()
					t.Fatal(err)
				}
			}
			free() // the profile is written when the session closes
			after, _ := filepath.Glob(filepath.Join(dir, "nas*.json"))
			var added []string
			for _, p := range after {
				if !slices.Contains(before, p) {
					added = append(added, p)
				}
			}
			if len(added) != 1 {
				t.Fatalf("profiles written by one session: %q, want one", added)
			}
			ops, roles, kernel, runs, nRuns, err := summarise(added[0], warm)
			if err != nil {
				t.Fatal(err)
			}
			if nRuns != steps {
				t.Fatalf("profile has %d model runs, want %d", nRuns, steps)
			}
			i := slices.IndexFunc(ops, func(s opShare) bool { return s.op == "Conv" })
			if i < 0 {
				t.Fatalf("profile has no Conv kernel: %v", ops)
			}
			if kernel > runs || kernel < runs/2 {
				t.Errorf("node kernels take %d µs of %d µs run time: want at most all of it, at least half", kernel, runs)
			}
			var sb strings.Builder
			fmt.Fprintf(&sb, "arch %s: %.1f ms per step (profiled), %.1f ms in kernels\n", name,
				float64(runs)/float64(steps)/1e3, float64(kernel)/float64(steps)/1e3)
			fmt.Fprintf(&sb, "%-24s %6s %10s %7s\n", "op type", "nodes", "ms/step", "share")
			for _, s := range ops {
				fmt.Fprintf(&sb, "%-24s %6d %10.2f %6.1f%%\n", s.op, s.nodes/steps,
					float64(s.us)/float64(steps)/1e3, 100*float64(s.us)/float64(runs))
			}
			fmt.Fprintf(&sb, "\n%-44s %6s %10s %7s\n", "op type and role (top 10)", "nodes", "ms/step", "share")
			for _, s := range roles[:min(10, len(roles))] {
				fmt.Fprintf(&sb, "%-44s %6d %10.2f %6.1f%%\n", s.op, s.nodes/steps,
					float64(s.us)/float64(steps)/1e3, 100*float64(s.us)/float64(runs))
			}
			t.Log("\n" + sb.String())
		})
	}
}
