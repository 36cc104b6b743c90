package controller

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nas-project/nas/internal/atomicfile"
)

// Checkpoint file layout (all integers little-endian):
//
//	magic    8 bytes  "NASCTRL\x00"
//	version  uint32   checkpointVersion
//	length   uint64   n, the payload's size
//	payload  n bytes  gob of ckpt
//	checksum 32 bytes SHA-256 of the payload
const (
	checkpointMagic   = "NASCTRL\x00"
	checkpointVersion = 1
	maxPayload        = 1 << 30
)

// ErrCorrupt is wrapped by every error about a checkpoint that is not a
// well-formed, intact controller checkpoint.
var ErrCorrupt = errors.New("corrupt checkpoint")

// ErrMismatch is wrapped by every error about a sound checkpoint that was
// made for another configuration or search space.
var ErrMismatch = errors.New("checkpoint made for another configuration or space")

type ckptParam struct {
	Name       string
	Rows, Cols int
	W, M, V    []float64
}

type ckpt struct {
	Config      Config
	Space       layout
	Fingerprint [32]byte
	Params      []ckptParam
	Step        int
	Baseline    float64
	BaselineSet bool
	RNG         []byte
}

// Save writes the whole state: configuration, space and its fingerprint,
// weights, Adam moments, baseline, step count and the sampler's RNG state.
func (c *Controller) Save(w io.Writer) (err error) {
	defer recoverTo(&err)
	rng, err := c.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("controller: save: rng state: %w", err)
	}
	ck := ckpt{Config: c.cfg, Space: c.sp, Fingerprint: c.fp, Step: c.step,
		Baseline: c.baseline, BaselineSet: c.baselineSet, RNG: rng}
	for pi, p := range c.w.all {
		ck.Params = append(ck.Params, ckptParam{Name: p.name, Rows: p.rows, Cols: p.cols, W: p.w, M: c.adamM[pi], V: c.adamV[pi]})
	}
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(&ck); err != nil {
		return fmt.Errorf("controller: save: encode: %w", err)
	}
	var head [20]byte
	copy(head[:8], checkpointMagic)
	binary.LittleEndian.PutUint32(head[8:12], checkpointVersion)
	binary.LittleEndian.PutUint64(head[12:20], uint64(payload.Len()))
	sum := sha256.Sum256(payload.Bytes())
	for _, b := range [][]byte{head[:], payload.Bytes(), sum[:]} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("controller: save: %w", err)
		}
	}
	return nil
}

// SaveFile writes the checkpoint atomically (package atomicfile: a
// temporary file in the same directory, synced, renamed over path, the
// directory synced).
func (c *Controller) SaveFile(path string) error {
	if err := atomicfile.WriteFunc(path, c.Save); err != nil {
		return fmt.Errorf("controller: save: %w", err)
	}
	return nil
}

// Load reads a checkpoint written by Save and returns the controller it
// describes. cfg and sp must be those the checkpoint was made with (after
// defaults); otherwise the error wraps ErrMismatch. A damaged, truncated or
// foreign file gives an error wrapping ErrCorrupt.
func Load(r io.Reader, cfg Config, sp Space) (c *Controller, err error) {
	defer recoverTo(&err)
	var head [20]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("controller: load: header: %w: %w", ErrCorrupt, err)
	}
	if string(head[:8]) != checkpointMagic {
		return nil, fmt.Errorf("controller: load: %w: not a controller checkpoint (bad magic %q)", ErrCorrupt, head[:8])
	}
	if v := binary.LittleEndian.Uint32(head[8:12]); v != checkpointVersion {
		return nil, fmt.Errorf("controller: load: %w: version %d, this build reads %d", ErrCorrupt, v, checkpointVersion)
	}
	n := binary.LittleEndian.Uint64(head[12:20])
	if n > maxPayload {
		return nil, fmt.Errorf("controller: load: %w: payload length %d too large", ErrCorrupt, n)
	}
	body := make([]byte, n+sha256.Size)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("controller: load: %w: truncated (want %d payload bytes and a checksum): %w", ErrCorrupt, n, err)
	}
	payload, sum := body[:n], body[n:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("controller: load: %w: checksum mismatch", ErrCorrupt)
	}
	var ck ckpt
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&ck); err != nil {
		return nil, fmt.Errorf("controller: load: %w: decode: %w", ErrCorrupt, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if want := cfg.WithDefaults(); ck.Config != want {
		return nil, fmt.Errorf("controller: load: %w: checkpoint config %+v, want %+v", ErrMismatch, ck.Config, want)
	}
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	if fp := sp.layout().fingerprint(); fp != ck.Fingerprint || ck.Space.fingerprint() != fp {
		return nil, fmt.Errorf("controller: load: %w: checkpoint made for another search space (fingerprint %x, want %x)", ErrMismatch, ck.Fingerprint[:6], fp[:6])
	}
	c, err = New(cfg, sp)
	if err != nil {
		return nil, err
	}
	if len(ck.Params) != len(c.w.all) {
		return nil, fmt.Errorf("controller: load: %w: %d parameters, want %d", ErrCorrupt, len(ck.Params), len(c.w.all))
	}
	for pi, p := range c.w.all {
		q := ck.Params[pi]
		n := p.size()
		if q.Name != p.name || q.Rows != p.rows || q.Cols != p.cols || len(q.W) != n || len(q.M) != n || len(q.V) != n {
			return nil, fmt.Errorf("controller: load: %w: parameter %d is %s %dx%d (%d values), want %s %dx%d", ErrCorrupt, pi, q.Name, q.Rows, q.Cols, len(q.W), p.name, p.rows, p.cols)
		}
		copy(p.w, q.W)
		copy(c.adamM[pi], q.M)
		copy(c.adamV[pi], q.V)
	}
	if err := c.pcg.UnmarshalBinary(ck.RNG); err != nil {
		return nil, fmt.Errorf("controller: load: %w: rng state: %w", ErrCorrupt, err)
	}
	if ck.Step < 0 || !finite(ck.Baseline) {
		return nil, fmt.Errorf("controller: load: %w: step %d, baseline %v", ErrCorrupt, ck.Step, ck.Baseline)
	}
	c.step, c.baseline, c.baselineSet = ck.Step, ck.Baseline, ck.BaselineSet
	return c, nil
}

// LoadFile is Load from a file.
func LoadFile(path string, cfg Config, sp Space) (*Controller, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("controller: load %s: %w", path, err)
	}
	defer f.Close()
	c, err := Load(f, cfg, sp)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return c, nil
}
