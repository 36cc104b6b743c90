package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nas-project/nas/internal/dataset"
	"github.com/nas-project/nas/internal/localeval"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/search"
)

// The checks of the user's input that the commands share; each returns a
// usage error (status 2) saying what was wrong.

// firstErr is the first of errs that is not nil.
func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkOutput checks, before any work is done, that a model can be written
// to path (the -o of a command): not a directory, in a directory that
// exists and takes new files.
func checkOutput(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return usagef("-o %s is a directory: give a file name, e.g. %s", path, filepath.Join(path, "model.onnx"))
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return usagef("-o %s: directory %s does not exist", path, dir)
	}
	if !st.IsDir() {
		return usagef("-o %s: %s is not a directory", path, dir)
	}
	f, err := os.CreateTemp(dir, ".nas-check-*")
	if err != nil {
		return usagef("-o %s: cannot write in %s: %v", path, dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkDefaultOutput checks, before any work is done, that a command's
// default output, a file in the run directory, can be written there; when
// it cannot (a read-only directory or mount), the error says to give -o.
func checkDefaultOutput(cmd, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".nas-check-*")
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return usagef("%s: cannot write %s in the run directory (%v): give -o FILE somewhere writable", cmd, path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkTrialFlag refuses a negative --trial the user gave (negative is the
// flag's internal "the best", not a trial).
func checkTrialFlag(cmd *cobra.Command, trial int) error {
	if cmd.Flags().Changed("trial") && trial < 0 {
		return usagef("--trial %d: want a trial index >= 0 (leave --trial out for the best trial)", trial)
	}
	return nil
}

// checkThreads refuses more intra-op threads than the machine has cores:
// they would only compete for them.
func checkThreads(threads int) error {
	if n := runtime.NumCPU(); threads > n {
		return usagef("--threads %d: this machine has %d cores; want 0 (all of them) to %d", threads, n, n)
	}
	return nil
}

// checkDataFlag refuses an empty --data (the options would read it as their
// default, the digits fixture).
func checkDataFlag(co search.ChildOptions) error {
	if co.Dataset == "" {
		return usagef("--data is empty: name a data set (fashion-mnist, mnist, digits, cifar10) or a directory")
	}
	return nil
}

// loadData loads the child's data as localeval.LoadData does; the data set
// is the user's input, so its errors (missing, malformed, a split that does
// not fit) are usage errors.
func loadData(root string, co search.ChildOptions, seed uint64) (localeval.Data, error) {
	d, err := localeval.LoadData(root, co, seed)
	if err != nil {
		return d, usageError{err}
	}
	return d, nil
}

// loadTest loads the test split of a data set (errors as loadData).
func loadTest(name, root string) (*dataset.Set, error) {
	_, test, err := dataset.Load(name, root)
	if err != nil {
		return nil, usageError{err}
	}
	return test, nil
}

// checkTrainable refuses child options under which no child can train on
// data: a batch larger than the training images, a learning rate that is
// zero in float32 (the precision children train in).
func checkTrainable(co search.ChildOptions, data localeval.Data) error {
	co = co.WithDefaults()
	if n := data.Train.Len(); co.Batch > n {
		return usagef("--batch %d exceeds the %d training images (--train-size, and the data set less --val-size): no child could train", co.Batch, n)
	}
	if float32(co.LR) == 0 {
		return usagef("--lr %g is 0 in float32, the precision children train in: no child would learn", co.LR)
	}
	return nil
}

// maxProtoBytes is the largest protobuf message, and so the largest ONNX
// file without external data, that readers accept (2 GiB − 1: onnx.load,
// ONNX Runtime and protobuf itself refuse more).
const maxProtoBytes = math.MaxInt32

// maxTensorElements is the most elements one tensor of a model may hold
// (onnxgen counts them in int32).
const maxTensorElements = math.MaxInt32

// checkSize refuses, before anything is built, an architecture whose
// tensors or model file would be too large: a weight tensor over
// maxTensorElements elements, or (when the model is to be written, file
// true) weights over maxProtoBytes bytes.
func checkSize(a onnxgen.Arch, in onnxgen.Input, classes int, file bool) error {
	shapes, err := a.Shapes(in)
	if err != nil {
		return usageError{err}
	}
	head := onnxgen.Input{}
	for _, j := range a.HeadInputs() {
		head.C += shapes[j].Out.C
	}
	tensor := func(what string, dims ...int) error {
		n := 1.0
		s := make([]string, len(dims))
		for i, d := range dims {
			n *= float64(d)
			s[i] = fmt.Sprint(d)
		}
		if n > maxTensorElements {
			return usagef("%s would hold %.0f values (%s); an ONNX tensor here holds at most %d: use fewer filters or smaller kernels",
				what, n, strings.Join(s, "x"), maxTensorElements)
		}
		return nil
	}
	var params float64
	for i, l := range a.Layers {
		if err := tensor(fmt.Sprintf("layer %d's weights", i), l.Filters, shapes[i].In.C, l.KH, l.KW); err != nil {
			return err
		}
		params += float64(l.Filters) * float64(shapes[i].In.C) * float64(l.KH) * float64(l.KW)
	}
	if err := tensor("the head's weights", classes, head.C); err != nil {
		return err
	}
	params += float64(classes) * float64(head.C)
	if file && 4*params > maxProtoBytes {
		return usagef("the model's weights take %.2f GiB; an ONNX file holds at most 2 GiB (the protobuf limit): use fewer filters or smaller kernels",
			4*params/(1<<30))
	}
	return nil
}

// readRun reads the run in dir (search.ReadRun); its errors name the file
// they are about and say what to do where something can be done.
func readRun(dir string) (search.Options, []search.Record, error) {
	opts, recs, err := search.ReadRun(dir)
	if err != nil {
		return opts, recs, runError(dir, err)
	}
	return opts, recs, nil
}

// runError names the run database in an error about it (unless it is
// named already) and adds what to do.
func runError(dir string, err error) error {
	db := filepath.Join(dir, search.DBFile)
	msg := err.Error()
	if strings.Contains(msg, "is not a run directory") {
		return usageError{err}
	}
	var hint string
	switch {
	case errors.Is(err, search.ErrNoRun):
		if search.CheckNewRunDir(dir) == nil {
			hint = "the run's creation was interrupted before it was recorded; start a new run: nas search --dir " + dir + " replaces this " + search.DBFile
		} else {
			hint = "the run's row is missing (damaged); start a new run: move " + db + " away, or choose another --dir"
		}
	case errors.Is(err, search.ErrModelChecksum):
		hint = "the best model stored in the database is damaged; nas search --resume " + dir + " restores it from " +
			filepath.Join(dir, search.BestFile) + " when that file is intact"
	case strings.Contains(msg, "malformed"), strings.Contains(msg, "not a database"):
		hint = "the database is damaged; restore it from a copy, or start a new run in another directory"
	case strings.Contains(msg, "run database version"):
		hint = "the run was written by another nas version; read it with that version"
	case strings.Contains(msg, "decode run options"):
		hint = "the stored options are damaged or from another nas version"
	case strings.Contains(msg, "val_acc"), strings.Contains(msg, "read trials"):
		hint = "the trial table is damaged"
	}
	if !strings.Contains(msg, db) {
		err = fmt.Errorf("%s: %w", db, err)
	}
	if hint != "" {
		err = fmt.Errorf("%w (%s)", err, hint)
	}
	return err
}

// bestModelError names a run's best.onnx in an error about reading or
// running it, and says how to restore it.
func bestModelError(dir string, err error) error {
	path := filepath.Join(dir, search.BestFile)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is missing: nas search --resume %s writes it again from %s", path, dir, search.DBFile)
	}
	return fmt.Errorf("%s: %w (damaged? nas search --resume %s writes it again from %s)", path, err, dir, search.DBFile)
}
