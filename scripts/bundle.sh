#!/usr/bin/env bash
# Copies the built binaries and the shared libraries they load (as ldd resolves them here) into
# one folder that runs on another Linux machine with a glibc at least as new: the Docker runtime
# stage and GPU machines (which lack our Debian libraries) use it. glibc itself and the CUDA
# libraries are left out: the target machine's own must be used.
#   scripts/bundle.sh OUT_DIR [BUILD_DIR [EXTRA_BINARY...]]
#     ->  OUT_DIR/bin/{llmserve,llmserve-loadgen,EXTRA...}, OUT_DIR/lib
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/bundle.sh OUT_DIR [BUILD_DIR]}"
build="${2:-$root/build}"
mkdir -p "$out/bin" "$out/lib"
binaries=("$build/src/llmserve" "$build/bench/loadgen/llmserve-loadgen" "${@:3}")
cp "${binaries[@]}" "$out/bin/"
ldd "${binaries[@]}" | awk '/=> \// {print $3}' | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux* | libcuda.so* | \
      libcudart.so* | libcublas*.so* | libnvidia*) continue ;;
  esac
  cp -L "$lib" "$out/lib/"
done
echo "bundle: $out ($(du -sh "$out" | cut -f1)); run with LD_LIBRARY_PATH=$out/lib"
