#!/usr/bin/env bash
# Multi-fidelity or not, at the same wall clock: rl with and without the rungs
# (--rungs 2 --eta 3), the same --duration (sampling, rungs and final phase
# together), the same seeds, on the digits fixture. Both end with the same final
# phase (the best architecture, by the highest rung's ranking when there are
# rungs, trained again on the whole training split), so the comparison is of the
# architecture each picks and of what the time bought. Writes
# runs/mfcompare/table.md: per seed and arm, the trials sampled, the final
# model's validation accuracy and best.onnx's test accuracy, then the means.
# --final-share 0 keeps the reserve rule of the README's measurement (the whole
# predicted time of the later phases), so that both arms keep it.
# Usage: scripts/mfcompare.sh [extra nas search flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
nas=${NAS:-bin/nas}
out=${MFCOMPARE_DIR:-runs/mfcompare}
seeds=${SEEDS:-"1 2 3"}
duration=${DURATION:-2m}
arms=("without:--rungs 0" "rungs:--rungs 2 --eta 3")
rm -rf "$out"
mkdir -p "$out"
for seed in $seeds; do
  for a in "${arms[@]}"; do
    name=${a%%:*}
    read -ra flags <<<"${a#*:}"
    echo "mfcompare: $name, seed $seed" >&2
    start=$(date +%s)
    "$nas" search --dir "$out/$name-$seed" "${flags[@]}" --seed "$seed" --duration "$duration" --strategy rl --controller-lr 0.02 \
      --data digits --train-size 300 --val-size 300 --epochs 2 --space v2 --start-layers 3 \
      --final-k 1 --final-epochs 3 --final-share 0 -q "$@" >"$out/$name-$seed.txt"
    echo "wall $(($(date +%s) - start))" >"$out/$name-$seed.time"
  done
done
{
  echo "rl with and without the rungs at the same wall clock (--duration $duration for everything: sampling, rungs, final; seeds: $seeds;"
  echo "digits 8x8, children 300 training / 300 validation images, 2 epochs, space v2 from 3 layers; --final-k 1 --final-epochs 3 --final-share 0;"
  echo "the rungs: --rungs 2 --eta 3). Load on this machine when it ran: $(uptime | sed 's/.*load average/load average/')."
  echo
  echo "| arm | seed | trials sampled | promotions trained | final validation accuracy | best.onnx test accuracy | wall time (s) |"
  echo "|---|---|---|---|---|---|---|"
  for name in without rungs; do
    for seed in $seeds; do
      f="$out/$name-$seed.txt"
      trials=$(sed -n 's/^\([0-9]*\) trials in .*/\1/p' "$f")
      val=$(sed -n 's/^final: .*validation accuracy \([0-9.]*\).*/\1/p' "$f")
      test=$(sed -n 's/.*test accuracy \([0-9.]*\) on .*/\1/p' "$f")
      secs=$(sed -n 's/^wall \([0-9]*\)/\1/p' "$out/$name-$seed.time")
      promoted=$(sqlite3 "$out/$name-$seed/nas.db" "SELECT count(*) FROM rung WHERE status = 'done'")
      echo "| $name | $seed | $trials | $promoted | $val | $test | $secs |"
    done
  done
  echo
  echo "| arm | trials sampled (mean) | final validation accuracy (mean) | test accuracy (mean ± std) |"
  echo "|---|---|---|---|"
  for name in without rungs; do
    for seed in $seeds; do
      f="$out/$name-$seed.txt"
      echo "$(sed -n 's/^\([0-9]*\) trials in .*/\1/p' "$f") $(sed -n 's/^final: .*validation accuracy \([0-9.]*\).*/\1/p' "$f") $(sed -n 's/.*test accuracy \([0-9.]*\) on .*/\1/p' "$f")"
    done | awk -v s="$name" '{n[NR] = $1; v[NR] = $2; t[NR] = $3}
      function mean(x, k,   i, u) {u = 0; for (i = 1; i <= k; i++) u += x[i]; return u / k}
      function sd(x, k,   i, m, u) {m = mean(x, k); u = 0; for (i = 1; i <= k; i++) u += (x[i] - m) ^ 2; return k > 1 ? sqrt(u / (k - 1)) : 0}
      END {printf "| %s | %.1f | %.4f | %.4f ± %.4f |\n", s, mean(n, NR), mean(v, NR), mean(t, NR), sd(t, NR)}'
  done
} >"$out/table.md"
cat "$out/table.md"
