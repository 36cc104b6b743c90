package search

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/nas-project/nas/controller"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver "sqlite"
)

// Files of a run directory.
const (
	DBFile         = "nas.db"
	CheckpointFile = "controller.ckpt"
	BestFile       = "best.onnx"
)

// SchemaVersion is the version of nas.db's schema, stored in run.version.
// Version 2 added the trial status 'stopped' (early stopping); version 3
// the trial's attempts (how often it was handed to an evaluator: a trial
// running when the process died twice is recorded failed) and the best
// model's sha256; version 4 the trial's worker (which worker process
// trained it: empty for the search's own process); version 5 the final
// phase's tables, final and final_model (finalSchema); version 6 the
// rungs' tables, rung and rung_model (rungSchema), and the final table's
// epochs; version 7 the table sampled (sampledSchema: every iteration's
// proposals, written before its trials start, and how many iterations had
// been applied when it was sampled: Options.InFlight). Versions 1 to 6 are
// still read, and continued: a resume adds the columns and tables (an
// interrupted trial of theirs counts one attempt, the stored best model's
// checksum is computed from it, their trials' worker is empty, their final
// table is empty: their options have no final phase; a version-5 final
// row's epochs are 0, the run's Final.Epochs; their rung tables are empty:
// their options have no rungs; their sampled table is empty: they ran one
// iteration at a time, and the resume re-proposes as before) and stores
// version 7.
const SchemaVersion = 7

const schema = `
CREATE TABLE IF NOT EXISTS run (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	version INTEGER NOT NULL,
	created TEXT    NOT NULL,
	config  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS trial (
	idx       INTEGER PRIMARY KEY,
	iteration INTEGER NOT NULL,
	arch      TEXT    NOT NULL,
	layers    INTEGER NOT NULL,
	strategy  TEXT    NOT NULL,
	status    TEXT    NOT NULL CHECK (status IN ('running','done','failed','diverged','oversized','duplicate','stopped')),
	reward    REAL,
	val_acc   TEXT,
	params    INTEGER,
	flops     INTEGER,
	seconds   REAL,
	error     TEXT,
	dup_of    INTEGER,
	seed      INTEGER NOT NULL,
	started   TEXT,
	finished  TEXT,
	attempts  INTEGER NOT NULL DEFAULT 0,
	worker    TEXT    NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS best_model (
	idx    INTEGER PRIMARY KEY,
	onnx   BLOB NOT NULL,
	sha256 TEXT
);
`

// store is a run's database.
type store struct {
	db *sql.DB
	// attempts and sums: the trial table has the attempts column, and
	// best_model the sha256 column (version 3; readers of older versions
	// see neither); workers: the trial table has the worker column
	// (version 4).
	attempts, sums, workers bool
	// finals: the database has the final tables (version 5); rungs the
	// rung tables and finalEpochs the final table's epochs (version 6);
	// sampled the sampled table (version 7).
	finals, rungs, finalEpochs, sampled bool
}

