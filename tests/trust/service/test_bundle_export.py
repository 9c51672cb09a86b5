"""``public/bundle.json`` off the request path (issue 15 item 3): a change in the service only marks the file stale
(the state version, bumped in the change's transaction) and wakes a background exporter, which exports once for a
burst; ``POST /verify``, OCSP and ``GET /bundle`` count a revocation at once all the same, in every worker; the CLI
leaves the file current when it exits.

Exports are counted by wrapping :func:`trust.service.trust.build_bundle` (every export signs one bundle; ``GET
/bundle`` signs its own from the database and is not counted). Before the change every revocation exported the
bundle inside its request: ten revocations, ten exports.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from fastapi.testclient import TestClient

from tests.support import postgres
from tests.support.server import free_port
from tests.support.world import make_instance
from trust.formats import bundle as bundle_format
from trust.formats import ocsp as ocsp_format
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.http.app import create_app
from trust.service import ca as ca_service
from trust.service import trust as trust_registry
from trust.service.instance import Instance

CA_ID = "region-330000-sm2"


def _subject(i: int) -> DN:
    return DN(
        province="浙江省",
        organization=f"杭州示例科技有限公司{i}",
        common_name="合同专用章",
        serial_number=make_uscc(f"9133010{i:02d}MA2CFA4X"[:17]),
    )


def _world(home: Path, database_url: str | None = None, port: int | None = None) -> Instance:
    instance = make_instance(home, port or free_port(), database_url)
    ca_service.init(instance)
    ca_service.enrol(instance, kind="region", code="330000", family="SM2")
    return instance


def _issue(instance: Instance, count: int) -> list[Any]:
    return [
        ca_service.issue(instance, ca_id=CA_ID, profile="seal", subject=_subject(i)).certificate for i in range(count)
    ]


def _serial(certificate: Any) -> str:
    return format(certificate.serial_number, "x")


def _revoked_serials(bundle: bytes, instance: Instance) -> set[int]:
    checked = bundle_format.verify(bundle, [trust_registry.root_fingerprints(instance)["SM2"]])
    serials: set[int] = set()
    for ca, der in checked.bundle.crls:
        if ca == CA_ID:
            revoked = asn1_crl.CertificateList.load(der)["tbs_cert_list"]["revoked_certificates"]
            serials |= {entry["user_certificate"].native for entry in revoked}
    return serials


def _published(instance: Instance) -> bytes:
    return (instance.settings.published_dir / "bundle.json").read_bytes()


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every bundle export of this process, counted."""
    calls: list[int] = []
    real = trust_registry.build_bundle

    def counted(instance: Instance) -> dict[str, Any]:
        calls.append(1)
        return real(instance)

    monkeypatch.setattr(trust_registry, "build_bundle", counted)
    return calls


def _seen_by_the_service(client: TestClient, instance: Instance, certificate: Any) -> None:
    """``POST /verify``, OCSP and ``GET /bundle`` of ``client``'s worker all count ``certificate`` as revoked."""
    response = client.post("/verify", json={"input": base64.b64encode(certificate.dump()).decode()})
    assert response.status_code == 200, response.text
    assert (response.json()["indication"], response.json()["sub_indication"]) == ("TOTAL_FAILED", "REVOKED")
    issuer = cx.load_certificate(ca_service.ca_certificate_der(instance, CA_ID))
    cert_id = ocsp_format.CertId.for_certificate(issuer, certificate.serial_number)
    answer = client.post(
        "/ocsp", content=ocsp_format.build_request([cert_id]), headers={"content-type": "application/ocsp-request"}
    )
    assert answer.status_code == 200, answer.text
    basic = asn1_ocsp.OCSPResponse.load(answer.content).basic_ocsp_response
    assert basic["tbs_response_data"]["responses"][0]["cert_status"].name == "revoked"
    bundle = client.get("/bundle")
    assert bundle.status_code == 200
    assert certificate.serial_number in _revoked_serials(bundle.content, instance)


