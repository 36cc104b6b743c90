package search

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nas-project/nas/internal/atomicfile"
)

// How a run directory comes to exist, and what a new run refuses.
//
// A run exists when DIR/nas.db exists: createRun builds the database (the
// schema and the committed run row) in a temporary file and writes it to
// nas.db with the atomic writer, so a kill during creation leaves no
// nas.db, only a temporary file that the next open removes. A nas.db
// without a run row (written by an earlier version killed while it created
// the run, or an empty file) is an unfinished creation: a new run in that
// directory replaces it, and a resume says so. Anything else in nas.db's
// place, or a run's file (controller.ckpt, best.onnx, nas.db-wal) without a
// run, is not this run's: a new run refuses the directory, naming the file.

// dbState is what a directory's nas.db holds.
type dbState int

const (
	noDB         dbState = iota // no nas.db
	unfinishedDB                // a nas.db without a run row, tables or trials
	runDB                       // a run
)

// inspectDB says what dir's nas.db holds, reading it read-only; an error
// for a nas.db that is not a run database (not SQLite, other tables,
// trials without a run).
func inspectDB(dir string) (dbState, error) {
	path := filepath.Join(dir, DBFile)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return noDB, nil
	}
	if err != nil {
		return noDB, fmt.Errorf("search: %w", err)
	}
	if fi.Size() == 0 {
		if w, err := os.Stat(path + "-wal"); err != nil || w.Size() == 0 {
			return unfinishedDB, nil
		}
	}
	db, err := openReadOnlyDB(path)
	if err != nil {
		return noDB, fmt.Errorf("search: %s is not a run database (%v): move it away, or choose another directory", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		return noDB, fmt.Errorf("search: %s is not a run database (%v): move it away, or choose another directory", path, err)
	}
	tables := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return noDB, fmt.Errorf("search: %s: %w", path, err)
		}
		tables[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return noDB, fmt.Errorf("search: %s is not a run database (%v): move it away, or choose another directory", path, err)
	}
	rowsIn := 0
	for n := range tables {
		if n != "run" && n != "trial" && n != "best_model" && !slices.Contains(finalTables, n) && !slices.Contains(rungTables, n) && n != "sampled" {
			return noDB, fmt.Errorf("search: %s is not a run database (it has a table %q): move it away, or choose another directory", path, n)
		}
		var k int
		if err := db.QueryRow(`SELECT count(*) FROM "` + n + `"`).Scan(&k); err != nil {
			return noDB, fmt.Errorf("search: %s: %w", path, err)
		}
		if n == "run" && k > 0 {
			return runDB, nil
		}
		rowsIn += k
	}
	if rowsIn > 0 {
		return noDB, fmt.Errorf("search: %s holds trials but no run (damaged): move it away, or choose another directory", path)
	}
	return unfinishedDB, nil
}

// foreignFiles are the files a run writes, which a directory without a
// run must not hold (a new run would adopt them).
var foreignFiles = []string{CheckpointFile, BestFile, DBFile + "-wal"}

// CheckNewRunDir says whether a new run can be created in dir, without
// changing anything: nil when dir does not exist, holds no nas.db, or holds
// an unfinished creation's (which the new run replaces); an error naming
// what is in the way otherwise (a run; a nas.db that is not a run's; a
// run's file without a run), saying what to do.
func CheckNewRunDir(dir string) error {
	_, err := checkNewRunDir(dir)
	return err
}

func checkNewRunDir(dir string) (dbState, error) {
	st, err := inspectDB(dir)
	if err != nil {
		return st, err
	}
	if st == runDB {
		return st, fmt.Errorf("search: %s already holds a run: continue it with --resume %s, or choose another directory", dir, dir)
	}
	for _, n := range foreignFiles {
		if n == DBFile+"-wal" && st != noDB {
			continue // part of the unfinished database, replaced with it
		}
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return st, fmt.Errorf("search: %s holds %s but no run (no %s with a run recorded): it is not this run's; move it away, or choose another directory",
				dir, n, DBFile)
		}
	}
	return st, nil
}

// createRun creates the run in dir (which CheckNewRunDir accepted): the
// database is built in a temporary file, schema and run row committed,
// then written to nas.db atomically. An unfinished creation's nas.db is
// replaced.
func createRun(dir string, opts Options, created time.Time, st dbState) (err error) {
	if st == unfinishedDB {
		for _, n := range []string{DBFile + "-wal", DBFile + "-shm", DBFile} {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("search: remove the unfinished %s: %w", n, err)
			}
		}
	}
	f, err := os.CreateTemp(dir, "."+DBFile+".tmp-*") // atomicfile.Clean removes it after a kill
	if err != nil {
		return fmt.Errorf("search: create the run: %w", err)
	}
	tmp := f.Name()
	f.Close()
	defer func() {
		os.Remove(tmp)
		os.Remove(tmp + "-journal")
	}()
	dsn, err := sqliteDSN(tmp, "_pragma=synchronous(FULL)")
	if err != nil {
		return fmt.Errorf("search: create the run: %w", err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("search: create the run: %w", err)
	}
	db.SetMaxOpenConns(1)
	_, err = db.Exec(schema + finalSchema + rungSchema + sampledSchema)
	if err == nil {
		err = writeRun(db, opts, created)
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("search: create the run: %w", err)
	}
	src, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("search: create the run: %w", err)
	}
	defer src.Close()
	if err := atomicfile.WriteFunc(filepath.Join(dir, DBFile), func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}); err != nil {
		return fmt.Errorf("search: create the run: %w", err)
	}
	return nil
}
