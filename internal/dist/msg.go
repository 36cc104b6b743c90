package dist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/nas-project/nas/search"
)

// The streams, subjects and names every search and worker agree on.
const (
	// TrialStream is the work queue of trials; its subjects are
	// nas.trials.<run id>.
	TrialStream = "NAS_TRIALS"
	// Consumer is the one durable pull consumer of TrialStream that every
	// worker shares (a work-queue stream refuses overlapping consumers).
	Consumer = "nas-workers"
	// ResultStream holds the outcomes workers publish, on
	// nas.results.<run id>; each search consumes its own run's.
	ResultStream = "NAS_RESULTS"
	// ModelBucket is the object store through which a model the search
	// asks for travels (a worker puts it there, the search takes it and
	// deletes it).
	ModelBucket = "nas-models"

	trialPrefix  = "nas.trials."
	resultPrefix = "nas.results."
	// modelPrefix: a worker answers requests for the models it keeps on
	// nas.models.<worker id>.
	modelPrefix = "nas.models."
)

// MaxMessageBytes is the largest trial or result message (the streams'
// MaxMsgSize; a worker rejects a larger trial). Models travel through
// ModelBucket, not in messages.
const MaxMessageBytes = 1 << 20

// messageVersion is the version of TrialMsg and ResultMsg's JSON (2: the
// trial's time limit and checksum, models kept by the worker).
const messageVersion = 2

// runIDPattern: a run id is one subject token.
var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// TrialMsg is a trial as it crosses the network: everything a worker on
// another machine needs to train it, with no run directory or shared disk.
type TrialMsg struct {
	Version int `json:"v"`
	// RunID names the search (a subject token).
	RunID string `json:"run"`
	// DataSeed seeds the data split (localeval.LoadData's seed: the run's
	// seed), so every worker trains on the same training and validation
	// images.
	DataSeed uint64 `json:"data_seed"`
	// Trial is the trial: index, iteration, architecture, seed, child
	// options (the data set by name among them) and the early-stopping
	// thresholds.
	Trial search.Trial `json:"trial"`
	// TimeLimit is the trial's time limit on the worker (its evaluator's
	// context deadline); zero: none.
	TimeLimit time.Duration `json:"time_limit,omitempty"`
	// ShipModel asks the worker to put the trained model in ModelBucket
	// with its result (a trial trained again because the worker that kept
	// its model is gone), rather than keep it.
	ShipModel bool `json:"ship_model,omitempty"`
}

// Key is the trial's key: run id and index. Results are de-duplicated by
// it (the first one wins).
func (m TrialMsg) Key() string { return key(m.RunID, m.Trial.Index) }

// Sum is the checksum of what determines the trial's outcome (run id,
// data seed, the trial): a result is taken only for the trial it answers,
// not for another trial at the same index (a run of the same directory
// created again, with other options).
func (m TrialMsg) Sum() string {
	b, _ := json.Marshal(struct {
		Run   string       `json:"run"`
		Data  uint64       `json:"data_seed"`
		Trial search.Trial `json:"trial"`
	}{m.RunID, m.DataSeed, m.Trial})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:16])
}

func key(run string, index int) string { return run + "." + strconv.Itoa(index) }

// DecodeTrial reads a trial message, refusing one that is too large, not
// JSON of this version, or incomplete; the error says what is wrong.
func DecodeTrial(b []byte) (TrialMsg, error) {
	var m TrialMsg
	if len(b) > MaxMessageBytes {
		return m, fmt.Errorf("dist: trial message of %d bytes, more than the limit %d", len(b), MaxMessageBytes)
	}
	if err := strictJSON(b, &m); err != nil {
		return m, fmt.Errorf("dist: trial message: %w", err)
	}
	switch {
	case m.Version != messageVersion:
		return m, fmt.Errorf("dist: trial message version %d, this nas reads %d", m.Version, messageVersion)
	case !runIDPattern.MatchString(m.RunID):
		return m, fmt.Errorf("dist: trial message: run id %q: want 1 to 64 letters, digits, - or _", m.RunID)
	case m.Trial.Index < 0 || m.Trial.Iteration < 0:
		return m, fmt.Errorf("dist: trial message: trial %d of iteration %d: want non-negative numbers", m.Trial.Index, m.Trial.Iteration)
	case m.Trial.Arch == "":
		return m, fmt.Errorf("dist: trial message: trial %d has no architecture", m.Trial.Index)
	case m.TimeLimit < 0:
		return m, fmt.Errorf("dist: trial message: trial %d: time limit %v", m.Trial.Index, m.TimeLimit)
	}
	if err := m.Trial.Child.WithDefaults().Validate(); err != nil {
		return m, fmt.Errorf("dist: trial message: trial %d: %w", m.Trial.Index, err)
	}
	return m, nil
}

