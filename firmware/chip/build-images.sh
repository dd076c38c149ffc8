#!/usr/bin/env bash
# Builds the flashable firmware images for the ESP32-C3 and ESP32-C6 into firmware/chip/dist/:
#   ucrypto-<chip>.elf          the linked firmware (for a debugger, or `espflash flash`)
#   ucrypto-<chip>-app.bin      the application image, for the app partition at 0x10000
#   ucrypto-<chip>-merged.bin   bootloader + partition table (partitions.csv) + app, to write at 0x0
#   footprint.txt, SHA256SUMS
# after clippy (-D warnings) on both chips.
#
# Usage: firmware/chip/build-images.sh [--locked]
#   --locked       pass --locked to cargo (CI: the committed Cargo.lock must be current)
#   ESPFLASH=path  use this espflash (4.x) instead of the one on PATH. Without either, the script
#                  runs `cargo install espflash --locked --version ^4` (about 8 minutes, once).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

locked=()
for arg in "$@"; do
    case "$arg" in
        --locked) locked=(--locked) ;;
        *) echo "usage: $0 [--locked]" >&2; exit 2 ;;
    esac
done

# chip name, feature, target triple
chips=(
    "esp32c3 esp32c3 riscv32imc-unknown-none-elf"
    "esp32c6 esp32c6 riscv32imac-unknown-none-elf"
)

find_espflash() {
    if [[ -n "${ESPFLASH:-}" ]]; then
        echo "$ESPFLASH"
    elif command -v espflash >/dev/null 2>&1; then
        command -v espflash
    fi
}

espflash="$(find_espflash)"
if [[ -z "$espflash" ]]; then
    echo "espflash not found: installing it from crates.io (about 8 minutes, once)" >&2
    # From outside this folder: its .cargo/config.toml sets the chip as the build target.
    (cd "${TMPDIR:-/tmp}" && cargo install espflash --locked --version '^4')
    espflash="$(command -v espflash || echo "${CARGO_HOME:-$HOME/.cargo}/bin/espflash")"
fi
version="$("$espflash" --version 2>/dev/null || true)"
case "$version" in
    "espflash 4."*) echo "using $espflash ($version)" >&2 ;;
    *)
        echo "error: '$espflash' is not espflash 4.x (esp-hal 1.x images need it): set ESPFLASH" >&2
        exit 4
        ;;
esac

for chip in "${chips[@]}"; do
    read -r name feature target <<<"$chip"
    echo "== clippy $name" >&2
    cargo clippy "${locked[@]}" --release --no-default-features --features "$feature" \
        --target "$target" -- -D warnings
done

mkdir -p dist
rm -f dist/*.bin dist/*.elf dist/footprint.txt dist/SHA256SUMS
elves=()
for chip in "${chips[@]}"; do
    read -r name feature target <<<"$chip"
    echo "== build $name" >&2
    cargo build "${locked[@]}" --release --no-default-features --features "$feature" \
        --target "$target"
    elf="dist/ucrypto-$name.elf"
    cp "${CARGO_TARGET_DIR:-target}/$target/release/ucrypto-chip" "$elf"
    elves+=("$elf")
    "$espflash" save-image --chip "$name" "$elf" "dist/ucrypto-$name-app.bin"
    # Not padded to the flash size: writing it at 0x0 leaves the rest of the flash alone.
    # The project's partition table: nvs, esp_secure_cert (device-key records at 0xd000),
    # factory app at 0x10000.
    "$espflash" save-image --chip "$name" --merge --skip-padding \
        --partition-table partitions.csv "$elf" "dist/ucrypto-$name-merged.bin"
done

{
    python3 footprint.py "${elves[@]}"
    echo
    for image in dist/*-app.bin dist/*-merged.bin; do
        printf '%-32s %9d bytes\n' "$image" "$(wc -c <"$image")"
    done
} | tee dist/footprint.txt
(cd dist && sha256sum -- *.bin > SHA256SUMS)
ls -l dist
