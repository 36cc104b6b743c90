package search

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// openStoreReadOnly opens a run's database for reading only: the file is
// opened with mode=ro, so nothing (no schema, no journal-mode change) is
// ever written, and in WAL mode a reader never blocks the search that
// writes. A database without the run table (an empty or foreign file)
// fails with "no run recorded". SQLite may create nas.db's -wal and -shm
// files (empty; a WAL reader needs the shared memory) when no search has
// the database open; nas.db itself is never written.
// sqliteDSN is the SQLite URI of the database file at path with the query
// (parameters and pragmas): the absolute path percent-encoded, so that a
// directory whose name holds "?", "#" or "%" opens the file it names.
func sqliteDSN(path, query string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: abs, RawQuery: query}).String(), nil
}

// openReadOnlyDB opens the SQLite database at path read-only, and checks
// that it answers. A WAL database in a directory that cannot take its -shm
// file (a read-only mount) and that no search has open (it would have made
// -shm), its log empty, is opened immutable: nothing can change it while it
// is read.
func openReadOnlyDB(path string) (*sql.DB, error) {
	open := func(query string) (*sql.DB, error) {
		dsn, err := sqliteDSN(path, query+"&_pragma=busy_timeout(10000)")
		if err != nil {
			return nil, err
		}
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_master`).Scan(&n); err != nil {
			db.Close()
			return nil, err
		}
		return db, nil
	}
	db, err := open("mode=ro")
	if err != nil && readOnlyWAL(path) {
		db, err = open("mode=ro&immutable=1")
	}
	return db, err
}

func openStoreReadOnly(dir string) (*store, error) {
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("search: %s is not a run directory: %w", dir, err)
	}
	db, err := openReadOnlyDB(path)
	if err != nil {
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('run', 'trial')`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	if n != 2 {
		db.Close()
		return nil, fmt.Errorf("search: %s: %w", path, ErrNoRun)
	}
	s := &store{db: db}
	if err := s.columns(); err != nil {
		db.Close()
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	return s, nil
}

// ErrModelChecksum is wrapped when the best model stored in nas.db does
// not match the sha256 stored with it (the database is damaged).
var ErrModelChecksum = errors.New("the best model fails its sha256 checksum")

// ReadBestModel reads the best model of the run in dir from nas.db, the
// model the database says is the best (best.onnx is a copy of it, which a
// process killed between the commit and the copy leaves behind): its
// trial's index (-1 and nil when no trial is done) and its bytes, verified
// against their stored checksum (errors.Is ErrModelChecksum when they do
// not match; a database of version 1 or 2 stored none). It opens the
// database read-only.
func ReadBestModel(dir string) (int, []byte, error) {
	s, err := openStoreReadOnly(dir)
	if err != nil {
		return -1, nil, err
	}
	defer s.close()
	idx, model, sum, err := s.bestModel()
	if err != nil {
		return -1, nil, err
	}
	if model != nil && sum != "" && modelSum(model) != sum {
		return -1, nil, fmt.Errorf("search: %s: trial %d: %w", filepath.Join(dir, DBFile), idx, ErrModelChecksum)
	}
	return idx, model, nil
}

// ModelSum is the checksum nas.db stores with a best model (sha256, in
// hex): a copy such as best.onnx matches its run's best model when
// ModelSum(copy) equals RunState.BestSum.
func ModelSum(model []byte) string { return modelSum(model) }

// readOnlyWAL says whether the database at path may be read as immutable
// after a read-only open failed: it has no -shm file (no process has it
// open) and no unfinished write-ahead log.
func readOnlyWAL(path string) bool {
	if _, err := os.Stat(path + "-shm"); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	w, err := os.Stat(path + "-wal")
	return errors.Is(err, os.ErrNotExist) || err == nil && w.Size() == 0
}

// RunState is a run directory's database as one reader saw it at one
// moment (one read transaction).
type RunState struct {
	// Options are the run's options, defaults resolved.
	Options Options
	// Created is when the run was started (its first process).
	Created time.Time
	// Trials is the trial table in index order, rows still "running"
	// included (a killed search leaves them until it is resumed).
	Trials []Record
	// BestModel is the index of the trial whose model best_model holds
	// (and best.onnx exports), or -1 when there is none.
	BestModel int
	// BestSum is the best model's stored checksum (ModelSum); "" when there
	// is none, or the database's version stored none.
	BestSum string
	// Finals is the final table (the final phase's candidates) by rank;
	// empty without a final phase or before schema version 5.
	Finals []FinalRecord
	// FinalModel is the trial index of the chosen final candidate, whose
	// model final_model holds, or -1; FinalSum its checksum. When there is
	// one, best.onnx is a copy of it (else of the best trial's model).
	FinalModel int
	FinalSum   string
	// Rungs is the rung table (the promotions, rung ≥ 1; the trials are
	// rung 0) by rung, rank and trial; empty without rungs or before
	// schema version 6.
	Rungs []RungRecord
	// RungModel is the trial index of the best row of the highest rung,
	// whose model rung_model holds, or -1; RungSum its checksum. Without a
	// final model, best.onnx is a copy of it.
	RungModel int
	RungSum   string
}

// Model is what best.onnx copies: the final model when there is one (final
// true), else the rungs' top model (final true as well: not the best
// trial's as the search trained it), else the best trial's; idx is its
// trial (-1: none), sum its checksum.
func (st RunState) Model() (idx int, sum string, final bool) {
	if st.FinalModel >= 0 {
		return st.FinalModel, st.FinalSum, true
	}
	if st.RungModel >= 0 {
		return st.RungModel, st.RungSum, true
	}
	return st.BestModel, st.BestSum, false
}

// ReadRunState reads a run directory without changing it, in one read
// transaction, so the options, trials and best model agree with each
// other even while a search writes to the directory.
func ReadRunState(dir string) (RunState, error) {
	s, err := openStoreReadOnly(dir)
	if err != nil {
		return RunState{}, err
	}
	defer s.close()
	// One snapshot for every query: the pool holds a single connection, so
	// the statements between BEGIN and the deferred COMMIT all run on it,
	// inside one read transaction (database/sql's Tx would hold that one
	// connection for itself and the store's queries would wait for it).
	if _, err := s.db.Exec(`BEGIN`); err != nil {
		return RunState{}, fmt.Errorf("search: read %s: %w", dir, err)
	}
	defer s.db.Exec(`COMMIT`)
	var st RunState
	if st.Options, st.Created, err = s.readRun(); err != nil {
		return RunState{}, err
	}
	if st.Trials, err = s.trials(); err != nil {
		return RunState{}, err
	}
	st.BestModel = -1
	col := "NULL"
	if s.sums {
		col = "sha256"
	}
	var sum sql.NullString
	err = s.db.QueryRow(`SELECT idx, `+col+` FROM best_model`).Scan(&st.BestModel, &sum)
	st.BestSum = sum.String
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return RunState{}, fmt.Errorf("search: read best model: %w", err)
	}
	if st.Finals, err = s.finalRecords(); err != nil {
		return RunState{}, err
	}
	st.FinalModel = -1
	if s.finals {
		err = s.db.QueryRow(`SELECT trial, sha256 FROM final_model`).Scan(&st.FinalModel, &st.FinalSum)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return RunState{}, fmt.Errorf("search: read the final model: %w", err)
		}
	}
	if st.Rungs, err = s.rungRecords(); err != nil {
		return RunState{}, err
	}
	st.RungModel = -1
	if s.rungs {
		err = s.db.QueryRow(`SELECT trial, sha256 FROM rung_model`).Scan(&st.RungModel, &st.RungSum)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return RunState{}, fmt.Errorf("search: read the rungs' model: %w", err)
		}
	}
	return st, nil
}
