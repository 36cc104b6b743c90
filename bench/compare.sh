#!/usr/bin/env bash
# Child training throughput, nas (ONNX Runtime) beside PyTorch's CPU build,
# measured in one run on the same machine: one SGD step at batch 64 on
# 3x32x32, 2 threads, for the architectures of bench/archs.txt. Prints a table
# with the ratio nas/PyTorch (above 1: nas is faster).
#
# ROUNDS=n (default 1) measures n rounds; within a round each architecture
# is timed by nas and then at once by PyTorch, so that load from elsewhere
# falls on both alike; every round's ratio is printed, then the median.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
rounds=${ROUNDS:-1}
benchtime=${BENCHTIME:-3s}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/runner.test" ./runner
names=$(grep -v '^#' bench/archs.txt | grep ':' | cut -d: -f1)
printf '%-5s %5s %12s %12s %8s %10s\n' arch round "nas img/s" "torch img/s" ratio "nas GFLOP/s"
for name in $names; do
  grep "^$name:" bench/archs.txt >"$tmp/arch.txt"
  ratios=()
  for r in $(seq "$rounds"); do
    go_out=$(cd runner && "$tmp/runner.test" -test.run '^$' -test.bench "TrainStepArch/^$name\$" -test.benchtime "$benchtime")
    torch=$(/usr/bin/python3 bench/torch_step.py "$threads" "$tmp/arch.txt" | awk '{print $2}')
    line=$(grep "BenchmarkTrainStepArch/$name-" <<<"$go_out")
    ours=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "images/s") print $i}' <<<"$line")
    gflops=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "GFLOP/s") print $i}' <<<"$line")
    ratio=$(awk -v a="$ours" -v b="$torch" 'BEGIN {printf "%.2f", a / b}')
    ratios+=("$ratio")
    printf '%-5s %5d %12.1f %12.1f %8s %10.1f\n' "$name" "$r" "$ours" "$torch" "$ratio" "$gflops"
  done
  if [ "$rounds" -gt 1 ]; then
    printf '%-5s %5s %12s %12s %8s\n' "$name" median "" "" "$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')"
  fi
done
