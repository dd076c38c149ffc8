#!/usr/bin/env bash
# Flashing a blank virtual chip over a pseudo-terminal paced like a board's UART
# (docs/performance.md): the stub path (espflash's flasher stub, compressed writes) against the
# ROM-only path (1 KiB FLASH_DATA blocks, what `ucrypto flash` did before), each written and
# verified by MD5 and booted, at the ROM's 115200 baud and with --flash-baud 921600.
#
#   cli/benches/flash.sh IMAGE [RUNS]     IMAGE: a merged image (default: the C3 release image)
#
# UCRYPTO names the binary (default: target/release/ucrypto; build it with
# `cargo build --release -p ucrypto`).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${UCRYPTO:-target/release/ucrypto}
IMAGE=${1:-firmware/chip/dist/ucrypto-esp32c3-merged.bin}
RUNS=${2:-3}
WORK=$(mktemp -d)
SIM=
cleanup() { [[ -n $SIM ]] && kill "$SIM" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# A blank virtual chip in download mode, its line paced at 115200 (and following
# CHANGE_BAUDRATE), with the sim's extra arguments; sets PORT.
start_sim() {
  : > "$WORK/sim.out"
  "$BIN" --baud 115200 sim --download-mode "$@" > "$WORK/sim.out" 2>&1 &
  SIM=$!
  PORT=
  for _ in $(seq 100); do
    PORT=$(grep -o '/dev/pts/[0-9]*' "$WORK/sim.out" | head -n 1 || true)
    [[ -n $PORT ]] && return
    sleep 0.1
  done
  echo "ucrypto sim did not start: $(cat "$WORK/sim.out")" >&2
  exit 1
}

# One flash of a fresh blank chip; prints seconds, loader and bytes written.
flash_once() {
  start_sim "${SIM_ARGS[@]}"
  local start end report
  start=$(date +%s.%N)
  report=$("$BIN" --port "$PORT" --json flash --image "$IMAGE" --before no-reset "${FLASH_ARGS[@]}" 2> "$WORK/flash.err")
  end=$(date +%s.%N)
  kill "$SIM"; wait "$SIM" 2>/dev/null || true; SIM=
  printf '%6.2f s  %s\n' "$(echo "$end - $start" | bc)" \
    "$(echo "$report" | grep -o '"loader":"[a-z]*"\|"bytes_written":[0-9]*' | tr '\n' ' ')"
}

echo "image: $IMAGE ($(stat -c %s "$IMAGE") bytes)"
for path in stub rom; do
  for flash_baud in none 921600; do
    SIM_ARGS=()
    FLASH_ARGS=()
    [[ $path == rom ]] && SIM_ARGS=(--refuse-ram-load)
    [[ $flash_baud != none ]] && FLASH_ARGS=(--flash-baud "$flash_baud")
    echo "== $path, flash baud $flash_baud"
    for _ in $(seq "$RUNS"); do flash_once; done
  done
done
