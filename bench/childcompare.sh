#!/usr/bin/env bash
# A whole child, nas (ONNX Runtime) beside PyTorch's CPU build, measured in
# one run on the same machine: one child evaluation as `make search` runs it
# (5,000 Fashion-MNIST training images, 1,000 validation, batch 64, one
# epoch, batch norm, cosine lr 0.1, momentum 0.9, weight decay 1e-4, 2
# threads; runner's BenchmarkChild and bench/torch_child.py), for the
# architectures of bench/archs.txt. Prints seconds per child, the share of
# the child outside the training steps, and the ratio PyTorch/nas of the
# child times (above 1: nas is faster).
#
# ROUNDS=n (default 1) measures n rounds; within a round each architecture
# is timed by nas and then at once by PyTorch, so that load from elsewhere
# falls on both alike; every round's ratio is printed, then the median.
# CHILDREN=n (default 3): children per measurement, after one untimed one.
# ARCHS='A B' (default: every architecture of bench/archs.txt) picks some.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
rounds=${ROUNDS:-1}
children=${CHILDREN:-3}
export NAS_DATA=${NAS_DATA:-$PWD/.data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/runner.test" ./runner
names=${ARCHS:-$(grep -v '^#' bench/archs.txt | grep ':' | cut -d: -f1)}
printf '%-5s %5s %10s %10s %10s %10s %8s\n' arch round "nas s" "nas out%" "torch s" "torch out%" ratio
for name in $names; do
  grep "^$name:" bench/archs.txt >"$tmp/arch.txt"
  ratios=()
  for r in $(seq "$rounds"); do
    go_out=$(cd runner && "$tmp/runner.test" -test.run '^$' -test.bench "^BenchmarkChild\$/^$name\$" -test.benchtime "${children}x")
    read -r _ torch tsteps < <(/usr/bin/python3 bench/torch_child.py "$threads" "$tmp/arch.txt" "$children")
    line=$(grep "BenchmarkChild/$name-" <<<"$go_out")
    ours=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "child-s") print $i}' <<<"$line")
    out=$(awk '{for (i = 1; i < NF; i++) if ($(i+1) == "outside-%") print $i}' <<<"$line")
    tout=$(awk -v a="$torch" -v b="$tsteps" 'BEGIN {printf "%.1f", 100 * (1 - b / a)}')
    ratio=$(awk -v a="$ours" -v b="$torch" 'BEGIN {printf "%.2f", b / a}')
    ratios+=("$ratio")
    printf '%-5s %5d %10.2f %10.1f %10.2f %10s %8s\n' "$name" "$r" "$ours" "$out" "$torch" "$tout" "$ratio"
  done
  if [ "$rounds" -gt 1 ]; then
    printf '%-5s %5s %10s %10s %10s %10s %8s\n' "$name" median "" "" "" "" "$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')"
  fi
done
