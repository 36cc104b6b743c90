package search

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nas-project/nas/internal/atomicfile"
	"github.com/nas-project/nas/onnxgen"
)

// TestKilledTwice: a child that kills the search's process (as the OOM
// killer does) is tried again once after a resume; when it kills the
// process a second time, the next resume records it failed, with that
// reason, and the search goes on to the end of its budget. Every other
// trial is what a search whose evaluator reported that child failed
// records (identical later proposals reuse the crash, as duplicates).
//
// Two deaths: SIGKILL (what the kernel's OOM killer sends) and a child that
// really allocates past a memory limit (an address-space limit on the
// helper process), of which the Go runtime dies.
func TestKilledTwice(t *testing.T) {
	for _, how := range []string{"sigkill", "allocation"} {
		t.Run(how, func(t *testing.T) { killedTwice(t, how) })
	}
}

func killedTwice(t *testing.T, how string) {
	o := testOptions(StrategyRL, 24)
	o.Parallel = 1
	o.Controller.LR = 0.01
	// The architecture of trial 5 (iteration 1) does not depend on how it ends.
	probe := t.TempDir()
	runSearch(t, probe, o, newFake(), nil)
	hog := readTrials(t, probe)[5].Arch

	ref := t.TempDir()
	fake := newFake()
	fake.fail = func(a onnxgen.Arch) (Status, error) {
		if onnxgen.Format(a) == hog {
			return Failed, nil
		}
		return Done, nil
	}
	runSearch(t, ref, o, fake, nil)

	dir := t.TempDir()
	kills := 0
	for k := 0; ; k++ {
		if k > 8 {
			t.Fatalf("still killed after %d runs", k)
		}
		spec := helperSpec{Dir: dir, Resume: k > 0, Options: o, KillArch: hog}
		if how == "allocation" {
			spec = helperSpec{Dir: dir, Resume: k > 0, Options: o, AllocArch: hog}
		}
		cmd := helper(t, spec)
		err := cmd.Wait()
		if err == nil {
			break
		}
		if how == "allocation" {
			out := cmd.Stderr.(*bytes.Buffer).String()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.ExitStatus() != 2 || !strings.Contains(out, "fatal error: out of memory") {
				t.Fatalf("hog: helper ended with %v, want the Go runtime's out-of-memory death (exit status 2); its stderr:\n%.2000s", err, out)
			}
		} else {
			wantKilled(t, cmd, "hog")
		}
		kills++
	}
	w, g := readTrials(t, ref), readTrials(t, dir)
	if len(g) != len(w) {
		t.Fatalf("%d trials, want %d", len(g), len(w))
	}
	first := -1
	for i := range w {
		a, b := w[i], g[i]
		if a.Arch != hog {
			if a.Arch != b.Arch || a.Status != b.Status || a.Reward != b.Reward || a.DupOf != b.DupOf {
				t.Errorf("trial %d: got %s %s %v dup %d, want %s %s %v dup %d", i, b.Arch, b.Status, b.Reward, b.DupOf, a.Arch, a.Status, a.Reward, a.DupOf)
			}
			if b.Attempts > 1 {
				t.Errorf("trial %d: %d attempts, want at most 1", i, b.Attempts)
			}
			continue
		}
		if b.Arch != hog || b.Reward != a.Reward {
			t.Errorf("trial %d: got %s reward %v, want %s %v", i, b.Arch, b.Reward, hog, a.Reward)
		}
		if first < 0 {
			first = i
			if b.Status != Failed || b.Error != crashReason || b.Attempts != 2 {
				t.Errorf("trial %d: %s %q after %d attempts, want failed %q after 2", i, b.Status, b.Error, b.Attempts, crashReason)
			}
			continue
		}
		if b.Status != Duplicate || b.DupOf != first {
			t.Errorf("trial %d: %s dup %d, want a duplicate of the crashed trial %d", i, b.Status, b.DupOf, first)
		}
	}
	if first != 5 || kills != 2 {
		t.Errorf("first crash at trial %d after %d kills, want trial 5 after 2", first, kills)
	}
}

