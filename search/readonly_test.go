package search

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadOnly: readers never write into a run directory, whatever it
// holds, and see what the search committed.
func TestReadOnly(t *testing.T) {
	t.Run("empty nas.db", func(t *testing.T) {
		// An empty file once got a schema written into it by ReadRun.
		dir := t.TempDir()
		path := filepath.Join(dir, DBFile)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		for name, read := range map[string]func() error{
			"ReadRun":      func() error { _, _, err := ReadRun(dir); return err },
			"ReadRunState": func() error { _, err := ReadRunState(dir); return err },
		} {
			if err := read(); err == nil || !strings.Contains(err.Error(), "no run recorded") {
				t.Errorf("%s: err = %v, want no run recorded", name, err)
			}
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
			t.Errorf("nas.db after reading: %v, %v; want it empty", fi, err)
		}
		assertFiles(t, dir, DBFile)
	})
	t.Run("no nas.db", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := ReadRunState(dir); err == nil || !strings.Contains(err.Error(), "is not a run directory") {
			t.Errorf("err = %v", err)
		}
		assertFiles(t, dir)
	})
	t.Run("a finished run", func(t *testing.T) {
		dir := t.TempDir()
		sum := runSearch(t, dir, testOptions(StrategyRandom, 8), newFake(), nil)
		before := files(t, dir)
		db, err := os.ReadFile(filepath.Join(dir, DBFile))
		if err != nil {
			t.Fatal(err)
		}
		st, err := ReadRunState(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Trials) != 8 || st.Options.Trials != 8 || st.Created.IsZero() {
			t.Errorf("state: %d trials, options %+v, created %v", len(st.Trials), st.Options, st.Created)
		}
		if sum.Best == nil || st.BestModel != sum.Best.Index {
			t.Errorf("best model %d, summary's best %+v", st.BestModel, sum.Best)
		}
		// A second read works on the same snapshot machinery (BEGIN on
		// the single connection was committed).
		if _, err := ReadRunState(dir); err != nil {
			t.Fatal(err)
		}
		// SQLite may add its empty -wal and -shm files beside nas.db (a
		// WAL reader needs the shared memory); nothing else changes.
		assertFiles(t, dir, append(before, DBFile+"-shm", DBFile+"-wal")...)
		if after, err := os.ReadFile(filepath.Join(dir, DBFile)); err != nil || string(after) != string(db) {
			t.Errorf("nas.db changed by reading (%v)", err)
		}
	})
	t.Run("while a writer holds the database", func(t *testing.T) {
		dir := t.TempDir()
		runSearch(t, dir, testOptions(StrategyRandom, 4), newFake(), nil)
		w, err := openStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer w.close()
		tx, err := w.db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`DELETE FROM trial WHERE idx = 0`); err != nil {
			t.Fatal(err)
		}
		// An uncommitted write is not seen, and does not block the reader.
		if st, err := ReadRunState(dir); err != nil || len(st.Trials) != 4 {
			t.Fatalf("during a write: %d trials, %v", len(st.Trials), err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if st, err := ReadRunState(dir); err != nil || len(st.Trials) != 3 {
			t.Fatalf("after the write: %d trials, %v", len(st.Trials), err)
		}
	})
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func assertFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	if got := strings.Join(files(t, dir), " "); got != strings.Join(want, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, strings.Join(want, " "))
	}
}

// TestOddDirName: a run directory whose name holds the characters a URI
// gives meaning to ("?", "#", "%", a space) is created, resumed and read
// in that directory, and nowhere else.
func TestOddDirName(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "run ?a=1#b%20c")
	o := testOptions(StrategyRandom, 4)
	runSearch(t, dir, o, newFake(), nil)
	o.Trials = 8
	if _, err := Run(context.Background(), Config{Dir: dir, Options: o, Evaluator: newFake(), Resume: true}); err != nil {
		t.Fatalf("resume: %v", err)
	}
	if recs := readTrials(t, dir); len(recs) != 8 {
		t.Fatalf("%d trials, want 8", len(recs))
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != filepath.Base(dir) {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the parent holds %q, want only %q", names, filepath.Base(dir))
	}
}
