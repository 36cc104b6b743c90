#!/usr/bin/env bash
# Makes sure the external references the tests compare against are present:
# Debian's python3-onnx (the ONNX checker) and python3-torch (PyTorch autograd),
# both run with /usr/bin/python3, and graphviz (dot, for the architecture
# pictures) and chromium (the browser tests of nas serve drive it headless);
# and OpenBLAS for PyTorch: Debian's torch does its matrix products through
# the libblas.so.3 alternative, and the reference BLAS that python3-torch
# pulls in runs them 20x slower (1120x128 by 128x512: 57 ms against 2.7 ms
# with libopenblas0-pthread), which would make the benchmarks' peer a straw
# man. Installs them with apt-get when run as root.
set -euo pipefail
missing=()
/usr/bin/python3 -c 'import onnx' 2>/dev/null || missing+=(python3-onnx)
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
command -v dot >/dev/null || missing+=(graphviz)
command -v chromium >/dev/null || missing+=(chromium)
[[ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 || $(uname -m) != x86_64 ]] || missing+=(libopenblas0-pthread)
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) == 0 ]]; then
  echo "test-deps: installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "test-deps: missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
