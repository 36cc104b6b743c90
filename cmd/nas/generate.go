package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/nas-project/nas/onnxgen/onnxpb"
	"github.com/nas-project/nas/runner"
)

// lmModel is what generate reads of a language model nas exported: its
// vocabulary, level and state shape.
type lmModel struct {
	vocab         []string
	char          bool
	layers, width int64 // h and c are [layers, N, width]
}

// readLMModel reads the interface of an exported language model (see
// onnxgen.LMInference): inputs token, h, c; outputs logits, h.next, c.next;
// the vocabulary in metadata_props "nas.vocab", the level in "nas.level".
func readLMModel(path string, b []byte) (lmModel, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		return lmModel{}, fmt.Errorf("generate: %s is not an ONNX model: %w", path, err)
	}
	var lm lmModel
	meta := map[string]string{}
	for _, p := range m.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	v, ok := meta["nas.vocab"]
	if !ok {
		return lmModel{}, fmt.Errorf("generate: %s has no vocabulary (metadata nas.vocab): not a language model nas exported", path)
	}
	if err := json.Unmarshal([]byte(v), &lm.vocab); err != nil || len(lm.vocab) < 2 {
		return lmModel{}, fmt.Errorf("generate: %s: metadata nas.vocab is not a JSON array of at least two tokens", path)
	}
	lm.char = meta["nas.level"] == "char"
	var names []string
	for _, in := range m.GetGraph().GetInput() {
		names = append(names, in.GetName())
		if in.GetName() == "h" {
			d := in.GetType().GetTensorType().GetShape().GetDim()
			if len(d) == 3 {
				lm.layers, lm.width = d[0].GetDimValue(), d[2].GetDimValue()
			}
		}
	}
	if !slices.Equal(names, []string{"token", "h", "c"}) || lm.layers <= 0 || lm.width <= 0 {
		return lmModel{}, fmt.Errorf("generate: %s: inputs %v: want token, h and c [layers, N, hidden]", path, names)
	}
	return lm, nil
}

// encode is the prompt as token ids: words (word level; a word the
// vocabulary lacks is looked up lowercased) or characters, unknown ones as
// <unk>; an empty prompt is one end of sentence.
func (lm lmModel) encode(prompt string) []int64 {
	index := make(map[string]int64, len(lm.vocab))
	for i, t := range lm.vocab {
		index[t] = int64(i)
	}
	unk := index["<unk>"]
	var toks []string
	if lm.char {
		for _, r := range prompt {
			toks = append(toks, string(r))
		}
	} else {
		toks = strings.Fields(prompt)
	}
	if len(toks) == 0 {
		return []int64{0} // Vocab[0] is the end of a sentence (a newline at character level)
	}
	ids := make([]int64, len(toks))
	for i, t := range toks {
		id, ok := index[t]
		if !ok && !lm.char {
			id, ok = index[strings.ToLower(t)] // word-level corpora are lowercased (PTB, Brown as nas prepares it)
		}
		if !ok {
			id = unk
		}
		ids[i] = id
	}
	return ids
}

// text renders generated ids: characters joined, or words separated by
// spaces with <eos> as a line break.
func (lm lmModel) text(ids []int64) string {
	var b strings.Builder
	for _, id := range ids {
		t := lm.vocab[id]
		switch {
		case lm.char:
			b.WriteString(t)
		case t == "<eos>":
			b.WriteString("\n")
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
				b.WriteByte(' ')
			}
			b.WriteString(t)
		}
	}
	return b.String()
}

// sample draws from softmax(logits/temperature); temperature 0 is the most
// likely token.
func sample(logits []float32, temperature float64, rng *rand.Rand) int64 {
	if temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int64(best)
	}
	mx := float64(slices.Max(logits))
	p := make([]float64, len(logits))
	sum := 0.0
	for i, v := range logits {
		p[i] = math.Exp((float64(v) - mx) / temperature)
		sum += p[i]
	}
	u := rng.Float64() * sum
	for i, v := range p {
		if u -= v; u < 0 {
			return int64(i)
		}
	}
	return int64(len(p) - 1)
}

func (a *app) generateCmd() *cobra.Command {
	var (
		prompt      string
		n           int
		temperature float64
		seed        uint64
		rf          runtimeFlags
	)
	cmd := &cobra.Command{
		Use:   "generate MODEL",
		Short: "Sample text from a language model a cell search exported",
		Long: `Feed the prompt to a language model nas exported (a cell search's best.onnx, or nas export of one), one token
at a time through ONNX Runtime, then sample -n more tokens from its softmax at the given temperature (0: always the
most likely token), seeded by --seed. Words are separated by spaces and <eos> ends a line; a character-level model
writes characters.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case n < 0:
				return usagef("generate: -n %d: want >= 0", n)
			case math.IsNaN(temperature) || temperature < 0 || math.IsInf(temperature, 0):
				return usagef("generate: --temperature %v: want a finite value >= 0", temperature)
			}
			if err := checkThreads(rf.threads); err != nil {
				return err
			}
			path := args[0]
			b, err := os.ReadFile(path)
			if err != nil {
				return usageError{fmt.Errorf("generate: %w", err)}
			}
			lm, err := readLMModel(path, b)
			if err != nil {
				return usageError{err}
			}
			rt, err := rf.runtime(a.logger())
			if err != nil {
				return err
			}
			m, err := rt.Open(b, []string{"token", "h", "c"}, []string{"logits", "h.next", "c.next"})
			if err != nil {
				return fmt.Errorf("generate: %s: %w", path, err)
			}
			defer m.Close()
			state := func() runner.Value {
				return runner.Value{Shape: []int64{lm.layers, 1, lm.width}, F32: make([]float32, lm.layers*lm.width)}
			}
			h, c := state(), state()
			var logits []float32
			step := func(tok int64) error {
				out, err := m.Run([]runner.Value{{Shape: []int64{1}, I64: []int64{tok}}, h, c})
				if err != nil {
					return fmt.Errorf("generate: %s: %w", path, err)
				}
				logits, h, c = out[0].F32, out[1], out[2]
				return nil
			}
			ids := lm.encode(prompt)
			for _, id := range ids {
				if err := step(id); err != nil {
					return err
				}
			}
			rng := rand.New(rand.NewPCG(seed, 0x67656e)) // "gen"
			var gen []int64
			for range n {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				id := sample(logits, temperature, rng)
				gen = append(gen, id)
				if err := step(id); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if prompt != "" {
				fmt.Fprint(w, prompt)
				if !lm.char {
					fmt.Fprint(w, " ")
				}
			}
			fmt.Fprintln(w, lm.text(gen))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prompt, "prompt", "", "text the model reads before it generates")
	f.IntVarP(&n, "n", "n", 200, "tokens to generate")
	f.Float64Var(&temperature, "temperature", 1, "softmax temperature (0: the most likely token)")
	f.Uint64Var(&seed, "seed", 1, "seed of the sampling")
	rf.register(f)
	return cmd
}
