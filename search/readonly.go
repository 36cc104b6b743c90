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
func openStoreReadOnly(dir string) (*store, error) {
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("search: %s is not a run directory: %w", dir, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("search: %s: %w", path, err)
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=busy_timeout(10000)"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('run', 'trial')`).Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	if n != 2 {
		db.Close()
		return nil, fmt.Errorf("search: %s: %w", path, errNoRun)
	}
	return &store{db: db}, nil
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
	err = s.db.QueryRow(`SELECT idx FROM best_model`).Scan(&st.BestModel)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return RunState{}, fmt.Errorf("search: read best model: %w", err)
	}
	return st, nil
}
