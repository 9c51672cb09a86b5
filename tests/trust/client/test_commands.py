"""The platform's and the holder's commands against a real server: ``trust client keygen`` and ``trust client token``
(keys made by Huren and by the OpenSSL command line, encrypted and plain; ``pkcs11:`` reserved), ``trust license
keygen``, ``fetch`` and ``present`` (selective disclosure with key binding, checked by ``trust verify`` and by PyJWT),
and their errors: exit 3 with a clear message for usage and refusals, 4 when the service cannot be reached; no key
material in any output."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest
from asn1crypto import csr as asn1_csr
from cryptography.hazmat.primitives import serialization

from tests.support.sdk import Sdk
from tests.support.softhsm import SoftHsm
from tests.support.world import PASSPHRASE
from trust.cli.main import main
from trust.client.keys import load_signer
from trust.crypto.keys import load_private_key
from trust.formats import csr, sdjwt
from trust.formats.names import DN
from trust.service import clients

PLATFORM_SECRET = "platform passphrase 2026"
HOLDER_SECRET = "holder passphrase 2026"
AUDIENCE = "https://bank.example.com/verify"


@pytest.fixture
def operator_env(sdk: Sdk, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The national operator's environment for ``trust client add`` on the world's instance folder."""
    monkeypatch.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    monkeypatch.setenv("TRUST_PUBLIC_URL", sdk.url)
    return ["--home", str(sdk.world.home)]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _register(
    capsys: pytest.CaptureFixture[str], home: list[str], client_id: str, request: Path, out: Path, family: str = "SM2"
) -> None:
    code, _out, err = _run(
        capsys, "client", "add", client_id, "--kind", "region", "--name", f"{client_id} 平台", "--region", "330000",
        "--csr", str(request), "--out", str(out), "--family", family, *home,
    )  # fmt: skip
    assert code == 0, err


