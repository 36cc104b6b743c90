#!/usr/bin/env bash
# The honest comparison for the cell search: rl, random and evolution on the
# same budget (a number of trials, so the results do not depend on the
# machine's speed), 3 seeds, on character-level fortunes; and the LSTM and
# the NASCell of the cell language trained the same way (same sizes, data,
# epochs, seeds). Writes runs/cellcompare/table.md: per strategy the best
# validation perplexity and the test perplexity of its best.onnx (mean ± std
# over the seeds); per baseline the same.
# Usage: scripts/cellcompare.sh [extra nas search flags...]; TABLE_ONLY=1
# writes the table again from the runs there are.
set -euo pipefail
cd "$(dirname "$0")/.."
nas=${NAS:-bin/nas}
out=${COMPARE_DIR:-runs/cellcompare}
seeds=${SEEDS:-"1 2 3"}
trials=${TRIALS:-24}
child=(--data fortunes --train-size 100000 --val-size 20000 --epochs 1 --hidden 64 --steps 35 --batch 20)
if [ -z "${TABLE_ONLY:-}" ]; then
  rm -rf "$out"
  mkdir -p "$out"
  for strategy in rl random evolution; do
    for seed in $seeds; do
      echo "cellcompare: $strategy, seed $seed" >&2
      "$nas" search --dir "$out/$strategy-$seed" --space cell8 --strategy "$strategy" --seed "$seed" --trials "$trials" \
        --m 4 --population 8 --tournament 3 --controller-lr 0.02 "${child[@]}" "$@" >"$out/$strategy-$seed.txt"
    done
  done
  for cell in lstm nascell; do
    for seed in $seeds; do
      echo "cellcompare: $cell, seed $seed" >&2
      "$nas" train --arch "$cell" --seed "$seed" "${child[@]}" >"$out/$cell-$seed.txt"
    done
  done
fi
stats='{v[NR] = $1} END {m = 0; for (i = 1; i <= NR; i++) m += v[i]; m /= NR; s = 0; for (i = 1; i <= NR; i++) s += (v[i] - m) ^ 2; printf "%.2f ± %.2f", m, (NR > 1 ? sqrt(s / (NR - 1)) : 0)}'
{
  echo "Cell search on fortunes (character level, 104 symbols): $trials trials per search (M=4), seeds $seeds; every child"
  echo "a one-cell language model, hidden 64, 20 streams × 35 steps, SGD lr 1, clip 5, one epoch on 100,000 training"
  echo "characters, validated on 20,000; test perplexity of best.onnx on the whole test split."
  echo
  echo "| | best validation perplexity | test perplexity |"
  echo "|---|---|---|"
  for strategy in rl random evolution; do
    val=$(for seed in $seeds; do sed -n 's/.*validation perplexity \([0-9.]*\).*/\1/p' "$out/$strategy-$seed.txt"; done | awk "$stats")
    test=$(for seed in $seeds; do sed -n 's/.*test perplexity \([0-9.]*\).*/\1/p' "$out/$strategy-$seed.txt"; done | awk "$stats")
    echo "| $strategy | $val | $test |"
  done
  for cell in lstm nascell; do
    val=$(for seed in $seeds; do sed -n 's/^epoch [0-9]*: validation perplexity \([0-9.]*\).*/\1/p' "$out/$cell-$seed.txt" | sort -g | head -1; done | awk "$stats")
    test=$(for seed in $seeds; do sed -n 's/^test perplexity \([0-9.]*\).*/\1/p' "$out/$cell-$seed.txt"; done | awk "$stats")
    echo "| $cell (trained the same way) | $val | $test |"
  done
} >"$out/table.md"
cat "$out/table.md"
