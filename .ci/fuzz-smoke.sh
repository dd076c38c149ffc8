#!/usr/bin/env bash
# A short run of every fuzz target, when a nightly toolchain is there (cargo fuzz needs it).
# Long runs and their figures: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "SKIPPED: fuzz smoke (no nightly toolchain)"
  exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
for target in $(cargo +nightly fuzz list); do
  echo "-- fuzz smoke: $target"
  # Committed seeds (valid keys, for key_file) start the corpus where there are some.
  mkdir -p "corpus/$target"
  seeds=()
  if [ -d "seeds/$target" ]; then seeds=("seeds/$target"); fi
  cargo +nightly fuzz run -O "$target" "corpus/$target" "${seeds[@]}" -- \
    -runs=20000 -max_len=8192 -seed=1 -timeout=10 -rss_limit_mb=1024 2>&1 | tail -1
done
