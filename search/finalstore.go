package search

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"
)

// finalSchema is the final phase's part of nas.db (schema version 5; the
// column epochs since version 6): a row per candidate, and the chosen
// candidate's model.
const finalSchema = `
CREATE TABLE IF NOT EXISTS final (
	trial    INTEGER PRIMARY KEY,
	rank     INTEGER NOT NULL,
	arch     TEXT    NOT NULL,
	status   TEXT    NOT NULL CHECK (status IN ('running','done','failed','diverged','oversized')),
	val_acc  TEXT,
	params   INTEGER,
	flops    INTEGER,
	seconds  REAL,
	error    TEXT,
	seed     INTEGER NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	started  TEXT,
	finished TEXT,
	epochs   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS final_model (
	trial  INTEGER PRIMARY KEY,
	onnx   BLOB NOT NULL,
	sha256 TEXT NOT NULL
);
`

// finalTables are the tables finalSchema creates.
var finalTables = []string{"final", "final_model"}

// hasFinal finds whether the database has the final tables (version 5).
func (s *store) hasFinal() error {
	var n int
	err := s.db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'final'`).Scan(&n)
	s.finals = n > 0
	return err
}

func putFinalRow(tx *sql.Tx, f FinalRecord) error {
	acc, err := valAccText(f.ValAcc)
	if err != nil {
		return err
	}
	_, err = tx.Exec(`INSERT OR REPLACE INTO final
		(trial, rank, arch, status, val_acc, params, flops, seconds, error, seed, attempts, started, finished, epochs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.Trial, f.Rank, f.Arch, f.Status.String(), acc, f.Params, f.FLOPs, f.Seconds, f.Error, int64(f.Seed),
		f.Attempts, timeText(f.Started), timeText(f.Finished), f.Epochs)
	return err
}

