package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/internal/atomicfile"
	"github.com/nas-project/nas/onnxgen"
	"github.com/nas-project/nas/onnxgen/graph"
	"github.com/nas-project/nas/onnxgen/onnxpb"
)

func (a *app) compileCmd() *cobra.Command {
	var (
		arch, input, space, out string
		classes                 int
		seed                    uint64
		text, train, bn         bool
		opt                     optimizerFlags
	)
	cmd := &cobra.Command{
		Use:   "compile --arch STR",
		Short: "Compile an architecture string into an ONNX model",
		Long: `Compile an architecture string into an ONNX model (IR 8, opset 17): the inference graph, or with
--train the training-step graph (forward, loss, backward and SGD update in standard ONNX ops).
With --text it prints the model's readable text instead of writing it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := parseInput(input)
			if err != nil {
				return usageError{err}
			}
			a, err := parseArch(arch, space)
			if err != nil {
				return err
			}
			if !text {
				if out == "" {
					return usagef("compile: give -o FILE to write the model, or --text to print it")
				}
				if err := checkOutput(out); err != nil {
					return err
				}
			}
			if err := checkSize(a, in, classes, !text); err != nil {
				return err
			}
			opts := onnxgen.Options{Seed: seed, BatchNorm: bn}
			var m *onnxpb.ModelProto
			if train {
				m, err = onnxgen.CompileTrain(a, in, classes, onnxgen.TrainOptions{Options: opts,
					Momentum: float32(opt.momentum), WeightDecay: float32(opt.wd), Nesterov: opt.nesterov})
			} else {
				m, err = onnxgen.Compile(a, in, classes, opts)
			}
			if err != nil {
				return usageError{err}
			}
			if text {
				_, err := fmt.Fprint(cmd.OutOrStdout(), graph.Text(m))
				return err
			}
			b, err := marshalModel(m)
			if err != nil {
				return fmt.Errorf("compile: %w", err)
			}
			return atomicfile.Write(out, b)
		},
	}
	f := cmd.Flags()
	f.StringVar(&arch, "arch", "", "the architecture, e.g. 'kh3 kw3 f36 | kh5 kw5 f48 in0' (required)")
	f.StringVar(&input, "input", "3x32x32", "input image shape CxHxW")
	f.IntVar(&classes, "classes", 10, "number of classes")
	f.StringVar(&space, "space", "", "also check the architecture against a search space (v1, v2, v3, v3-wide)")
	f.Uint64Var(&seed, "seed", 1, "seed of the weight initialisation")
	f.BoolVar(&bn, "bn", false, "batch normalisation after each convolution")
	f.BoolVar(&train, "train", false, "write the training-step graph instead of the inference graph")
	opt.register(f) // the training step's SGD constants, as nas train's
	f.BoolVar(&text, "text", false, "print the model as text instead of writing it")
	f.StringVarP(&out, "output", "o", "", "write the model to this file")
	_ = cmd.MarkFlagRequired("arch")
	return cmd
}

// parseArch parses an architecture string, checked against the named search
// space when there is one. Its errors are usage errors.
func parseArch(s, space string) (onnxgen.Arch, error) {
	if space == "" {
		a, err := onnxgen.Parse(s)
		if err != nil {
			return onnxgen.Arch{}, usageError{err}
		}
		return a, nil
	}
	sp, err := onnxgen.SpaceByName(space)
	if err != nil {
		return onnxgen.Arch{}, usageError{err}
	}
	a, err := sp.ParseArch(s)
	if err != nil {
		return onnxgen.Arch{}, usageError{err}
	}
	return a, nil
}

// parseInput parses an image shape written CxHxW, e.g. 3x32x32.
func parseInput(s string) (onnxgen.Input, error) {
	parts := strings.Split(s, "x")
	if len(parts) != 3 {
		return onnxgen.Input{}, fmt.Errorf("--input %q: want CxHxW, e.g. 3x32x32", s)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return onnxgen.Input{}, fmt.Errorf("--input %q: %q is not a positive integer", s, p)
		}
		v[i] = n
	}
	return onnxgen.Input{C: v[0], H: v[1], W: v[2]}, nil
}

// marshalModel encodes a model deterministically, refusing one over the
// protobuf limit that readers (onnx.load, ONNX Runtime) cannot load.
func marshalModel(m *onnxpb.ModelProto) ([]byte, error) {
	if n := proto.Size(m); n > maxProtoBytes {
		return nil, fmt.Errorf("the model takes %.2f GiB; an ONNX file holds at most 2 GiB (the protobuf limit)", float64(n)/(1<<30))
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