// TestCancelledNotCounted: a trial interrupted by cancellation (Ctrl-C) is
// not counted as an attempt that killed the process: cancelled twice, it
// is still evaluated when the run is resumed.
func TestCancelledNotCounted(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(StrategyRandom, 8)
	o.Parallel = 2
	for k := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		ev := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
			if tr.Index == 5 {
				cancel()
				<-ctx.Done()
				return Outcome{}, ctx.Err()
			}
			return newFake().Evaluate(ctx, tr)
		})
		_, err := Run(ctx, Config{Dir: dir, Resume: k > 0, Options: o, Evaluator: ev})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v, want cancelled", k, err)
		}
		for _, r := range readTrials(t, dir) {
			if r.Status == Running && r.Attempts != 0 {
				t.Errorf("run %d: trial %d running with %d attempts, want 0", k, r.Index, r.Attempts)
			}
		}
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	for _, r := range readTrials(t, dir) {
		if r.Status == Running || r.Error == crashReason {
			t.Errorf("trial %d: %s %q", r.Index, r.Status, r.Error)
		}
	}
}

// exec runs SQL statements on a run's database (as a damaged or older
// directory would have it).
func execSQL(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestVersion2Continued: a database of schema version 2 (no attempts, no
// model checksum) is read, and resumed: its interrupted trial is evaluated
// again, the columns are added, the version becomes 3, and the run ends as
// one never interrupted.
func TestVersion2Continued(t *testing.T) {
	o := testOptions(StrategyEvolution, 16)
	o.Population, o.Tournament = 4, 2
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	dir := t.TempDir()
	o8 := o
	o8.Trials = 8
	runSearch(t, dir, o8, newFake(), nil)
	execSQL(t, dir, `UPDATE trial SET status = 'running', reward = NULL WHERE idx = 7`,
		`ALTER TABLE trial DROP COLUMN attempts`, `ALTER TABLE best_model DROP COLUMN sha256`, `UPDATE run SET version = 2`)
	if _, recs, err := ReadRun(dir); err != nil || len(recs) != 8 || recs[7].Status != Running {
		t.Fatalf("version 2: %d trials, %v", len(recs), err)
	}
	if _, _, err := ReadBestModel(dir); err != nil {
		t.Fatalf("version 2: best model: %v", err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16}, Evaluator: newFake()}); err != nil {
		t.Fatal(err)
	}
	compareRuns(t, ref, dir)
	st, err := ReadRunState(dir)
	if err != nil {
		t.Fatal(err)
	}
	model, _ := os.ReadFile(filepath.Join(dir, BestFile))
	if st.BestSum == "" || st.BestSum != ModelSum(model) {
		t.Errorf("best model checksum %q, best.onnx's %q", st.BestSum, ModelSum(model))
	}
	if st.Trials[7].Attempts != 2 {
		t.Errorf("trial 7: %d attempts, want 2 (the interrupted one and the resumed one)", st.Trials[7].Attempts)
	}
	var v int
	db, _ := sql.Open("sqlite", filepath.Join(dir, DBFile))
	defer db.Close()
	if err := db.QueryRow(`SELECT version FROM run`).Scan(&v); err != nil || v != SchemaVersion {
		t.Errorf("version %d (%v), want %d", v, err, SchemaVersion)
	}
}

// TestBestModelChecksum: the best model is stored with its sha256. A
// damaged blob is never copied over best.onnx: resume restores the blob
// from a best.onnx that matches the checksum, and refuses (changing
// nothing) when neither matches; ReadBestModel reports the damage.
func TestBestModelChecksum(t *testing.T) {
	dir := t.TempDir()
	runSearch(t, dir, testOptions(StrategyRandom, 8), newFake(), nil)
	good, err := os.ReadFile(filepath.Join(dir, BestFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, m, err := ReadBestModel(dir); err != nil || string(m) != string(good) {
		t.Fatalf("ReadBestModel: %q, %v; want best.onnx's bytes", m, err)
	}
	execSQL(t, dir, `UPDATE best_model SET onnx = X'00112233'`)
	if _, _, err := ReadBestModel(dir); !errors.Is(err, ErrModelChecksum) {
		t.Errorf("ReadBestModel of a damaged blob: %v, want ErrModelChecksum", err)
	}
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()}); err != nil {
		t.Fatalf("resume with an intact best.onnx: %v", err)
	}
	if _, m, err := ReadBestModel(dir); err != nil || string(m) != string(good) {
		t.Errorf("after resume: best model %q, %v; want restored from best.onnx", m, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != string(good) {
		t.Errorf("best.onnx = %q, want it unchanged", b)
	}
	// Both damaged: refused, nothing changed.
	execSQL(t, dir, `UPDATE best_model SET onnx = X'00112233'`)
	if err := os.WriteFile(filepath.Join(dir, BestFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 12}, Evaluator: newFake()})
	if !errors.Is(err, ErrInconsistent) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("resume with both damaged: %v, want an inconsistency naming the checksum", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, BestFile)); string(b) != "garbage" {
		t.Errorf("best.onnx = %q, want it untouched", b)
	}
	if o, _, _ := ReadRun(dir); o.Trials != 8 {
		t.Errorf("stored budget %d after a refused resume, want 8 (unchanged)", o.Trials)
	}
}

// TestNewRunDirectory: a run exists only once its row is committed. A
// nas.db without one (an empty file, a schema without a run, as a kill
// during creation left them before) is replaced by a new run and refused by
// a resume; a run's file without a run, or a foreign nas.db, is refused
// with the file named, and the directory is left as it was; the temporary
// database of a creation killed midway is removed.
func TestNewRunDirectory(t *testing.T) {
	o := testOptions(StrategyRandom, 4)
	newRun := func(dir string) error {
		_, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: newFake()})
		return err
	}
	resume := func(dir string) error {
		_, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: newFake()})
		return err
	}
	t.Run("empty nas.db", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, DBFile), nil, 0o644)
		if err := resume(dir); err == nil || !strings.Contains(err.Error(), "no run recorded") {
			t.Errorf("resume: %v, want no run recorded", err)
		}
		if fi, _ := os.Stat(filepath.Join(dir, DBFile)); fi.Size() != 0 {
			t.Errorf("resume wrote %d bytes into the empty nas.db", fi.Size())
		}
		if err := CheckNewRunDir(dir); err != nil {
			t.Errorf("CheckNewRunDir: %v", err)
		}
		if err := newRun(dir); err != nil {
			t.Fatalf("new run over an empty nas.db: %v", err)
		}
		if len(readTrials(t, dir)) != 4 {
			t.Errorf("want 4 trials")
		}
	})
	t.Run("schema without a run", func(t *testing.T) {
		dir := t.TempDir()
		execSQL(t, dir, schema)
		if err := newRun(dir); err != nil {
			t.Fatalf("new run over a schema without a run: %v", err)
		}
	})
	for _, c := range []struct {
		name, file, want string
		make             func(path string)
	}{
		{"checkpoint", CheckpointFile, "holds controller.ckpt but no run", func(p string) { os.WriteFile(p, []byte("ckpt"), 0o644) }},
		{"best model", BestFile, "holds best.onnx but no run", func(p string) { os.WriteFile(p, []byte("onnx"), 0o644) }},
		{"foreign database", DBFile, "is not a run database", func(p string) {
			db, _ := sql.Open("sqlite", p)
			db.Exec(`CREATE TABLE notes (x)`)
			db.Close()
		}},
		{"not SQLite", DBFile, "is not a run database", func(p string) { os.WriteFile(p, []byte(strings.Repeat("not a database ", 300)), 0o644) }},
		{"trials without a run", DBFile, "holds trials but no run", func(p string) {
			db, _ := sql.Open("sqlite", p)
			db.Exec(schema)
			db.Exec(`INSERT INTO trial (idx, iteration, arch, layers, strategy, status, seed) VALUES (0, 0, 'x', 1, 'rl', 'done', 1)`)
			db.Close()
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.make(filepath.Join(dir, c.file))
			before := files(t, dir)
			data, _ := os.ReadFile(filepath.Join(dir, c.file))
			err := newRun(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "move it away") {
				t.Errorf("new run: %v, want %q and what to do", err, c.want)
			}
			if err := CheckNewRunDir(dir); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("CheckNewRunDir: %v", err)
			}
			if after := files(t, dir); !slices.Equal(before, after) {
				t.Errorf("files %v after the refusal, want %v", after, before)
			}
			if now, _ := os.ReadFile(filepath.Join(dir, c.file)); string(now) != string(data) {
				t.Errorf("%s changed", c.file)
			}
		})
	}
	t.Run("killed during creation", func(t *testing.T) {
		dir := t.TempDir()
		// What a kill between the temporary database and its rename leaves.
		os.WriteFile(filepath.Join(dir, "."+DBFile+".tmp-123"), []byte("partial"), 0o644)
		os.WriteFile(filepath.Join(dir, "."+DBFile+".tmp-123-journal"), []byte("partial"), 0o644)
		if err := resume(dir); err == nil || !strings.Contains(err.Error(), "is not a run directory") {
			t.Errorf("resume: %v, want not a run directory", err)
		}
		if err := newRun(dir); err != nil {
			t.Fatal(err)
		}
		for _, n := range files(t, dir) {
			if atomicfile.IsTemp(n) {
				t.Errorf("%s left behind", n)
			}
		}
	})
}

