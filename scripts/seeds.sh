#!/usr/bin/env bash
# The main job over several seeds, beside a standard hand-designed CNN trained
# by nas train on the same machine for about the same time: the measurement
# behind the README's make search numbers (issue 14, point 5). Run it on a
# quiet machine: the search's budget is wall-clock time, so other work on the
# machine lowers its result. Writes runs/seeds/table.md.
#
# Usage: SEARCH_FLAGS='...' scripts/seeds.sh   (make seeds passes make search's flags)
#   SEEDS       the seeds (default "1 2 3")
#   BASE_ARCH   the hand-designed CNN, in nas's architecture language
#   BASE_EPOCHS its epochs on the whole training split (chosen to take about as long as the search)
#   BASE_DATA   its data set (default fashion-mnist: the search's)
#   BASE_SEEDS  the seeds the baseline trains with (default: the first of SEEDS;
#               training is deterministic, so more seeds only show its spread)
set -euo pipefail
cd "$(dirname "$0")/.."
nas=${NAS:-bin/nas}
out=${SEEDS_DIR:-runs/seeds}
seeds=${SEEDS:-"1 2 3"}
read -ra flags <<<"${SEARCH_FLAGS:?SEARCH_FLAGS: the flags of the search (make seeds sets them)}"
# conv-BN-ReLU 3x3 blocks of 32 and 64 filters, each block ending in a 2x2 max
# pool, as in the usual Fashion-MNIST tutorials (the head is nas's global
# average pooling and a dense layer).
base_arch=${BASE_ARCH:-"kh3 kw3 f32 | kh3 kw3 f32 p2 in0 | kh3 kw3 f64 in1 | kh3 kw3 f64 p2 in2"}
base_epochs=${BASE_EPOCHS:-4}
base_data=${BASE_DATA:-fashion-mnist}
read -ra all <<<"$seeds"
base_seeds=" ${BASE_SEEDS:-${all[0]}} "
mkdir -p "$out"
load=$(cut -d" " -f1-3 /proc/loadavg)
rows=()
for seed in $seeds; do
  dir=$out/search-$seed
  rm -rf "$dir"
  echo "seeds: the search, seed $seed" >&2
  t0=$(date +%s)
  "$nas" search --dir "$dir" "${flags[@]}" --seed "$seed" -q >"$out/search-$seed.log" 2>&1
  t1=$(date +%s)
  acc=$(sed -n 's/^  test accuracy \([0-9.]*\) .*/\1/p' "$out/search-$seed.log" | tail -n 1)
  trials=$(sed -n 's/^\([0-9]*\) trials in .*/\1/p' "$out/search-$seed.log" | tail -n 1)
  btime=- bacc=-
  if [[ $base_seeds == *" $seed "* ]]; then
    echo "seeds: the baseline, seed $seed" >&2
    "$nas" train --arch "$base_arch" --data "$base_data" --train-size 0 --val-size 1000 --epochs "$base_epochs" \
      --seed "$seed" -q >"$out/baseline-$seed.log" 2>&1
    t2=$(date +%s)
    btime="$(((t2 - t1) / 60))m$(((t2 - t1) % 60))s"
    bacc=$(sed -n 's/^test accuracy \([0-9.]*\) .*/\1/p' "$out/baseline-$seed.log" | tail -n 1)
  fi
  rows+=("| $seed | $(((t1 - t0) / 60))m$(((t1 - t0) % 60))s | ${trials:-?} | ${acc:-?} | $btime | ${bacc:-?} |")
done
{
  echo "make search's flags (\`${flags[*]}\`) over seeds $seeds, and beside it the hand-designed CNN"
  echo "\`$base_arch\` trained by \`nas train\` for $base_epochs epochs on the whole training split (1,000 images held out; seeds${base_seeds% }), load at the start: $load."
  echo
  echo "| seed | search: wall time | trials sampled | test accuracy of best.onnx | baseline: wall time | baseline test accuracy |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out/table.md"
cat "$out/table.md"
