#!/usr/bin/env bash
# The honest comparison: rl (at the paper's controller learning rate and at
# one for small budgets), random and evolution on the same budget, the same
# evaluator and the same seeds, on a cheap setting (the 8x8 digits fixture by
# default). Writes runs/compare/table.md: per strategy, over the seeds, the
# mean ± std of the best reward and of the mean reward of the last quarter of
# the trials. Usage: scripts/compare.sh [extra nas search flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
nas=${NAS:-bin/nas}
out=${COMPARE_DIR:-runs/compare}
seeds=${SEEDS:-"1 2 3"}
trials=${TRIALS:-96}
# The contenders: a name and its flags. rl-lr0.02 is the controller with a
# learning rate for small budgets (the paper's 0.0006 was set for 12,800 trials).
# The children train as when the README's table was measured (no batch norm, a
# constant learning rate of 0.05), and no final training (it changes no search reward).
contenders=("rl:--strategy rl" "rl-lr0.02:--strategy rl --controller-lr 0.02" "random:--strategy random" "evolution:--strategy evolution")
names=()
rm -rf "$out"
mkdir -p "$out"
for c in "${contenders[@]}"; do
  name=${c%%:*}
  read -ra flags <<<"${c#*:}"
  names+=("$name")
  for seed in $seeds; do
    echo "compare: $name, seed $seed" >&2
    "$nas" search --dir "$out/$name-$seed" "${flags[@]}" --seed "$seed" --trials "$trials" \
      --data digits --train-size 600 --val-size 300 --epochs 2 --batch 32 --space v2 --start-layers 3 \
      --layer-every "$trials" --bn=false --cosine=false --lr 0.05 --final-k 0 --json "$@" >"$out/$name-$seed.jsonl"
  done
done
{
  echo "Strategies on the same budget ($trials trials each, seeds: $seeds; digits 8x8, 600 training / 300 validation images, 2 epochs, space v2, 3 layers)."
  echo
  echo "| strategy | best reward (mean ± std) | mean reward, last quarter (mean ± std) | best validation accuracy (mean) |"
  echo "|---|---|---|---|"
  for strategy in "${names[@]}"; do
    for seed in $seeds; do
      # One line per run: best reward, mean reward of the last quarter, best validation accuracy.
      sed -n 's/.*"reward":\([^,]*\),.*"val_acc":\[\{0,1\}\([^]}]*\).*/\1 \2/p' "$out/$strategy-$seed.jsonl" |
        awk -v q="$trials" '{r[NR] = $1; if ($1 > best) best = $1; split($2, a, ","); for (i in a) if (a[i] + 0 > acc) acc = a[i] + 0}
          END {n = NR; from = n - int(q / 4) + 1; s = 0; for (i = from; i <= n; i++) s += r[i]; print best, s / (n - from + 1), acc}'
    done | awk -v s="$strategy" '{b[NR] = $1; l[NR] = $2; a[NR] = $3}
      function mean(x, n,   i, t) {t = 0; for (i = 1; i <= n; i++) t += x[i]; return t / n}
      function sd(x, n,   i, m, t) {m = mean(x, n); t = 0; for (i = 1; i <= n; i++) t += (x[i] - m) ^ 2; return n > 1 ? sqrt(t / (n - 1)) : 0}
      END {printf "| %s | %.4f ± %.4f | %.4f ± %.4f | %.4f |\n", s, mean(b, NR), sd(b, NR), mean(l, NR), sd(l, NR), mean(a, NR)}'
  done
} >"$out/table.md"
cat "$out/table.md"
