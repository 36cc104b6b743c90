#!/usr/bin/env bash
# Language-model training throughput, nas (ONNX Runtime) beside PyTorch's CPU
# build, in one run on the same machine: one training step of 32 streams x 35
# steps, hidden 128, a vocabulary of VOCAB (default 100: character level),
# 2 threads; nas's LSTM and NASCell in the cell language beside torch.nn.LSTM
# and the NASCell written by hand in torch. Each round times nas and then at
# once PyTorch, so that load from elsewhere falls on both alike; prints every
# round's tokens/s and ratio (above 1: nas is faster), then the median ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
rounds=${ROUNDS:-3}
vocab=${VOCAB:-100}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/runner.test" ./runner
printf '%-8s %5s %12s %12s %8s\n' cell round "nas tok/s" "torch tok/s" ratio
for cell in lstm nascell; do
  ratios=()
  for r in $(seq "$rounds"); do
    go_out=$(cd runner && VOCAB=$vocab "$tmp/runner.test" -test.run '^$' -test.bench "LMTrainStep/^$cell\$" -test.benchtime 2s)
    ours=$(grep "BenchmarkLMTrainStep/$cell-" <<<"$go_out" | awk '{for (i = 1; i < NF; i++) if ($(i+1) == "tokens/s") print $i}')
    torch=$(/usr/bin/python3 bench/torch_lm_step.py "$threads" "$cell" "$vocab" | awk '{print $2}')
    ratio=$(awk -v a="$ours" -v b="$torch" 'BEGIN {printf "%.2f", a / b}')
    ratios+=("$ratio")
    printf '%-8s %5d %12.0f %12.0f %8s\n' "$cell" "$r" "$ours" "$torch" "$ratio"
  done
  printf '%-8s %5s %12s %12s %8s\n' "$cell" median "" "" "$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')"
done