// openStore opens the run database in dir, which must exist, for writing.
// It creates no schema: a run's database is made by createRun.
func openStore(dir string) (*store, error) {
	path := filepath.Join(dir, DBFile)
	dsn, err := sqliteDSN(path, "_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &store{db: db}
	if err := s.columns(); err != nil {
		db.Close()
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	return s, nil
}

// columns finds which of versions 3 and 4's columns the tables have, and
// whether version 5's final tables, version 6's rung tables and version
// 7's sampled table exist.
func (s *store) columns() error {
	for _, c := range []struct {
		table, column string
		has           *bool
	}{{"trial", "attempts", &s.attempts}, {"best_model", "sha256", &s.sums}, {"trial", "worker", &s.workers}} {
		var n int
		err := s.db.QueryRow(`SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, c.table, c.column).Scan(&n)
		if err != nil {
			return err
		}
		*c.has = n > 0
	}
	if err := s.hasFinal(); err != nil {
		return err
	}
	if err := s.hasRungs(); err != nil {
		return err
	}
	return s.hasSampled()
}

// upgrade brings a database of an earlier version to SchemaVersion: the
// columns it lacks are added (a trial still running counts one attempt;
// the best model's checksum is that of the stored blob) and run.version
// is set. A current database is left as it is.
func (s *store) upgrade() error {
	if s.attempts && s.sums && s.workers && s.finals && s.rungs && s.finalEpochs && s.sampled {
		return nil
	}
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: upgrade the database: %w", err)
	}
	defer tx.Rollback()
	if !s.attempts {
		if _, err := tx.Exec(`ALTER TABLE trial ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0`); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
		if _, err := tx.Exec(`UPDATE trial SET attempts = 1 WHERE status = 'running'`); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	}
	if !s.sums {
		if _, err := tx.Exec(`ALTER TABLE best_model ADD COLUMN sha256 TEXT`); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
		var b []byte
		err := tx.QueryRow(`SELECT onnx FROM best_model`).Scan(&b)
		if err == nil {
			_, err = tx.Exec(`UPDATE best_model SET sha256 = ?`, modelSum(b))
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	}
	if !s.workers {
		if _, err := tx.Exec(`ALTER TABLE trial ADD COLUMN worker TEXT NOT NULL DEFAULT ''`); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	}
	if !s.finals {
		if _, err := tx.Exec(finalSchema); err != nil { // with version 6's epochs
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	} else if !s.finalEpochs {
		if _, err := tx.Exec(`ALTER TABLE final ADD COLUMN epochs INTEGER NOT NULL DEFAULT 0`); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	}
	if !s.rungs {
		if _, err := tx.Exec(rungSchema); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	}
	if !s.sampled {
		if _, err := tx.Exec(sampledSchema); err != nil {
			return fmt.Errorf("search: upgrade the database: %w", err)
		}
	}
	if _, err := tx.Exec(`UPDATE run SET version = ? WHERE id = 1`, SchemaVersion); err != nil {
		return fmt.Errorf("search: upgrade the database: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: upgrade the database: %w", err)
	}
	s.attempts, s.sums, s.workers, s.finals, s.rungs, s.finalEpochs, s.sampled = true, true, true, true, true, true, true
	return nil
}

// modelSum is the checksum stored with a best model: sha256, hex.
func modelSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func (s *store) close() error { return s.db.Close() }

// writeRun inserts the run row of a new database. Its errors carry no
// package prefix: createRun, its one caller, adds it.
func writeRun(db *sql.DB, opts Options, created time.Time) error {
	cfg, err := json.Marshal(opts)
	if err != nil {
		return fmt.Errorf("encode options: %w", err)
	}
	_, err = db.Exec(`INSERT INTO run (id, version, created, config) VALUES (1, ?, ?, ?)`,
		SchemaVersion, created.UTC().Format(time.RFC3339Nano), string(cfg))
	if err != nil {
		return fmt.Errorf("write run: %w", err)
	}
	return nil
}

// updateRun replaces the stored options (a resume's new budget).
func (s *store) updateRun(opts Options) error {
	cfg, err := json.Marshal(opts)
	if err != nil {
		return fmt.Errorf("search: encode options: %w", err)
	}
	if _, err := s.db.Exec(`UPDATE run SET config = ? WHERE id = 1`, string(cfg)); err != nil {
		return fmt.Errorf("search: write run: %w", err)
	}
	return nil
}

// ErrNoRun is wrapped by the error of reading a database that holds no run
// row (an empty or unfinished nas.db).
var ErrNoRun = errors.New("no run recorded")

func (s *store) readRun() (Options, time.Time, error) {
	var version int
	var created, cfg string
	err := s.db.QueryRow(`SELECT version, created, config FROM run WHERE id = 1`).Scan(&version, &created, &cfg)
	if errors.Is(err, sql.ErrNoRows) {
		return Options{}, time.Time{}, ErrNoRun
	}
	if err != nil {
		return Options{}, time.Time{}, fmt.Errorf("search: read run: %w", err)
	}
	if version < 1 || version > SchemaVersion {
		return Options{}, time.Time{}, fmt.Errorf("search: run database version %d, this nas reads 1 to %d", version, SchemaVersion)
	}
	o, err := decodeOptions([]byte(cfg))
	if err != nil {
		return Options{}, time.Time{}, err
	}
	t, _ := time.Parse(time.RFC3339Nano, created)
	return o, t, nil
}

// legacyController is the controller's config as runs before the options'
// snake_case keys stored it: Go field names, zero meaning the default.
type legacyController struct {
	Hidden, LSTMLayers, Embedding                         int
	InitRange, LR, BaselineDecay, EntropyWeight, ClipNorm float64
}

// decodeOptions reads a run's stored options, in today's format or in the
// earlier one whose controller keys were Go field names ("EntropyWeight"),
// and resolves the defaults (the earlier format left the controller's and
// the kind unresolved; both mean what they meant then).
func decodeOptions(cfg []byte) (Options, error) {
	var o Options
	if err := json.Unmarshal(cfg, &o); err != nil {
		return Options{}, fmt.Errorf("search: decode run options: %w", err)
	}
	var raw struct {
		Controller map[string]json.RawMessage `json:"controller"`
	}
	if err := json.Unmarshal(cfg, &raw); err != nil {
		return Options{}, fmt.Errorf("search: decode run options: %w", err)
	}
	if _, old := raw.Controller["EntropyWeight"]; old {
		var l struct{ Controller legacyController }
		if err := json.Unmarshal(cfg, &l); err != nil {
			return Options{}, fmt.Errorf("search: decode run options: controller: %w", err)
		}
		c := l.Controller
		o.Controller = controller.Config{Hidden: c.Hidden, LSTMLayers: c.LSTMLayers, Embedding: c.Embedding, InitRange: c.InitRange,
			LR: c.LR, BaselineDecay: c.BaselineDecay, EntropyWeight: c.EntropyWeight, ClipNorm: c.ClipNorm}
	}
	return o.WithDefaults(), nil
}

func timeText(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// putTrial inserts or replaces a trial row. With a model (a new best), the
// row and best_model are replaced in one transaction.
func (s *store) putTrial(r Record, model []byte) error {
	return s.putTrials([]Record{r}, r.Index, model)
}

// putTrials inserts or replaces trial rows in one transaction; with a
// model, best_model becomes trial best's (one of the rows) in it too.
func (s *store) putTrials(rs []Record, best int, model []byte) error {
	if len(rs) == 0 {
		return nil
	}
	first := rs[0].Index
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: trial %d: %w", first, err)
	}
	defer tx.Rollback()
	for _, r := range rs {
		if err := putTrialRow(tx, r); err != nil {
			return err
		}
	}
	if model != nil {
		if err := replaceModel(tx, "best_model", "idx", best, model); err != nil {
			return fmt.Errorf("search: trial %d: best model: %w", best, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: trial %d: commit: %w", first, err)
	}
	return nil
}

// putTrialRow inserts or replaces a trial row inside tx.
func putTrialRow(tx *sql.Tx, r Record) error {
	acc, err := json.Marshal(r.ValAcc)
	if err != nil {
		return fmt.Errorf("search: trial %d: encode val_acc: %w", r.Index, err)
	}
	if r.ValAcc == nil {
		acc = []byte("[]")
	}
	var dup any
	if r.DupOf >= 0 {
		dup = r.DupOf
	}
	_, err = tx.Exec(`INSERT OR REPLACE INTO trial
		(idx, iteration, arch, layers, strategy, status, reward, val_acc, params, flops, seconds, error, dup_of, seed, started, finished, attempts, worker)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Index, r.Iteration, r.Arch, r.Layers, r.Strategy, r.Status.String(), r.Reward, string(acc),
		r.Params, r.FLOPs, r.Seconds, r.Error, dup, int64(r.Seed), timeText(r.Started), timeText(r.Finished), r.Attempts, r.Worker)
	if err != nil {
		return fmt.Errorf("search: trial %d: write: %w", r.Index, err)
	}
	return nil
}

// release takes back the attempt of trials whose evaluation was cancelled
// (not killed): their rows stay "running", to be evaluated again.
func (s *store) release(idx []int) error { return s.releaseAttempts("trial", "idx", "trial", idx) }

// releaseAttempts takes back one attempt of each running row keyed by ids
// in table (trial by idx, final by trial); what names a row in errors.
func (s *store) releaseAttempts(table, key, what string, ids []int) error {
	for _, i := range ids {
		if _, err := s.db.Exec(`UPDATE `+table+` SET attempts = attempts - 1 WHERE `+key+` = ? AND status = 'running' AND attempts > 0`, i); err != nil {
			return fmt.Errorf("search: %s %d: %w", what, i, err)
		}
	}
	return nil
}

// replaceModel makes model, with its sha256, the one row of a model table
// (best_model keyed by idx, final_model by trial), inside tx.
func replaceModel(tx *sql.Tx, table, key string, index int, model []byte) error {
	if _, err := tx.Exec(`DELETE FROM ` + table); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT INTO `+table+` (`+key+`, onnx, sha256) VALUES (?, ?, ?)`, index, model, modelSum(model))
	return err
}

// restoreModel replaces the stored best model's bytes (its checksum
// unchanged): a damaged blob restored from a best.onnx that matches it.
func (s *store) restoreModel(idx int, model []byte) error {
	if _, err := s.db.Exec(`UPDATE best_model SET onnx = ? WHERE idx = ?`, model, idx); err != nil {
		return fmt.Errorf("search: restore the best model: %w", err)
	}
	return nil
}

func (s *store) trials() ([]Record, error) {
	// Without the column (version 1 or 2): a running row counts one
	// attempt, as upgrade records it.
	attempts := "CASE WHEN status = 'running' THEN 1 ELSE 0 END"
	if s.attempts {
		attempts = "attempts"
	}
	worker := "''" // before version 4: every trial ran in the search's process
	if s.workers {
		worker = "worker"
	}
	rows, err := s.db.Query(`SELECT idx, iteration, arch, layers, strategy, status, reward, val_acc, params, flops,
		seconds, error, dup_of, seed, started, finished, ` + attempts + `, ` + worker + ` FROM trial ORDER BY idx`)
	if err != nil {
		return nil, fmt.Errorf("search: read trials: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var status string
		var reward, seconds sql.NullFloat64
		var acc, errText, started, finished sql.NullString
		var params, flops, dup sql.NullInt64
		var seed int64
		if err := rows.Scan(&r.Index, &r.Iteration, &r.Arch, &r.Layers, &r.Strategy, &status, &reward, &acc,
			&params, &flops, &seconds, &errText, &dup, &seed, &started, &finished, &r.Attempts, &r.Worker); err != nil {
			return nil, fmt.Errorf("search: read trials: %w", err)
		}
		if r.Status, err = ParseStatus(status); err != nil {
			return nil, err
		}
		r.Reward, r.Seconds = reward.Float64, seconds.Float64
		if acc.Valid && acc.String != "" {
			if err := json.Unmarshal([]byte(acc.String), &r.ValAcc); err != nil {
				return nil, fmt.Errorf("search: trial %d: val_acc: %w", r.Index, err)
			}
		}
		r.Params, r.FLOPs, r.Error, r.Seed = params.Int64, flops.Int64, errText.String, uint64(seed)
		r.DupOf = -1
		if dup.Valid {
			r.DupOf = int(dup.Int64)
		}
		r.Started, _ = time.Parse(time.RFC3339Nano, started.String)
		r.Finished, _ = time.Parse(time.RFC3339Nano, finished.String)
		if math.IsNaN(r.Reward) {
			r.Reward = 0
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// bestModel is the stored best model: its trial (-1: none), its bytes and
// its checksum ("" when a database of an earlier version stored none).
func (s *store) bestModel() (int, []byte, string, error) {
	var idx int
	var b []byte
	var sum sql.NullString
	col := "NULL"
	if s.sums {
		col = "sha256"
	}
	err := s.db.QueryRow(`SELECT idx, onnx, `+col+` FROM best_model`).Scan(&idx, &b, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil, "", nil
	}
	if err != nil {
		return -1, nil, "", fmt.Errorf("search: read best model: %w", err)
	}
	return idx, b, sum.String, nil
}

// ReadRun reads a run directory: its options (defaults resolved) and its
// trial table in index order (rows still "running" included). It opens
// the database read-only and never changes the directory.
func ReadRun(dir string) (Options, []Record, error) {
	st, err := ReadRunState(dir)
	return st.Options, st.Trials, err
}
