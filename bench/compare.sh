#!/usr/bin/env bash
# Child training throughput, nas (ONNX Runtime) beside PyTorch's CPU build,
# measured in one run on the same machine: one SGD step at batch 64 on
# 3x32x32, 2 threads, for the architectures of bench/archs.txt. Prints a table
# with the ratio nas/PyTorch (above 1: nas is faster).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
go_out=$(go test -run '^$' -bench 'TrainStepArch' -benchtime 3s ./runner)
torch_out=$(/usr/bin/python3 bench/torch_step.py "$threads" bench/archs.txt)
printf '%-5s %12s %12s %8s %10s\n' arch "nas img/s" "torch img/s" ratio "nas GFLOP/s"
while read -r name torch; do
  line=$(grep "BenchmarkTrainStepArch/$name-" <<<"$go_out")
  ours=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "images/s") print $i}' <<<"$line")
  gflops=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "GFLOP/s") print $i}' <<<"$line")
  printf '%-5s %12.1f %12.1f %8.2f %10.1f\n' "$name" "$ours" "$torch" "$(awk -v a="$ours" -v b="$torch" 'BEGIN {print a / b}')" "$gflops"
done <<<"$torch_out"