// putFinals inserts the rows of new candidates (pending) in one transaction.
func (s *store) putFinals(fs []FinalRecord) error {
	if len(fs) == 0 {
		return nil
	}
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: final candidates: %w", err)
	}
	defer tx.Rollback()
	for _, f := range fs {
		if err := putFinalRow(tx, f); err != nil {
			return fmt.Errorf("search: final candidate %d: %w", f.Trial, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: final candidates: %w", err)
	}
	return nil
}

// putFinal inserts or replaces a candidate's row; with a model (the new
// chosen one), final_model is replaced in the same transaction.
func (s *store) putFinal(f FinalRecord, model []byte) error {
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: final candidate %d: %w", f.Trial, err)
	}
	defer tx.Rollback()
	if err := putFinalRow(tx, f); err != nil {
		return fmt.Errorf("search: final candidate %d: write: %w", f.Trial, err)
	}
	if model != nil {
		if err := replaceModel(tx, "final_model", "trial", f.Trial, model); err != nil {
			return fmt.Errorf("search: final candidate %d: model: %w", f.Trial, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: final candidate %d: commit: %w", f.Trial, err)
	}
	return nil
}

// releaseFinal takes back the attempt of candidates whose training was
// cancelled (not killed).
func (s *store) releaseFinal(trials []int) error {
	return s.releaseAttempts("final", "trial", "final candidate", trials)
}

// finalRecords is the final table by rank (none before version 5).
func (s *store) finalRecords() ([]FinalRecord, error) {
	if !s.finals {
		return nil, nil
	}
	epochs := "0" // version 5: the run's final epochs
	if s.finalEpochs {
		epochs = "epochs"
	}
	rows, err := s.db.Query(`SELECT ` + candidateColumns + `, ` + epochs + ` FROM final ORDER BY rank, trial`)
	if err != nil {
		return nil, fmt.Errorf("search: read the final table: %w", err)
	}
	defer rows.Close()
	var out []FinalRecord
	for rows.Next() {
		var f FinalRecord
		if err := scanCandidate(rows, "final", &f, func() string { return fmt.Sprintf("final candidate %d", f.Trial) }, &f.Epochs); err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// candidateColumns are the columns the candidate tables (final, rung)
// share, in scanCandidate's order.
const candidateColumns = `trial, rank, arch, status, val_acc, params, flops, seconds, error, seed, attempts, started, finished`

// scanCandidate reads a row of the candidate table table selected as
// candidateColumns and then the columns of extra into f; label names the
// row in an error about its accuracies.
func scanCandidate(rows *sql.Rows, table string, f *FinalRecord, label func() string, extra ...any) error {
	var status string
	var seconds sql.NullFloat64
	var acc, errText, started, finished sql.NullString
	var params, flops sql.NullInt64
	var seed int64
	dest := append([]any{&f.Trial, &f.Rank, &f.Arch, &status, &acc, &params, &flops, &seconds, &errText, &seed,
		&f.Attempts, &started, &finished}, extra...)
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("search: read the %s table: %w", table, err)
	}
	var err error
	if f.Status, err = ParseStatus(status); err != nil {
		return err
	}
	if acc.Valid && acc.String != "" {
		if err := json.Unmarshal([]byte(acc.String), &f.ValAcc); err != nil {
			return fmt.Errorf("search: %s: val_acc: %w", label(), err)
		}
	}
	f.Params, f.FLOPs, f.Seconds, f.Error, f.Seed = params.Int64, flops.Int64, seconds.Float64, errText.String, uint64(seed)
	if math.IsNaN(f.Seconds) {
		f.Seconds = 0
	}
	f.Started, _ = time.Parse(time.RFC3339Nano, started.String)
	f.Finished, _ = time.Parse(time.RFC3339Nano, finished.String)
	return nil
}

// finalModel is the stored final model: its trial (-1: none), bytes and
// checksum.
func (s *store) finalModel() (int, []byte, string, error) {
	if !s.finals {
		return -1, nil, "", nil
	}
	return s.phaseModel("final_model", "the final model")
}

// phaseModel reads a phase's one-row model table (final_model,
// rung_model; what names it in errors): its trial (-1: none), bytes and
// checksum. A row whose bytes are NULL (an evaluator that gave no model)
// reads as empty bytes: the row is there.
func (s *store) phaseModel(table, what string) (int, []byte, string, error) {
	var idx int
	var b []byte
	var sum string
	err := s.db.QueryRow(`SELECT trial, onnx, sha256 FROM `+table).Scan(&idx, &b, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil, "", nil
	}
	if err != nil {
		return -1, nil, "", fmt.Errorf("search: read %s: %w", what, err)
	}
	if b == nil {
		b = []byte{}
	}
	return idx, b, sum, nil
}

// restoreFinalModel replaces the stored final model's bytes (its checksum
// unchanged): a damaged blob restored from a best.onnx that matches it.
func (s *store) restoreFinalModel(idx int, model []byte) error {
	return s.restorePhaseModel("final_model", "the final model", idx, model)
}

// restorePhaseModel replaces the bytes of a phase's model table's row for
// trial idx, its checksum unchanged.
func (s *store) restorePhaseModel(table, what string, idx int, model []byte) error {
	if _, err := s.db.Exec(`UPDATE `+table+` SET onnx = ? WHERE trial = ?`, model, idx); err != nil {
		return fmt.Errorf("search: restore %s: %w", what, err)
	}
	return nil
}

// ReadFinalModel reads the final model of the run in dir from nas.db (the
// chosen candidate of the final phase, which best.onnx copies): its trial's
// index (-1 and nil when there is none: no final phase, or none done yet)
// and its bytes, verified against their checksum (errors.Is
// ErrModelChecksum when they do not match). It opens the database
// read-only.
func ReadFinalModel(dir string) (int, []byte, error) {
	return readPhaseModel(dir, (*store).finalModel, "the final model")
}

// readPhaseModel opens the run database in dir read-only and reads a
// phase's model with read, verified against its checksum.
func readPhaseModel(dir string, read func(*store) (int, []byte, string, error), what string) (int, []byte, error) {
	s, err := openStoreReadOnly(dir)
	if err != nil {
		return -1, nil, err
	}
	defer s.close()
	idx, model, sum, err := read(s)
	if err != nil {
		return -1, nil, err
	}
	if model != nil && modelSum(model) != sum {
		return -1, nil, fmt.Errorf("search: %s: %s (trial %d): %w", filepath.Join(dir, DBFile), what, idx, ErrModelChecksum)
	}
	return idx, model, nil
}