// ResultMsg is a worker's answer for a trial.
type ResultMsg struct {
	Version int    `json:"v"`
	RunID   string `json:"run"`
	Index   int    `json:"index"`
	// Arch and Seed repeat the trial's; Trial is its TrialMsg.Sum: a
	// result is only taken for the trial it answers.
	Arch  string `json:"arch"`
	Seed  uint64 `json:"seed"`
	Trial string `json:"trial"`
	// ShipModel repeats the trial message's.
	ShipModel bool `json:"ship_model,omitempty"`
	// Worker names the worker that trained it; Delivery is which delivery
	// of the trial message it trained (1: the first), Seq that message's
	// stream sequence.
	Worker   string `json:"worker"`
	Delivery uint64 `json:"delivery"`
	Seq      uint64 `json:"seq"`
	// Outcome is the evaluator's outcome without the model.
	Outcome Outcome `json:"outcome"`
	// Model names the trained model's object in ModelBucket (a trial
	// message with ShipModel); empty: none.
	Model string `json:"model,omitempty"`
	// ModelAt is the subject where the worker that keeps the trained
	// model answers a request for it; empty: none kept.
	ModelAt string `json:"model_at,omitempty"`
	// Error is the evaluator's error (an infrastructure failure); empty:
	// none.
	Error string `json:"error,omitempty"`
}

// Outcome is search.Outcome as it crosses the network: without the model.
type Outcome struct {
	Status        string    `json:"status"`
	Reason        string    `json:"reason,omitempty"`
	Reward        float64   `json:"reward"`
	ValAcc        []float64 `json:"val_acc"`
	Params, FLOPs int64
	Seconds       float64 `json:"seconds"`
}

func outcomeMsg(o search.Outcome) Outcome {
	return Outcome{Status: o.Status.String(), Reason: o.Reason, Reward: o.Reward, ValAcc: o.ValAcc, Params: o.Params, FLOPs: o.FLOPs, Seconds: o.Seconds}
}

func (o Outcome) outcome() (search.Outcome, error) {
	st, err := search.ParseStatus(o.Status)
	if err != nil {
		return search.Outcome{}, err
	}
	return search.Outcome{Status: st, Reason: o.Reason, Reward: o.Reward, ValAcc: o.ValAcc, Params: o.Params, FLOPs: o.FLOPs, Seconds: o.Seconds}, nil
}

// DecodeResult reads a result message (as DecodeTrial).
func DecodeResult(b []byte) (ResultMsg, error) {
	var m ResultMsg
	if len(b) > MaxMessageBytes {
		return m, fmt.Errorf("dist: result message of %d bytes, more than the limit %d", len(b), MaxMessageBytes)
	}
	if err := strictJSON(b, &m); err != nil {
		return m, fmt.Errorf("dist: result message: %w", err)
	}
	switch {
	case m.Version != messageVersion:
		return m, fmt.Errorf("dist: result message version %d, this nas reads %d", m.Version, messageVersion)
	case !runIDPattern.MatchString(m.RunID) || m.Index < 0:
		return m, fmt.Errorf("dist: result message: run %q, trial %d", m.RunID, m.Index)
	}
	if _, err := search.ParseStatus(m.Outcome.Status); err != nil && m.Error == "" {
		return m, fmt.Errorf("dist: result message: trial %d: %w", m.Index, err)
	}
	return m, nil
}

// strictJSON decodes one JSON object, refusing unknown fields and
// trailing data.
func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the JSON object")
	}
	return nil
}