// TestResumeChecksFirst: a resume that finds the directory inconsistent (a
// stray "running" row before the iteration the controller continues from)
// refuses it without changing it: the row, the stored budget and the
// database stay as they were, so the directory can be repaired.
func TestResumeChecksFirst(t *testing.T) {
	dir := t.TempDir()
	runSearch(t, dir, testOptions(StrategyRL, 8), newFake(), nil)
	execSQL(t, dir, `UPDATE trial SET status = 'running', attempts = 1 WHERE idx = 2`)
	before := readTrials(t, dir)
	for range 2 {
		_, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 12}, Evaluator: newFake()})
		if !errors.Is(err, ErrInconsistent) {
			t.Fatalf("resume: %v, want ErrInconsistent", err)
		}
	}
	after := readTrials(t, dir)
	if len(after) != len(before) || after[2].Status != Running || after[2].Attempts != 1 {
		t.Errorf("trials after the refused resumes: %d rows, trial 2 %s with %d attempts; want them unchanged", len(after), after[2].Status, after[2].Attempts)
	}
	if o, _, _ := ReadRun(dir); o.Trials != 8 {
		t.Errorf("stored budget %d, want 8 (unchanged)", o.Trials)
	}
}

// TestNoLitterAfterKills: a search SIGKILLed again and again at moments
// chosen by the clock, while it writes best.onnx (4 MB models) and the
// controller checkpoint, leaves at most the temporaries of the write the
// last kill interrupted, and a resume removes them: the finished directory
// holds the run's files and nothing else.
func TestNoLitterAfterKills(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a helper process 16 times")
	}
	dir := t.TempDir()
	o := testOptions(StrategyRL, 64)
	o.Parallel = 2
	h := helperSpec{Dir: dir, Options: o, SleepMS: 1, ModelBytes: 4 << 20}
	interrupted := 0 // kills that left a temporary file
	for k := range 16 {
		_, err := os.Stat(filepath.Join(dir, DBFile))
		h.Resume = err == nil // the first kills may come before the run is created
		cmd := helper(t, h)
		time.Sleep(time.Duration(40+k*17%60) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		var temps []string
		for _, n := range files(t, dir) {
			if atomicfile.IsTemp(n) {
				temps = append(temps, n)
			}
		}
		if len(temps) > 0 {
			t.Logf("after kill %d: %v", k, temps)
			interrupted++
		}
		if len(temps) > 2 { // one best.onnx and one checkpoint write at most
			t.Errorf("after kill %d: temporaries %v", k, temps)
		}
	}
	h.Resume = true
	if err := helper(t, h).Wait(); err != nil {
		t.Fatalf("final resume: %v", err)
	}
	if n := len(readTrials(t, dir)); n != 64 {
		t.Errorf("%d trials, want 64", n)
	}
	t.Logf("%d of 16 kills interrupted a write", interrupted)
	for _, n := range files(t, dir) {
		switch n {
		case DBFile, DBFile + "-wal", DBFile + "-shm", BestFile, CheckpointFile:
		default:
			t.Errorf("%s left in the run directory", n)
		}
	}
}