def test_platform_keygen_then_token(
    sdk: Sdk,
    operator_env: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key, request, cert = tmp_path / "platform.key", tmp_path / "platform.csr", tmp_path / "platform.pem"
    assert _run(capsys, "client", "keygen", "--out", str(key), "--csr", str(request), "--client-id", "zj-cli")[0] == 3
    monkeypatch.setenv("TRUST_CLIENT_KEY_PASSPHRASE", PLATFORM_SECRET)
    code, _out, err = _run(
        capsys, "client", "keygen", "--out", str(key), "--csr", str(request), "--client-id", "zj-cli"
    )
    assert code == 0, err
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert (
        csr.parse_and_verify(request.read_bytes()).public_key
        == load_private_key(key.read_bytes(), PLATFORM_SECRET.encode()).public_key
    )
    again = _run(
        capsys, "client", "keygen", "--out", str(key), "--csr", str(tmp_path / "x.csr"), "--client-id", "zj-cli"
    )
    assert again[0] == 3 and "exists" in again[2]  # a key file is never overwritten
    _register(capsys, operator_env, "zj-cli", request, cert)

    code, out, err = _run(capsys, "client", "token", "--key", f"file:{key}", "--cert", str(cert), "--server", sdk.url)
    assert code == 0, err
    assert clients.authenticate(sdk.world.instance, out.strip()).client_id == "zj-cli"
    monkeypatch.setenv("TRUST_SERVER_URL", sdk.url)
    code, out, err = _run(capsys, "client", "token", "--key", str(key), "--cert", str(cert), "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 300
    left = (datetime.fromisoformat(answer["expires_at"]) - datetime.now(UTC)).total_seconds()
    assert 290 <= left <= 300
    assert clients.authenticate(sdk.world.instance, answer["access_token"]).client_id == "zj-cli"

    # refusals: exit 3 with the reason, no key material anywhere
    monkeypatch.setenv("TRUST_CLIENT_KEY_PASSPHRASE", "not the passphrase")
    code, out, err = _run(capsys, "client", "token", "--key", str(key), "--cert", str(cert))
    assert code == 3 and out == "" and "PRIVATE KEY" not in err
    monkeypatch.delenv("TRUST_CLIENT_KEY_PASSPHRASE")
    code, out, err = _run(capsys, "client", "token", "--key", str(key), "--cert", str(cert))
    assert code == 3 and "TRUST_CLIENT_KEY_PASSPHRASE" in err
    code, out, err = _run(
        capsys, "client", "token", "--key", "pkcs11:token=huren;object=platform;pin-value=1234", "--cert", str(cert)
    )
    assert code == 3 and "E1008" in err and "1234" not in err  # a PIN never goes on a command line
    other = sdk.world.platforms["zj-platform"]
    plain = tmp_path / "other.pem"
    plain.write_bytes(other.certificate.dump())
    monkeypatch.setenv("TRUST_CLIENT_KEY_PASSPHRASE", PLATFORM_SECRET)
    code, out, err = _run(capsys, "client", "token", "--key", str(key), "--cert", str(plain))
    assert code == 3 and "E1105" in err  # the key is not the certificate's
    code, out, err = _run(
        capsys, "client", "token", "--key", str(key), "--cert", str(cert), "--server", "http://127.0.0.1:9"
    )
    assert code == 4 and "no answer" in err
    clients.set_client_status(sdk.world.instance, "zj-cli", "disabled")
    code, out, err = _run(capsys, "client", "token", "--key", str(key), "--cert", str(cert))
    assert code == 3 and "E1401 invalid-client" in err and "HTTP 401" in err


@pytest.mark.external
def test_keys_made_by_openssl(
    sdk: Sdk,
    operator_env: list[str],
    openssl: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A platform's own tooling: an SM2 key and request from the OpenSSL command line (plain PKCS#8 PEM, then encrypted
    with ``openssl pkcs8 -topk8`` at its defaults), and an ECDSA P-256 key certified by the RSA national CA."""
    env = {**os.environ, "PW": PLATFORM_SECRET}

    def ossl(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=tmp_path, env=env, check=True, capture_output=True)

    ossl("genpkey", "-algorithm", "SM2", "-out", "sm2.pem")
    ossl(
        "req",
        "-new",
        "-key",
        "sm2.pem",
        "-subj",
        "/CN=zj-openssl",
        "-sm3",
        "-sigopt",
        "distid:1234567812345678",
        "-out",
        "sm2.csr",
    )
    ossl("pkcs8", "-topk8", "-in", "sm2.pem", "-passout", "env:PW", "-out", "sm2-encrypted.pem")
    _register(capsys, operator_env, "zj-openssl", tmp_path / "sm2.csr", tmp_path / "sm2-cert.pem")
    ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem")
    ossl("req", "-new", "-key", "ec.pem", "-subj", "/CN=zj-openssl-ec", "-out", "ec.csr")
    _register(capsys, operator_env, "zj-openssl-ec", tmp_path / "ec.csr", tmp_path / "ec-cert.pem", family="RSA")
    monkeypatch.setenv("TRUST_SERVER_URL", sdk.url)
    for key, cert, client_id in (
        ("sm2.pem", "sm2-cert.pem", "zj-openssl"),
        ("sm2-encrypted.pem", "sm2-cert.pem", "zj-openssl"),
        ("ec.pem", "ec-cert.pem", "zj-openssl-ec"),
    ):
        if key.endswith("encrypted.pem"):
            monkeypatch.setenv("TRUST_CLIENT_KEY_PASSPHRASE_FILE", str(tmp_path / "pw"))
            (tmp_path / "pw").write_text(PLATFORM_SECRET + "\n")
        code, out, err = _run(
            capsys, "client", "token", "--key", f"file:{tmp_path / key}", "--cert", str(tmp_path / cert)
        )
        assert code == 0, (key, err)
        assert clients.authenticate(sdk.world.instance, out.strip()).client_id == client_id


def _disclosed(presentation: str) -> dict[str, object]:
    return {d.name: d.value for d in (sdjwt.decode_disclosure(e) for e in presentation.split("~")[1:-1]) if d.name}


def test_holder_keygen_fetch_present_and_verify(
    sdk: Sdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "holder.key"
    monkeypatch.setenv("TRUST_HOLDER_KEY_PASSPHRASE", HOLDER_SECRET)
    code, out, err = _run(capsys, "license", "keygen", "--out", str(key))
    assert code == 0, err
    holder_jwk = json.loads(out)
    assert set(holder_jwk) == {"kty", "crv", "x", "y"} and holder_jwk["crv"] == "P-256"  # public members only
    holder = load_private_key(key.read_bytes(), HOLDER_SECRET.encode())
    from trust.crypto import jwk

    assert jwk.public_jwk(holder.public_key) == holder_jwk
    record = sdk.issue(holder)
    monkeypatch.setenv("TRUST_SERVER_URL", sdk.url)

    out_file, pdf = tmp_path / "licence.jwt", tmp_path / "licence.pdf"
    code, _out, err = _run(
        capsys,
        "license",
        "fetch",
        record.identifier,
        "--holder-key",
        f"file:{key}",
        "--out",
        str(out_file),
        "--pdf",
        str(pdf),
    )
    assert code == 0, err
    assert out_file.read_text().strip() == record.token
    sd_file = tmp_path / "licence.jwt.sd-jwt"
    assert sd_file.read_text().strip() == record.sd_jwt
    assert (tmp_path / "licence.jwt.qr").read_text().startswith("HR1:") and pdf.read_bytes().startswith(b"%PDF-")
    code, out, _err = _run(capsys, "license", "fetch", record.identifier, "--holder-key", str(key))
    assert code == 0 and json.loads(out)["sd_jwt"] == record.sd_jwt

    code, out, _err = _run(capsys, "license", "present", str(sd_file), "--list")
    assert code == 0 and {"name", "uscc", "legal_representative"} <= set(out.split())

    presentation = tmp_path / "presentation.txt"
    code, _out, err = _run(
        capsys, "license", "present", str(sd_file), "--disclose", "name,uscc", "--holder-key", str(key),
        "--audience", AUDIENCE, "--nonce", "n-20261207-1", "--out", str(presentation),
    )  # fmt: skip
    assert code == 0, err
    text = presentation.read_text().strip()
    assert set(_disclosed(text)) == {"name", "uscc"}  # the others are not even in the presentation
    kb_jwt = text.rsplit("~", 1)[1]
    pem = holder.public_key.pem().encode()
    claims = pyjwt.decode(kb_jwt, serialization.load_pem_public_key(pem), algorithms=["ES256"], audience=AUDIENCE)  # type: ignore[arg-type]
    assert claims["nonce"] == "n-20261207-1" and pyjwt.get_unverified_header(kb_jwt)["typ"] == "kb+jwt"

    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(httpx.get(f"{sdk.url}/bundle").content)
    pins = [arg for fp in httpx.get(f"{sdk.url}/roots").json()["fingerprints"].values() for arg in ("--pin", fp)]
    verify = ["verify", str(presentation), "--bundle", str(bundle), *pins, "--format", "json"]
    code, out, _err = _run(capsys, *verify, "--kb-nonce", "n-20261207-1", "--kb-audience", AUDIENCE)
    assert code == 0 and json.loads(out)["indication"] == "TOTAL_PASSED", out
    code, out, _err = _run(capsys, *verify, "--kb-nonce", "another nonce", "--kb-audience", AUDIENCE)
    assert code == 1 and json.loads(out)["indication"] == "TOTAL_FAILED"


def test_present_refuses_a_field_the_license_does_not_have(
    sdk: Sdk, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = sdk.issue()
    sd_file = tmp_path / "licence.sd-jwt"
    sd_file.write_text(record.sd_jwt + "\n")
    code, out, err = _run(capsys, "license", "present", str(sd_file), "--disclose", "name,nickname")
    assert code == 3 and out == ""
    assert "no disclosable field 'nickname'" in err
    assert "disclosable fields: business_scope, business_term_start, domicile, entity_type," in err
    token_file = tmp_path / "licence.jwt"
    token_file.write_text(record.token)
    code, out, err = _run(capsys, "license", "present", str(token_file), "--disclose", "name")
    assert code == 3 and "not an SD-JWT" in err
    code, out, err = _run(capsys, "license", "present", str(sd_file), "--disclose", "name", "--nonce", "n")
    assert code == 3 and "--holder-key" in err
    code, out, err = _run(capsys, "license", "present", str(sd_file), "--disclose", "name")
    assert code == 0 and set(_disclosed(out.strip())) == {"name"}  # without key binding: no KB-JWT
    assert out.strip().endswith("~")


def test_fetch_with_a_key_the_license_is_not_bound_to(
    sdk: Sdk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trust.crypto import pkcs8
    from trust.crypto.keys import generate_private_key

    record = sdk.issue(generate_private_key("ec-p256"))
    stranger = tmp_path / "stranger.key"
    stranger.write_bytes(pkcs8.encrypt_private_key_pem(generate_private_key("ec-p256"), HOLDER_SECRET.encode()))
    monkeypatch.setenv("TRUST_HOLDER_KEY_PASSPHRASE", HOLDER_SECRET)
    code, out, err = _run(
        capsys, "license", "fetch", record.identifier, "--holder-key", str(stranger), "--server", sdk.url
    )
    assert code == 3 and out == "" and "E1403 forbidden" in err and "bound to the key of this proof" in err
    assert "eyJ" not in err  # no token, proof or key in the message


@pytest.mark.external
def test_platform_key_on_a_pkcs11_token(
    sdk: Sdk,
    operator_env: list[str],
    softhsm: SoftHsm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A platform whose key OpenSC's pkcs11-tool made on its token (SoftHSM2): the CSR and the client assertion are
    signed on the token (``--key pkcs11:token=…;object=…``), the PIN comes from a file named in the environment."""
    made = softhsm.tool(
        "--keypairgen", "--key-type", "EC:prime256v1", "--label", "zj-hsm", "--id", "a1", token="huren-client"
    )
    assert made.returncode == 0, made.stderr
    (tmp_path / "pin").write_text(softhsm.pin + "\n")
    monkeypatch.setenv("TRUST_PKCS11_PIN_FILE", str(tmp_path / "pin"))
    source = "pkcs11:token=huren-client;object=zj-hsm;type=private"
    signer = load_signer(f"{source}?module-path={softhsm.module}")
    info = asn1_csr.CertificationRequestInfo(
        {"version": "v1", "subject": DN(common_name="zj-hsm").to_asn1(), "subject_pk_info": signer.public_key.spki,
         "attributes": []}
    )  # fmt: skip
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": info,
            "signature_algorithm": signer.algorithm.x509_identifier(),
            "signature": signer.sign(info.dump()),
        }
    )
    (tmp_path / "hsm.csr").write_bytes(request.dump())
    _register(capsys, operator_env, "zj-hsm", tmp_path / "hsm.csr", tmp_path / "hsm.pem", family="RSA")
    monkeypatch.setenv("TRUST_PKCS11_MODULE", softhsm.module)  # (after the operator's command: its key store is files)
    monkeypatch.setenv("TRUST_SERVER_URL", sdk.url)
    for key in (
        source,
        "pkcs11:token=huren-client;id=%a1",
        f"pkcs11:token=huren-client;object=zj-hsm?module-path={softhsm.module}",
    ):
        code, out, err = _run(capsys, "client", "token", "--key", key, "--cert", str(tmp_path / "hsm.pem"))
        assert code == 0, (key, err)
        assert clients.authenticate(sdk.world.instance, out.strip()).client_id == "zj-hsm"
    code, out, err = _run(
        capsys,
        "client",
        "token",
        "--key",
        "pkcs11:token=huren-client;object=absent",
        "--cert",
        str(tmp_path / "hsm.pem"),
    )
    assert code == 4 and "E1208" in err
    monkeypatch.delenv("TRUST_PKCS11_PIN_FILE")
    code, out, err = _run(capsys, "client", "token", "--key", source, "--cert", str(tmp_path / "hsm.pem"))
    assert code == 3 and "E1207" in err and "TRUST_PKCS11_PIN" in err
