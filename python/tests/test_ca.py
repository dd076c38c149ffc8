"""Certificates and attestation through `ucrypto.Device` on the in-process virtual device. The CA
and the device certificate are made here with Python's `cryptography` (not ucrypto's CA), written
to the device, and the device's attestation is checked against them."""
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

import ucrypto


def make_ca(name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def device_cert(ca_key, ca_cert, public_der, device_id_hex):
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id_hex)]))
        .issuer_name(ca_cert.subject)
        .public_key(serialization.load_der_public_key(public_der))
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier("urn:dev:mac:" + device_id_hex)]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def serial_hex(number):
    """A serial as ucrypto reports it: the hex of its big-endian bytes, no leading zero byte."""
    text = format(number, "x")
    return "0" * (len(text) % 2) + text


def test_a_certified_device_attests_and_another_ca_is_refused():
    with ucrypto.Device("sim") as dev:
        dev.key_generate(0, 2048, burn=True)
        device_id = dev.info()["device_id"].replace(":", "")
        ca_key, ca = make_ca("python test CA")
        cert = device_cert(ca_key, ca, dev.key_public(0, format="der"), device_id)
        der = cert.public_bytes(serialization.Encoding.DER)
        assert dev.cert_read() is None
        dev.cert_write(der)
        dev.cert_write(ca.public_bytes(serialization.Encoding.DER), kind="ca")
        assert dev.cert_read() == der

        ca_pem = ca.public_bytes(serialization.Encoding.PEM)
        verdict = dev.attest(ca_pem, slot=0)
        assert verdict["verdict"] == "genuine"
        assert verdict["checks"] == [
            "statement", "challenge", "signature", "certificate key", "device id", "chain"
        ]
        assert verdict["statement"]["device_id"] == device_id
        assert verdict["serial"] == serial_hex(cert.serial_number)

        _, other = make_ca("another CA")
        with pytest.raises(ucrypto.VerificationError, match="check chain failed"):
            dev.attest(other.public_bytes(serialization.Encoding.PEM))


def test_a_second_device_certificate_renews_the_first_after_the_ca_certificate():
    with ucrypto.Device("sim") as dev:
        dev.key_generate(0, 2048, burn=True)
        device_id = dev.info()["device_id"].replace(":", "")
        ca_key, ca = make_ca("python renewal CA")
        ca_der = ca.public_bytes(serialization.Encoding.DER)
        public = dev.key_public(0, format="der")
        first, second = (
            device_cert(ca_key, ca, public, device_id).public_bytes(serialization.Encoding.DER)
            for _ in range(2)
        )
        dev.cert_write(ca_der, kind="ca")
        dev.cert_write(first)
        dev.cert_write(second)
        assert dev.cert_read() == second
        assert dev.cert_read(kind="ca") == ca_der
        verdict = dev.attest(ca.public_bytes(serialization.Encoding.PEM), slot=0)
        renewed = x509.load_der_x509_certificate(second)
        assert verdict["serial"] == serial_hex(renewed.serial_number)
        # One CA per device: a second CA certificate is refused.
        _, other = make_ca("another CA")
        with pytest.raises(ucrypto.DeviceError):
            dev.cert_write(other.public_bytes(serialization.Encoding.DER), kind="ca")
        assert dev.cert_read(kind="ca") == ca_der


def make_crl(ca_key, ca_cert, revoked_serials, key=None):
    """A CRL of `ca_cert` listing `revoked_serials` (key compromise), signed by `key` (default
    the CA's own)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - datetime.timedelta(minutes=1))
        .next_update(now + datetime.timedelta(days=1))
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - datetime.timedelta(minutes=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(key or ca_key, hashes.SHA256())


def test_attest_checks_crls_of_the_ca():
    with ucrypto.Device("sim") as dev:
        dev.key_generate(0, 2048, burn=True)
        device_id = dev.info()["device_id"].replace(":", "")
        ca_key, ca = make_ca("python CRL test CA")
        cert = device_cert(ca_key, ca, dev.key_public(0, format="der"), device_id)
        dev.cert_write(ca.public_bytes(serialization.Encoding.DER), kind="ca")
        dev.cert_write(cert.public_bytes(serialization.Encoding.DER))
        ca_pem = ca.public_bytes(serialization.Encoding.PEM)

        other_serial = make_crl(ca_key, ca, [cert.serial_number + 1])
        verdict = dev.attest(
            ca_pem, slot=0, crls=[other_serial.public_bytes(serialization.Encoding.DER)]
        )
        assert verdict["checks"][-4:] == [
            "crl: issuer", "crl: signature", "crl: current", "revocation"
        ]

        listed = make_crl(ca_key, ca, [cert.serial_number])
        with pytest.raises(
            ucrypto.VerificationError, match="check revocation failed: .*key-compromise"
        ):
            dev.attest(ca_pem, crls=[listed.public_bytes(serialization.Encoding.PEM)])

        forged_key, _ = make_ca("not the CA")
        forged = make_crl(ca_key, ca, [], key=forged_key)
        with pytest.raises(ucrypto.VerificationError, match="check crl: signature failed"):
            dev.attest(ca_pem, crls=[forged.public_bytes(serialization.Encoding.PEM)])
