"""The esp_secure_cert partition a station run leaves on a virtual device, parsed by Espressif's
own tool (PyPI's esp-secure-cert-tool, `configure_esp_secure_cert.py --parse_bin`): after
`certify` it finds the device key's DS entries, the device certificate and the CA certificate,
and after a renewal (`renew = true`) the new device certificate with the same CA certificate."""
import csv
import os
import shutil
import subprocess
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conftest import ucrypto_bin

# The esp_secure_cert partition in the virtual device's flash image (docs/keys.md).
PARTITION = slice(0xD000, 0x10000)
PASS_VAR = "UCRYPTO_TEST_ESPRESSIF_PASS"


def espressif_parser():
    """Espressif's parser next to this Python, installed by .ci/python.sh."""
    path = os.path.join(os.path.dirname(sys.executable), "configure_esp_secure_cert.py")
    if not os.access(path, os.X_OK):
        pytest.fail(
            "Espressif's configure_esp_secure_cert.py is not installed: "
            "pip install esp-secure-cert-tool (.ci/python.sh does)"
        )
    return path


def run(cwd, *args):
    env = dict(os.environ, **{PASS_VAR: "espressif interop 3"})
    out = subprocess.run(
        [ucrypto_bin(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, f"ucrypto {args}: {out.stderr}"
    return out.stdout


def parse(tmp_path, flash, name):
    """Espressif's parse of the partition: (its CSV rows, {file name: bytes} of its contents)."""
    work = tmp_path / name
    work.mkdir()
    part = work / "esp_secure_cert.bin"
    part.write_bytes(flash.read_bytes()[PARTITION])
    out = subprocess.run(
        [sys.executable, espressif_parser(), "--parse_bin", str(part)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    parsed = work / "esp_secure_cert_parsed_data"
    with open(parsed / "esp_secure_cert_parsed.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    contents = {p.name: p.read_bytes() for p in (parsed / "contents").iterdir()}
    return rows, contents


def cert_der(pem_text):
    return x509.load_pem_x509_certificate(pem_text.encode()).public_bytes(
        serialization.Encoding.DER
    )


def test_espressifs_parser_finds_the_key_and_certificates_after_certify_and_renewal(tmp_path):
    run(tmp_path, "ca", "init", "--dir", "ca", "--subject", "CN=interop CA,O=ucrypto test",
        "--bits", "2048", "--pass", f"env:{PASS_VAR}")
    ca_der = cert_der((tmp_path / "ca" / "ca.pem").read_text())
    (tmp_path / "line.toml").write_text(
        'name = "line"\n'
        '[[step]]\nkind = "key-generate"\nslot = 0\nbits = 1024\n'
        '[[step]]\nkind = "certify"\nslot = 0\nca = "ca/ca.toml"\n'
        'subject = "CN={device_id},O=ucrypto test"\n'
    )
    (tmp_path / "renew.toml").write_text(
        'name = "renew"\n[[step]]\nkind = "certify"\nslot = 0\nca = "ca/ca.toml"\nrenew = true\n'
    )
    flash = tmp_path / "flash.bin"
    sim = subprocess.Popen(
        [ucrypto_bin(), "sim", "--seed", "31", "--flash", str(flash)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = sim.stdout.readline().strip()
        assert port.startswith("/dev/"), f"ucrypto sim printed {port!r}"
        records = str(tmp_path / "records.db")
        certificates = []
        for recipe in ("line.toml", "renew.toml"):
            run(tmp_path, "--json", "station", "run", recipe, "--ports", port,
                "--records", records)
            device_der = cert_der(run(tmp_path, "--port", port, "cert", "show"))
            certificates.append(device_der)
            rows, contents = parse(tmp_path, flash, "parsed-" + recipe.removesuffix(".toml"))
            assert contents["devcert_1_0.der"] == device_der
            assert contents["cacert_0_0.der"] == ca_der
            kinds = [row["tlv_type"] for row in rows]
            assert kinds.count("ESP_SECURE_CERT_DEV_CERT_TLV") == 1, kinds
            ds = [row for row in rows if row["tlv_type"] == "ESP_SECURE_CERT_DS_CONTEXT_TLV"]
            assert len(ds) == 1 and ds[0]["priv_key_type"] == "rsa_ds", ds
            assert ds[0]["key_size"] == "1024" and ds[0]["efuse_id"] == "0", ds
        assert certificates[0] != certificates[1], "the renewal wrote a new certificate"
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    shutil.rmtree(tmp_path / "ca", ignore_errors=True)
