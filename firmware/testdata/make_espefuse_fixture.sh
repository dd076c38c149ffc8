#!/bin/sh
# Regenerates espefuse_virt_c3.bin: espefuse's own virtual-eFuse file (esptool 4.8.1,
# `pip install esptool==4.8.1 "bitstring<4.2"`) for an ESP32-C3 with a DS key burned as
# Espressif's development flow does (no read protection) in BLOCK_KEY3, both JTAGs disabled and
# the provisioning lock (BLOCK0 bit 183). The HMAC key is fixed (32 bytes 0x00..0x1f) so the
# tests can make the matching esp_secure_cert record (espressif_ds_partition.py hmac=...).
set -e
cd "$(dirname "$0")"
key=$(mktemp)
python3 -c "import sys; sys.stdout.buffer.write(bytes(range(32)))" > "$key"
rm -f espefuse_virt_c3.bin
e="espefuse.py --chip esp32c3 --virt --path-efuse-file espefuse_virt_c3.bin --do-not-confirm"
$e burn_key BLOCK_KEY3 "$key" HMAC_DOWN_DIGITAL_SIGNATURE --no-read-protect
$e burn_efuse DIS_USB_JTAG 1 DIS_PAD_JTAG 1
$e burn_bit BLOCK0 183
rm -f "$key"
