#!/usr/bin/env bash
# install-deps.sh: installs the Debian 12 packages dsac needs to build and run.
#   bash tools/install-deps.sh           build + run (quick start)
#   bash tools/install-deps.sh --test    also what the tests, fuzzers and
#                                        benchmarks use (clang-16 for libFuzzer,
#                                        Open MPI, python3-torch for the
#                                        independent PyTorch cross-checks)
# Packages already installed are skipped, so a second run is fast.
set -euo pipefail

pkgs=(build-essential cmake pkg-config git re2c lemon llvm-16-dev
      libcjson-dev libopenblas-dev liblapacke-dev libpcre2-dev libcmocka-dev
      zlib1g-dev libzstd-dev libedit-dev libxml2-dev libcurl4-openssl-dev)
pkgs+=(libicu-dev) # tokenizer normalizers (NFC for Qwen2, ...)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(clang-16 libclang-rt-16-dev openmpi-bin libopenmpi-dev
         python3 python3-torch python3-numpy)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#pkgs[@]} packages present"
  exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