// TestVersion3Continued: a database of schema version 3 (no worker column)
// is read (every trial's worker empty) and resumed: the column is added,
// the version becomes 4, and the run ends as one never interrupted; a
// worker the evaluator names is recorded in the trial's row.
func TestVersion3Continued(t *testing.T) {
	o := testOptions(StrategyRandom, 16)
	ref := t.TempDir()
	runSearch(t, ref, o, newFake(), nil)
	dir := t.TempDir()
	o8 := o
	o8.Trials = 8
	runSearch(t, dir, o8, newFake(), nil)
	execSQL(t, dir, `ALTER TABLE trial DROP COLUMN worker`, `UPDATE run SET version = 3`)
	if _, recs, err := ReadRun(dir); err != nil || len(recs) != 8 || recs[0].Worker != "" {
		t.Fatalf("version 3: %d trials, %v", len(recs), err)
	}
	fake := newFake()
	named := EvaluatorFunc(func(ctx context.Context, tr Trial) (Outcome, error) {
		out, err := fake.Evaluate(ctx, tr)
		out.Worker = "w1"
		return out, err
	})
	if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Options: Options{Trials: 16}, Evaluator: named}); err != nil {
		t.Fatal(err)
	}
	compareRuns(t, ref, dir)
	_, recs, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if want := map[bool]string{true: "", false: "w1"}[r.Index < 8 || r.Status == Duplicate]; r.Worker != want {
			t.Errorf("trial %d (%s): worker %q, want %q", r.Index, r.Status, r.Worker, want)
		}
	}
	var v int
	db, _ := sql.Open("sqlite", filepath.Join(dir, DBFile))
	defer db.Close()
	if err := db.QueryRow(`SELECT version FROM run`).Scan(&v); err != nil || v != SchemaVersion {
		t.Errorf("version %d (%v), want %d", v, err, SchemaVersion)
	}
}

