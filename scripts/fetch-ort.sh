#!/usr/bin/env bash
# Fetches the ONNX Runtime 1.30.0 CPU library (Linux x64) from the npm package
# onnxruntime-node, which carries it, into $1 (default .ort/), and verifies it.
# Idempotent: a verified library already in place is kept.
set -euo pipefail
dest=${1:-.ort}
lib=$dest/libonnxruntime.so.1
want=ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

if [[ -f $lib ]] && echo "$want  $lib" | sha256sum --check --status; then
  exit 0
fi
who=fetch-ort
source "$(dirname "$0")/need.sh"
need npm npm "(or set ORT_LIB=/path/to/libonnxruntime.so)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent onnxruntime-node@1.30.0 >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-1.30.0.tgz -C "$tmp" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
if ! echo "$want  $tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" | sha256sum --check --status; then
  echo "fetch-ort: checksum mismatch for libonnxruntime.so.1 from onnxruntime-node@1.30.0" >&2
  exit 1
fi
mkdir -p "$dest"
mv "$tmp"/package/bin/napi-v6/linux/x64/libonnxruntime.so.1 "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "fetch-ort: ONNX Runtime 1.30.0 CPU library in $lib"