def test_a_burst_of_revocations_in_the_service_is_one_export_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exports: list[int]
) -> None:
    """Ten revocations while the service runs: none exports the bundle on its own path (each was one export before),
    each counts at once for ``POST /verify``, OCSP and ``GET /bundle``; the background exporter then writes one bundle
    holding all ten (its delay is set past the burst, so the count does not depend on the machine's speed)."""
    instance = _world(tmp_path / "home")
    certificates = _issue(instance, 10)
    trust_registry.export_bundle(instance)
    exports.clear()
    monkeypatch.setattr(trust_registry, "EXPORT_DELAY", 3600.0, raising=False)
    with TestClient(create_app(instance)) as client:
        for certificate in certificates:
            ca_service.revoke(instance, serial=_serial(certificate), reason="key_compromise")
            _seen_by_the_service(client, instance, certificate)
        assert exports == []  # nothing exported on the revocations' path
        assert trust_registry.bundle_stale(instance)
        assert not {c.serial_number for c in certificates} & _revoked_serials(_published(instance), instance)
    # the exporter, woken during the burst, exports once (here when the service stops: its delay is an hour)
    assert len(exports) == 1
    assert {c.serial_number for c in certificates} <= _revoked_serials(_published(instance), instance)
    assert not trust_registry.bundle_stale(instance)


def test_without_the_service_a_change_exports_once_and_only_when_stale(tmp_path: Path, exports: list[int]) -> None:
    """The library (and so the CLI) exports when the change commits: the file is current when the call returns; a
    second export request with nothing changed writes nothing."""
    instance = _world(tmp_path / "home")
    (certificate,) = _issue(instance, 1)
    trust_registry.export_bundle(instance)
    exports.clear()
    ca_service.revoke(instance, serial=_serial(certificate), reason="key_compromise")
    assert len(exports) == 1 and not trust_registry.bundle_stale(instance)
    assert certificate.serial_number in _revoked_serials(_published(instance), instance)
    assert trust_registry.export_if_stale(instance) is None and len(exports) == 1


def test_the_cli_leaves_public_bundle_json_current(tmp_path: Path) -> None:
    """``trust ca revoke`` (a process of its own) exits with ``public/bundle.json`` listing the serial."""
    import os
    import subprocess

    from tests.conftest import REPO
    from tests.support.multiworker import trust_command
    from tests.support.world import PASSPHRASE

    instance = _world(tmp_path / "home")
    (certificate,) = _issue(instance, 1)
    trust_registry.export_bundle(instance)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRUST_")}
    environment.update(
        TRUST_KEY_PASSPHRASE=PASSPHRASE.decode(),
        TRUST_KEY_KDF_ITERATIONS=str(instance.settings.key_kdf_iterations),
        TRUST_PUBLIC_URL=str(instance.settings.public_url),
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [*trust_command(), "ca", "revoke", _serial(certificate), "--reason", "key_compromise", "--home",
         str(instance.settings.home)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert certificate.serial_number in _revoked_serials(_published(instance), instance)
    assert not trust_registry.bundle_stale(instance)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


@pytest.mark.postgres
def test_two_workers_on_postgresql_see_a_revocation_at_once(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch, exports: list[int]
) -> None:
    """Two workers (each its own instance, engine and app, one PostgreSQL database and one home): a revocation made
    through one counts at once in the other's ``POST /verify``, OCSP and ``GET /bundle``; the two background exporters
    write one bundle between them (the second finds it current under the export lock)."""
    port = free_port()
    one = _world(tmp_path / "home", postgres_url, port)
    other = make_instance(tmp_path / "home", port, postgres_url)
    certificates = _issue(one, 3)
    trust_registry.export_bundle(one)
    exports.clear()
    monkeypatch.setattr(trust_registry, "EXPORT_DELAY", 3600.0, raising=False)
    with TestClient(create_app(one)) as first, TestClient(create_app(other)) as second:
        for certificate in certificates:
            ca_service.revoke(one, serial=_serial(certificate), reason="key_compromise")
            _seen_by_the_service(second, other, certificate)
            _seen_by_the_service(first, one, certificate)
        assert exports == []
    assert len(exports) == 1
    assert {c.serial_number for c in certificates} <= _revoked_serials(_published(other), other)
    assert json.loads(_published(one)) == json.loads(_published(other))
