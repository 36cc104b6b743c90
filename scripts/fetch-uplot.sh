#!/usr/bin/env bash
# Vendors the chart library of `nas serve`: uPlot (MIT) from its npm package,
# pinned by version and by the sha256 of the package tarball, into
# internal/serve/static/vendor/uplot/ (the minified script and style sheet,
# and the licence). The files are committed (go:embed needs them to build);
# this script re-fetches and verifies them.
set -euo pipefail
cd "$(dirname "$0")/.."
version=1.6.32
want=4b8a8191e425658e3ea8c8c1314b0fc679c861ee3a1af2b20c7b16ba50b5133d
dest=internal/serve/static/vendor/uplot
who=fetch-uplot
source scripts/need.sh
need npm npm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null)
if ! echo "$want  $tmp/uplot-$version.tgz" | sha256sum --check --status; then
  echo "fetch-uplot: checksum mismatch for uplot-$version.tgz" >&2
  exit 1
fi
tar -xzf "$tmp/uplot-$version.tgz" -C "$tmp" package/LICENSE package/dist/uPlot.iife.min.js package/dist/uPlot.min.css
mkdir -p "$dest"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$dest/"
cp "$tmp/package/LICENSE" "$dest/LICENSE"
echo "uPlot $version (npm package uplot, tarball sha256 $want)" >"$dest/VERSION"
# What the tests check the embedded copies against.
(cd "$dest" && sha256sum LICENSE uPlot.iife.min.js uPlot.min.css >SHA256SUMS)
echo "fetch-uplot: uPlot $version in $dest"
