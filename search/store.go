package search

import (
	"database/sql"
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
// Version 2 added the trial status 'stopped' (early stopping). A version-1
// database is still read and continued: its run predates early stopping, so
// it never records a stopped trial.
const SchemaVersion = 2

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
	finished  TEXT
);
CREATE TABLE IF NOT EXISTS best_model (
	idx  INTEGER PRIMARY KEY,
	onnx BLOB NOT NULL
);
`

// store is a run's database.
type store struct{ db *sql.DB }

func openStore(dir string) (*store, error) {
	path := filepath.Join(dir, DBFile)
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("search: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("search: %s: create schema: %w", path, err)
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

func (s *store) writeRun(opts Options, created time.Time) error {
	cfg, err := json.Marshal(opts)
	if err != nil {
		return fmt.Errorf("search: encode options: %w", err)
	}
	_, err = s.db.Exec(`INSERT INTO run (id, version, created, config) VALUES (1, ?, ?, ?)`,
		SchemaVersion, created.UTC().Format(time.RFC3339Nano), string(cfg))
	if err != nil {
		return fmt.Errorf("search: write run: %w", err)
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

// errNoRun: the database has no run row.
var errNoRun = errors.New("no run recorded")

func (s *store) readRun() (Options, time.Time, error) {
	var version int
	var created, cfg string
	err := s.db.QueryRow(`SELECT version, created, config FROM run WHERE id = 1`).Scan(&version, &created, &cfg)
	if errors.Is(err, sql.ErrNoRows) {
		return Options{}, time.Time{}, errNoRun
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
	tx, err := s.db.Begin()
	if err != nil {
		return fmt.Errorf("search: trial %d: %w", r.Index, err)
	}
	defer tx.Rollback()
	_, err = tx.Exec(`INSERT OR REPLACE INTO trial
		(idx, iteration, arch, layers, strategy, status, reward, val_acc, params, flops, seconds, error, dup_of, seed, started, finished)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Index, r.Iteration, r.Arch, r.Layers, r.Strategy, r.Status.String(), r.Reward, string(acc),
		r.Params, r.FLOPs, r.Seconds, r.Error, dup, int64(r.Seed), timeText(r.Started), timeText(r.Finished))
	if err != nil {
		return fmt.Errorf("search: trial %d: write: %w", r.Index, err)
	}
	if model != nil {
		if _, err := tx.Exec(`DELETE FROM best_model`); err != nil {
			return fmt.Errorf("search: trial %d: best model: %w", r.Index, err)
		}
		if _, err := tx.Exec(`INSERT INTO best_model (idx, onnx) VALUES (?, ?)`, r.Index, model); err != nil {
			return fmt.Errorf("search: trial %d: best model: %w", r.Index, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("search: trial %d: commit: %w", r.Index, err)
	}
	return nil
}

// deleteRunning removes the rows of trials that never ended.
func (s *store) deleteRunning() (int64, error) {
	res, err := s.db.Exec(`DELETE FROM trial WHERE status = 'running'`)
	if err != nil {
		return 0, fmt.Errorf("search: drop running trials: %w", err)
	}
	return res.RowsAffected()
}

func (s *store) trials() ([]Record, error) {
	rows, err := s.db.Query(`SELECT idx, iteration, arch, layers, strategy, status, reward, val_acc, params, flops,
		seconds, error, dup_of, seed, started, finished FROM trial ORDER BY idx`)
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
			&params, &flops, &seconds, &errText, &dup, &seed, &started, &finished); err != nil {
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

func (s *store) bestModel() (int, []byte, error) {
	var idx int
	var b []byte
	err := s.db.QueryRow(`SELECT idx, onnx FROM best_model`).Scan(&idx, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return -1, nil, nil
	}
	if err != nil {
		return -1, nil, fmt.Errorf("search: read best model: %w", err)
	}
	return idx, b, nil
}

// ReadRun reads a run directory: its options (defaults resolved) and its
// trial table in index order (rows still "running" included). It opens
// the database read-only and never changes the directory.
func ReadRun(dir string) (Options, []Record, error) {
	s, err := openStoreReadOnly(dir)
	if err != nil {
		return Options{}, nil, err
	}
	defer s.close()
	o, _, err := s.readRun()
	if err != nil {
		return Options{}, nil, err
	}
	recs, err := s.trials()
	return o, recs, err
}
