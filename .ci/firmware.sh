#!/usr/bin/env bash
# CI: cross-builds the firmware for the ESP32-C3 and ESP32-C6 (clippy -D warnings, release) and
# their flashable images (firmware/chip/build-images.sh). Called by .ci/run.
#
# Needs the two RISC-V targets; where rustup cannot add them (no rustup, no network) the step is
# skipped loudly rather than failed. espflash comes from PATH, from $ESPFLASH, or is installed by
# cargo (about 8 minutes on 2 cores, once per machine); the builds take about 4 minutes cold.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# From the chip crate's folder, so that its rust-toolchain.toml picks the toolchain.
if ! (cd "$root/firmware/chip" &&
    rustup target add riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf); then
    echo "######################################################################"
    echo "SKIPPED: firmware build (rustup could not add the RISC-V targets)"
    echo "######################################################################"
    exit 0
fi

# --locked: the chip crate's committed Cargo.lock must match its manifests. After a merge that
# adds a dependency to the engine, refresh it with `cargo update -w` in firmware/chip.
exec "$root/firmware/chip/build-images.sh" --locked
