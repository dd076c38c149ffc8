#!/usr/bin/env bash
# The link's benchmarks (docs/performance.md), on a paced virtual device over a pseudo-terminal:
#
#   cli/benches/link.sh clean BAUD [BYTES]     AES-128-CTR goodput at BAUD, negotiated with SetBaud
#                                              from a device that starts at 115200
#   cli/benches/link.sh damaged FAULTS N       N AES-128-CTR streams of 1 MiB on a damaged 921600
#                                              line, each compared with openssl; then rand 4096 x3
#
# UCRYPTO names the binary (default: target/release/ucrypto; build it with
# `cargo build --release -p ucrypto`). Needs openssl and bc.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${UCRYPTO:-target/release/ucrypto}
WORK=$(mktemp -d)
SIM=
cleanup() { [[ -n $SIM ]] && kill "$SIM" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# Starts `ucrypto sim` paced at the rate $1, with the sim's arguments after it, and sets PORT to
# its pseudo-terminal.
start_sim() {
  "$BIN" --baud "$1" sim "${@:2}" > "$WORK/sim.out" 2>&1 &
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

now() { date +%s.%N; }

case "${1:-}" in
  clean)
    BAUD=${2:?baud}
    BYTES=${3:-4M}
    start_sim 115200
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$BIN" --port "$PORT" --baud "$BAUD" bench aes --bytes "$BYTES" --json
    ;;
  damaged)
    FAULTS=${2:?faults, e.g. flip=0.0005,drop=0.0005,seed=1}
    N=${3:?number of streams}
    K=2b7e151628aed2a6abf7158809cf4f3c
    C=f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
    start_sim 921600 --faults "$FAULTS"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    exact=0 wrong=0 failed=0 total=0
    for i in $(seq "$N"); do
      head -c 1048576 /dev/urandom > "$WORK/in"
      start=$(now)
      if "$BIN" --port "$PORT" --baud 921600 aes encrypt --mode ctr --key "$K" --counter "$C" \
          -i "$WORK/in" -o "$WORK/out" 2> "$WORK/err"; then
        seconds=$(echo "$(now) - $start" | bc)
        total=$(echo "$total + $seconds" | bc)
        if openssl enc -aes-128-ctr -K "$K" -iv "$C" -in "$WORK/in" | cmp -s - "$WORK/out"; then
          exact=$((exact + 1))
        else
          wrong=$((wrong + 1))
        fi
        echo "stream $i: $seconds s"
      else
        failed=$((failed + 1))
        echo "stream $i failed: $(tail -n 1 "$WORK/err")"
      fi
    done
    goodput=0
    if [[ $exact -gt 0 ]]; then goodput=$(echo "$exact * 1048576 / $total" | bc); fi
    echo "streams: exact=$exact wrong=$wrong failed=$failed, goodput $goodput B/s"
    for _ in 1 2 3; do
      start=$(now)
      "$BIN" --port "$PORT" --baud 921600 rand 4096 > /dev/null 2> "$WORK/err" \
        || echo "rand 4096 failed: $(tail -n 1 "$WORK/err")"
      echo "rand 4096: $(echo "$(now) - $start" | bc) s"
    done
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
