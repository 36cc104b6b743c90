package search

import (
	"database/sql"
	"encoding/json"
	"fmt"
)

// rungSchema is the rungs' part of nas.db (schema version 6): a row per
// promotion (a trial's architecture trained at a rung ≥ 1; the trial table
// is rung 0), and the model of the best row of the highest rung.
const rungSchema = `
CREATE TABLE IF NOT EXISTS rung (
	rung       INTEGER NOT NULL,
	trial      INTEGER NOT NULL,
	rank       INTEGER NOT NULL,
	arch       TEXT    NOT NULL,
	status     TEXT    NOT NULL CHECK (status IN ('running','done','failed','diverged','oversized')),
	train_size INTEGER NOT NULL,
	epochs     INTEGER NOT NULL,
	val_acc    TEXT,
	params     INTEGER,
	flops      INTEGER,
	seconds    REAL,
	error      TEXT,
	seed       INTEGER NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	started    TEXT,
	finished   TEXT,
	PRIMARY KEY (rung, trial)
);
CREATE TABLE IF NOT EXISTS rung_model (
	trial  INTEGER PRIMARY KEY,
	onnx   BLOB NOT NULL,
	sha256 TEXT NOT NULL
);
`

// rungTables are the tables rungSchema creates.
var rungTables = []string{"rung", "rung_model"}

// hasRungs finds whether the database has version 6's rung tables and the
// final table's epochs column.
func (s *store) hasRungs() error {
	var n int
	if err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'rung'`).Scan(&n); err != nil {
		return err
	}
	s.rungs = n > 0
	if err := s.db.QueryRow(`SELECT count(*) FROM pragma_table_info('final') WHERE name = 'epochs'`).Scan(&n); err != nil {
		return err
	}
	s.finalEpochs = n > 0
	return nil
}

// valAccText is a candidate's validation accuracies as stored: a JSON
// array, [] for none.
func valAccText(acc []float64) (string, error) {
	if acc == nil {
		return "[]", nil
	}
	b, err := json.Marshal(acc)
	return string(b), err
}

func putRungRow(tx *sql.Tx, f RungRecord) error {
	acc, err := valAccText(f.ValAcc)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT OR REPLACE INTO rung
		(rung, trial, rank, arch, status, train_size, epochs, val_acc, params, flops, seconds, error, seed, attempts, started, finished)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.Rung, f.Trial, f.Rank, f.Arch, f.Status.String(), f.TrainSize, f.Epochs, acc, f.Params, f.FLOPs, f.Seconds, f.Error,
		int64(f.Seed), f.Attempts, timeText(f.Started), timeText(f.Finished))
	return err
}

// putRungs inserts a rung's new candidates (pending) in one transaction.
func (s *store) putRungs(fs []RungRecord) error {
	if len(fs) == 0 {
		return nil
	}
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: rung %d candidates: %w", fs[0].Rung, err)
	}
	defer tx.Rollback()
	for _, f := range fs {
		if err := putRungRow(tx, f); err != nil {
			return fmt.Errorf("search: rung %d candidate %d: %w", f.Rung, f.Trial, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: rung %d candidates: %w", fs[0].Rung, err)
	}
	return nil
}

// putRung inserts or replaces a rung row; with a model (the new top one),
// rung_model is replaced in the same transaction.
func (s *store) putRung(f RungRecord, model []byte) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: rung %d candidate %d: %w", f.Rung, f.Trial, err)
	}
	defer tx.Rollback()
	if err := putRungRow(tx, f); err != nil {
		return fmt.Errorf("search: rung %d candidate %d: write: %w", f.Rung, f.Trial, err)
	}
	if model != nil {
		if err := replaceModel(tx, "rung_model", "trial", f.Trial, model); err != nil {
			return fmt.Errorf("search: rung %d candidate %d: model: %w", f.Rung, f.Trial, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: rung %d candidate %d: commit: %w", f.Rung, f.Trial, err)
	}
	return nil
}

// releaseRung takes back the attempt of a rung's candidates whose training
// was cancelled (not killed).
func (s *store) releaseRung(rung int, trials []int) error {
	for _, i := range trials {
		if _, err := s.db.Exec(`UPDATE rung SET attempts = attempts - 1 WHERE rung = ? AND trial = ? AND status = 'running' AND attempts > 0`, rung, i); err != nil {
			return fmt.Errorf("search: rung %d candidate %d: %w", rung, i, err)
		}
	}
	return nil
}

// rungRecords is the rung table by rung, rank, trial (none before version
// 6).
func (s *store) rungRecords() ([]RungRecord, error) {
	if !s.rungs {
		return nil, nil
	}
	rows, err := s.db.Query(`SELECT ` + candidateColumns + `, rung, train_size, epochs FROM rung ORDER BY rung, rank, trial`)
	if err != nil {
		return nil, fmt.Errorf("search: read the rung table: %w", err)
	}
	defer rows.Close()
	var out []RungRecord
	for rows.Next() {
		var f RungRecord
		label := func() string { return fmt.Sprintf("rung %d candidate %d", f.Rung, f.Trial) }
		if err := scanCandidate(rows, "rung", &f.FinalRecord, label, &f.Rung, &f.TrainSize, &f.Epochs); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// rungModel is the stored top model of the rungs: its trial (-1: none),
// bytes and checksum.
func (s *store) rungModel() (int, []byte, string, error) {
	if !s.rungs {
		return -1, nil, "", nil
	}
	return s.phaseModel("rung_model", "the rungs' model")
}

// restoreRungModel replaces the stored top model's bytes (its checksum
// unchanged), from a best.onnx that matches it.
func (s *store) restoreRungModel(idx int, model []byte) error {
	return s.restorePhaseModel("rung_model", "the rungs' model", idx, model)
}

// ReadRungModel reads the rungs' top model of the run in dir from nas.db
// (the best row of the highest rung, which best.onnx copies when the run
// has no final model): its trial's index (-1 and nil when there is none)
// and its bytes, verified against their checksum (errors.Is
// ErrModelChecksum when they do not match). It opens the database
// read-only.
func ReadRungModel(dir string) (int, []byte, error) {
	return readPhaseModel(dir, (*store).rungModel, "the rungs' model")
}
