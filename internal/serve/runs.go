package serve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nas-project/nas/internal/modelfile"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

// The model files a run may serve, by their fixed names.
const (
	bestModel      = search.BestFile
	retrainedModel = "retrained.onnx"
)

var modelNames = []string{bestModel, retrainedModel}

// runDir is one entry of the fixed run table.
type runDir struct {
	id   int
	name string // as given on the command line
	dir  string // absolute

	mu     sync.Mutex
	fp     fingerprint
	read   time.Time // when snap was read
	snap   *snapshot
	models map[string]*modelCache
}

// fingerprint is what changes when a search writes: sizes and modification
// times of the run's files. (nas.db-shm is left out: readers write it.)
type fingerprint [2 * 4]int64

var watched = []string{search.DBFile, search.DBFile + "-wal", bestModel, retrainedModel}

func (r *runDir) fingerprint() (fp fingerprint, last time.Time) {
	for i, f := range watched {
		if fi, err := os.Stat(filepath.Join(r.dir, f)); err == nil {
			fp[2*i], fp[2*i+1] = fi.Size(), fi.ModTime().UnixNano()
			if fi.ModTime().After(last) {
				last = fi.ModTime()
			}
		} else {
			fp[2*i] = -1
		}
	}
	return fp, last
}

// snapshot is a run's data as the view serves it.
type snapshot struct {
	summary runJSON
	trials  []trialJSON
	// shape is the input size and classes of best.onnx (ok: it has one),
	// what an architecture is drawn with.
	shape   onnxgen.Input
	classes int
	shapeOK bool
}

// runJSON is a run's summary.
type runJSON struct {
	ID      int             `json:"id"`
	Name    string          `json:"name"`
	Error   string          `json:"error,omitempty"`
	Options *search.Options `json:"options,omitempty"`
	Dataset string          `json:"dataset,omitempty"`
	Created *time.Time      `json:"created,omitempty"`
	Updated *time.Time      `json:"updated,omitempty"`
	// Trials counts the rows, Final those with a final status.
	Trials   int            `json:"trials"`
	Final    int            `json:"final"`
	Statuses map[string]int `json:"statuses"`
	Best     *trialRef      `json:"best,omitempty"`
	// BestValAcc is the highest validation accuracy of any done or
	// stopped trial (at any epoch).
	BestValAcc *float64    `json:"best_val_acc,omitempty"`
	TestAcc    *float64    `json:"test_acc,omitempty"`
	TestFrom   string      `json:"test_from,omitempty"`
	Models     []modelJSON `json:"models"`
	Version    string      `json:"version"`
}

type trialRef struct {
	Index  int     `json:"index"`
	Reward float64 `json:"reward"`
	ValAcc float64 `json:"val_acc"`
	Arch   string  `json:"arch"`
}

type modelJSON struct {
	Name    string   `json:"name"`
	Size    int64    `json:"size"`
	Arch    string   `json:"arch,omitempty"`
	Trial   int      `json:"trial"` // -1: unknown
	TestAcc *float64 `json:"test_acc,omitempty"`
}

// trialJSON is one trial's row.
type trialJSON struct {
	Index     int        `json:"index"`
	Iteration int        `json:"iteration"`
	Arch      string     `json:"arch"`
	Layers    int        `json:"layers"`
	Strategy  string     `json:"strategy"`
	Status    string     `json:"status"`
	Reward    float64    `json:"reward"`
	ValAcc    floats     `json:"val_acc"`
	BestVal   *float64   `json:"best_val,omitempty"`
	Params    int64      `json:"params"`
	FLOPs     int64      `json:"flops"`
	Seconds   float64    `json:"seconds"`
	Error     string     `json:"error,omitempty"`
	DupOf     *int       `json:"dup_of,omitempty"`
	Seed      string     `json:"seed"` // uint64: too wide for a JSON number in a browser
	Started   *time.Time `json:"started,omitempty"`
	Finished  *time.Time `json:"finished,omitempty"`
	// Worker is where the trial ran: the worker process's name (nas
	// worker), or "local" (the search's own process).
	Worker string   `json:"worker"`
	Models []string `json:"models,omitempty"`
}

// modelCache is what modelfile found in one model file, with the file's
// size and time when it was read.
type modelCache struct {
	size  int64
	mtime int64
	info  modelfile.Info
	sum   string // search.ModelSum of the file
	err   error
}

// state is the run's snapshot, read again when its files changed or it is
// older than RefreshEvery.
func (r *runDir) state() *snapshot {
	fp, last := r.fingerprint()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.snap != nil && fp == r.fp && time.Since(r.read) < RefreshEvery {
		return r.snap
	}
	r.fp, r.read = fp, time.Now()
	r.snap = r.load(last)
	return r.snap
}

