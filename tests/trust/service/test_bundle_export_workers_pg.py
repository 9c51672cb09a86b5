"""A revocation over HTTP on ``trust serve --workers 2`` (PostgreSQL) with the bundle exported off the request path
(issue 15 item 3): revoked through one worker, a certificate is REVOKED at once for the other worker's ``POST
/verify``, ``POST /ocsp`` and ``GET /bundle`` (and the first's) — none of which reads ``public/bundle.json`` — and
the workers' background exporters then leave ``public/bundle.json`` listing every serial revoked.

The server is a real subprocess (``tests/support/multiworker.py``); one kept-alive connection per worker is found
through ``/proc`` (as ``tests/trust/http/test_ratelimit.py`` does).
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import ocsp as asn1_ocsp

from tests.support import multiworker as mw
from tests.support import postgres
from tests.support.server import free_port
from tests.trust.service.test_bundle_export import _revoked_serials, _subject
from trust.formats import ocsp as ocsp_format
from trust.formats import x509 as cx
from trust.service import ca as ca_service
from trust.service import trust as trust_registry

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from postgres.fresh_database()


def _call(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def test_a_revocation_through_one_worker_counts_at_once_in_the_other(tmp_path: Path, postgres_url: str) -> None:
    port = free_port()
    world, _issuer = mw.build_pg_world(tmp_path / "home", port, postgres_url)
    instance = world.instance
    issued = [ca_service.issue(instance, ca_id=mw.SM2_CA, profile="seal", subject=_subject(i)) for i in range(4)]
    trust_registry.export_bundle(instance)
    issuer = cx.load_certificate(ca_service.ca_certificate_der(instance, mw.SM2_CA))
    with mw.serve(world.home, port, workers=2, database_url=postgres_url, log_path=tmp_path / "serve.log") as server:
        one, other = server.connection_per_worker(timeout=120)
        with httpx.Client(base_url=server.url, timeout=120) as client:
            token = mw.access_token(client, world, "zj-platform")
        for result in issued:
            status, body = _call(
                one,
                "POST",
                f"/certificates/{result.record.serial}/revoke",
                json.dumps({"reason": "key_compromise"}).encode(),
                {"authorization": f"Bearer {token}", "content-type": "application/json"},
            )
            assert status == 200, body[:500]
            certificate = result.certificate
            for connection in (other, one):
                request = json.dumps({"input": base64.b64encode(certificate.dump()).decode()}).encode()
                status, body = _call(connection, "POST", "/verify", request, {"content-type": "application/json"})
                assert status == 200, body[:500]
                report = json.loads(body)
                assert (report["indication"], report["sub_indication"]) == ("TOTAL_FAILED", "REVOKED")
                cert_id = ocsp_format.CertId.for_certificate(issuer, certificate.serial_number)
                status, body = _call(
                    connection,
                    "POST",
                    "/ocsp",
                    ocsp_format.build_request([cert_id]),
                    {"content-type": "application/ocsp-request"},
                )
                assert status == 200
                basic = asn1_ocsp.OCSPResponse.load(body).basic_ocsp_response
                assert basic["tbs_response_data"]["responses"][0]["cert_status"].name == "revoked"
                status, body = _call(connection, "GET", "/bundle", None, {})
                assert status == 200 and certificate.serial_number in _revoked_serials(body, instance)
        # the background exporters write public/bundle.json soon after the burst (0.25 s, then one export); waiting
        # for it here is bounded, the assertion is on what the file holds
        serials = {result.certificate.serial_number for result in issued}
        published = instance.settings.published_dir / "bundle.json"
        deadline = time.monotonic() + 120
        while not serials <= _revoked_serials(published.read_bytes(), instance) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert serials <= _revoked_serials(published.read_bytes(), instance)
        one.close()
        other.close()
    instance.engine.dispose()