// isolatedFake is the fake evaluator, declaring its children isolated from
// the search's process (as the workers' evaluator does).
type isolatedFake struct{ *fakeEval }

func (isolatedFake) Isolated() bool { return true }

// TestIsolatedNotBlamed: a trial found running with maxAttempts attempts is
// recorded crashed by an in-process search's resume, but trained by a
// search whose evaluator is Isolated (its children cannot have killed the
// search's process).
func TestIsolatedNotBlamed(t *testing.T) {
	o := testOptions(StrategyRandom, 8)
	for _, c := range []struct {
		name string
		ev   Evaluator
		want Status
	}{{"in process", newFake(), Failed}, {"isolated", isolatedFake{newFake()}, Done}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			runSearch(t, dir, o, newFake(), nil)
			db, err := sql.Open("sqlite", filepath.Join(dir, DBFile))
			if err != nil {
				t.Fatal(err)
			}
			_, err = db.Exec(`UPDATE trial SET status = 'running', attempts = ? WHERE idx = 5`, maxAttempts)
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Run(context.Background(), Config{Dir: dir, Resume: true, Evaluator: c.ev}); err != nil {
				t.Fatal(err)
			}
			r := readTrials(t, dir)[5]
			if r.Status != c.want || (c.want == Failed) != (r.Error == crashReason) {
				t.Errorf("trial 5 after the resume: %s %q, want %s", r.Status, r.Error, c.want)
			}
		})
	}
}