// model reads (or reuses) the metadata of one of the run's model files;
// nil when the file is absent.
func (r *runDir) model(name string) (*modelCache, int64) {
	fi, err := os.Stat(filepath.Join(r.dir, name))
	if err != nil {
		delete(r.models, name)
		return nil, 0
	}
	if m := r.models[name]; m != nil && m.size == fi.Size() && m.mtime == fi.ModTime().UnixNano() {
		return m, fi.Size()
	}
	m := &modelCache{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	if err == nil {
		m.sum = search.ModelSum(b)
		m.info, err = modelfile.Read(b)
	}
	m.err = err
	if r.models == nil {
		r.models = map[string]*modelCache{}
	}
	r.models[name] = m
	return m, fi.Size()
}

func (r *runDir) load(last time.Time) *snapshot {
	sn := &snapshot{summary: runJSON{ID: r.id, Name: r.name, Statuses: map[string]int{}, Models: []modelJSON{}}}
	sum := &sn.summary
	if !last.IsZero() {
		sum.Updated = &last
	}
	st, err := search.ReadRunState(r.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		sum.Error = "no run recorded yet"
	case err != nil:
		sum.Error = err.Error()
	}
	if err != nil {
		sum.Version = digest(sum, nil)
		return sn
	}
	sum.Options = &st.Options
	sum.Dataset = st.Options.Child.WithDefaults().Dataset
	if !st.Created.IsZero() {
		sum.Created = &st.Created
	}
	sum.Trials = len(st.Trials)
	models := map[string]*modelCache{}
	// best.onnx copies the final model when the run has one, else the best
	// trial's (search.RunState.Model).
	bestIdx, bestSum, _ := st.Model()
	for _, name := range modelNames {
		m, size := r.model(name)
		if m == nil {
			continue
		}
		models[name] = m
		mj := modelJSON{Name: name, Size: size, Trial: -1}
		if m.err == nil {
			mj.Arch = m.info.Metadata["nas.arch"]
			if v, err := strconv.ParseFloat(m.info.Metadata["nas.test_accuracy"], 64); err == nil {
				mj.TestAcc = &v
			}
		}
		// best.onnx is the run's model only when it is a copy of the one
		// nas.db holds (a search killed between committing a new best and
		// copying it leaves the old one).
		if name == bestModel && (bestSum == "" || m.sum == bestSum) {
			mj.Trial = bestIdx
			if m.err == nil {
				sn.shape, sn.classes, sn.shapeOK = m.info.Input, m.info.Classes, true
			}
		}
		if mj.TestAcc != nil && (sum.TestAcc == nil || name == retrainedModel) {
			sum.TestAcc, sum.TestFrom = mj.TestAcc, name
		}
		sum.Models = append(sum.Models, mj)
	}
	best := -1
	for i, rec := range st.Trials {
		sum.Statuses[rec.Status.String()]++
		if rec.Status != search.Running {
			sum.Final++
		}
		tj := trialOf(rec)
		if rec.Status == search.Done && (best < 0 || rec.Reward > st.Trials[best].Reward) {
			best = i
		}
		if (rec.Status == search.Done || rec.Status == search.Stopped) && tj.BestVal != nil &&
			(sum.BestValAcc == nil || *tj.BestVal > *sum.BestValAcc) {
			v := *tj.BestVal
			sum.BestValAcc = &v
		}
		if m := models[bestModel]; rec.Index == bestIdx && m != nil && (bestSum == "" || m.sum == bestSum) {
			tj.Models = append(tj.Models, bestModel)
		}
		if m := models[retrainedModel]; m != nil && m.err == nil && m.info.Metadata["nas.arch"] == rec.Arch && rec.Status == search.Done {
			tj.Models = append(tj.Models, retrainedModel)
		}
		sn.trials = append(sn.trials, tj)
	}
	if best >= 0 {
		b := st.Trials[best]
		sum.Best = &trialRef{Index: b.Index, Reward: b.Reward, ValAcc: bestOf(b.ValAcc), Arch: b.Arch}
	}
	if sn.trials == nil {
		sn.trials = []trialJSON{}
	}
	sum.Version = digest(sum, sn.trials)
	return sn
}

// digest is the version of a run's data: a hash of its JSON (Updated and
// Version left out, so a file touched without new data keeps it).
func digest(sum *runJSON, trials []trialJSON) string {
	s := *sum
	s.Updated, s.Version = nil, ""
	b, _ := json.Marshal(struct {
		S *runJSON
		T []trialJSON
	}{&s, trials})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

func trialOf(r search.Record) trialJSON {
	t := trialJSON{Index: r.Index, Iteration: r.Iteration, Arch: r.Arch, Layers: r.Layers, Strategy: r.Strategy,
		Status: r.Status.String(), Reward: r.Reward, ValAcc: r.ValAcc, Params: r.Params, FLOPs: r.FLOPs, Seconds: r.Seconds,
		Error: r.Error, Seed: strconv.FormatUint(r.Seed, 10), Worker: workerName(r.Worker)}
	if t.ValAcc == nil {
		t.ValAcc = []float64{}
	}
	if v := bestOf(r.ValAcc); len(r.ValAcc) > 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
		t.BestVal = &v
	}
	if r.DupOf >= 0 {
		d := r.DupOf
		t.DupOf = &d
	}
	if !r.Started.IsZero() {
		s := r.Started
		t.Started = &s
	}
	if !r.Finished.IsZero() {
		f := r.Finished
		t.Finished = &f
	}
	return t
}

// floats is a JSON array of numbers in which a non-finite value (a
// diverged child's accuracy) is null.
type floats []float64

func (f floats) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	for i, v := range f {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	}
	return append(b, ']'), nil
}

func bestOf(acc []float64) float64 {
	best := math.NaN()
	for _, v := range acc {
		if !math.IsNaN(v) && (math.IsNaN(best) || v > best) {
			best = v
		}
	}
	if math.IsNaN(best) {
		return 0
	}
	return best
}

// workerName is a trial's worker as the page shows it: "local" for the
// search's own process.
func workerName(w string) string {
	if w == "" {
		return "local"
	}
	return w
}
