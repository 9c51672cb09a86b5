"""Checkpoints under an offline national root (issue 19 × issue 20): the service holds no root key, so the roots'
delegated trust-list signers (certified in a ceremony) sign the checkpoints; the bundle names them, and the offline
verifier accepts a checkpoint signed by a delegate only by the rules of ``check_delegate``: issued and signed by a
pinned root, not a CA, the trust-list-signing EKU exactly, valid at the checkpoint's time."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ca.models import CertificateAuthority
from tests.support.world import ZJ_ORG_USCC, make_instance
from trust import db
from trust.crypto.keys import generate_private_key
from trust.formats import bundle as bundle_format
from trust.formats import tlog as ft
from trust.formats import x509 as cx
from trust.formats.names import DN
from trust.service import ca as ca_service
from trust.service import ceremony, tlog
from trust.service import trust as trust_registry
from verifier import transparency

EKU_TRUST_LIST_SIGNING = "1.3.6.1.4.1.32473.1.3.2"


def _yes(lines: list[str]) -> bool:
    return True


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """The service after the offline root's first ceremony, with a region CA enrolled by ceremony and a certificate."""
    base = tmp_path_factory.mktemp("tlog-offline-root")
    offline, service = make_instance(base / "offline"), make_instance(base / "service")
    roots = base / "roots"
    ceremony.init_offline_root(offline, roots)
    pending = ceremony.init_service(service, roots)
    ceremony.import_response(service, ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes))
    pending = ceremony.request_enrol(service, kind="region", code="330000", family="SM2")
    ceremony.import_response(service, ceremony.sign_request(offline, pending.path.read_bytes(), confirm=_yes))
    issued = ca_service.issue(
        service,
        ca_id="region-330000-sm2",
        profile="organization-identity",
        subject=DN(province="浙江省", organization="测试公司", common_name="测试公司", serial_number=ZJ_ORG_USCC),
    ).record
    pins = [hashlib.sha256((roots / f"root-{f}.cer").read_bytes()).hexdigest() for f in ("sm2", "rsa")]
    yield service, issued, pins, base
    service.engine.dispose()
    offline.engine.dispose()


def _bundle(service, pins, path: Path):
    exported = trust_registry.export_bundle(service, path)
    return bundle_format.verify(exported.read_bytes(), pins)


def _check(verified, credential: bytes, proof: dict) -> transparency.Transparency:
    roots = [root.certificate for root in verified.trust_list.roots]
    return transparency.check(credential, json.dumps(proof).encode(), verified.bundle.checkpoints, roots)


def test_checkpoints_are_signed_by_the_delegated_signers(world, tmp_path) -> None:
    service, issued, pins, _base = world
    with db.session_scope(service.engine, read_only=True) as session:
        assert all(r.key_id is None for r in tlog._root_cas(session))
    record = tlog.checkpoint(service)  # refused with E1210 root-offline before delegates signed checkpoints
    signers = {s.name for s in ft.parse_note(record.note).signatures}
    assert signers == {tlog.origin(service)} and len(ft.parse_note(record.note).signatures) == 2
    verified = _bundle(service, pins, tmp_path / "bundle.json")
    section = verified.bundle.checkpoints[0]
    assert len(section["delegates"]) == 2  # the SM2 and RSA roots' trust-list signers
    # the offline verifier: roots pinned, delegates from the bundle checked against them
    keys = transparency.log_verifiers(
        section["origin"],
        [r.certificate for r in verified.trust_list.roots],
        [base64.b64decode(d) for d in section["delegates"]],
        transparency.checkpoint_time(section["note"]),
    )
    assert len(ft.verify_checkpoint(section["note"], keys).signed_by) == 2
    proof = tlog.prove(service, tlog.find(service, digest=issued.fingerprint)).to_json()
    result = _check(verified, issued.der, proof)
    assert result.status == "logged", result


def _delegate_signers(service):
    with db.session_scope(service.engine, read_only=True) as session:
        roots = [session.get(CertificateAuthority, rid) for rid in trust_registry.ROOT_IDS]
        return trust_registry.root_signers(session, service, [r for r in roots if r is not None])


def _resigned(service, note: str, signers, when: str) -> str:
    """``note``'s tree (size, root) in a checkpoint stating the time ``when``, signed by ``signers``."""
    checkpoint = ft.parse_checkpoint(ft.parse_note(note).text)
    body = ft.Checkpoint(checkpoint.origin, checkpoint.size, checkpoint.root, (f"huren-time {when}",)).body()
    return ft.Note(body, tuple(ft.sign_national(body, checkpoint.origin, s) for s in signers)).encode()


def test_a_checkpoint_by_an_uncertified_or_expired_delegate_is_refused(world, tmp_path) -> None:
    service, issued, pins, _base = world
    tlog.checkpoint(service)
    verified = _bundle(service, pins, tmp_path / "bundle.json")
    proof: dict[str, Any] = tlog.prove(service, tlog.find(service, digest=issued.fingerprint)).to_json()
    assert _check(verified, issued.der, proof).status == "logged"
    # the real delegates' keys, but a time outside their certificates' validity: not trusted then
    real = [signer for signer, _chain in _delegate_signers(service)]
    late = _resigned(service, proof["checkpoint"], real, "2099-01-01T00:00:00Z")
    refused = _check(verified, issued.der, dict(proof, checkpoint=late))
    assert (refused.status, refused.code) == ("failed", "E1803"), refused
    # a signer that names a pinned root as issuer, with the EKU, but that the root did not certify
    root_cert = cx.load_certificate(verified.trust_list.roots[0].certificate)
    impostor = generate_private_key("sm2")
    start = datetime.now(UTC).replace(microsecond=0)
    fake = (
        cx.CertificateBuilder()
        .subject(DN(common_name="伪签名者").to_asn1())
        .issuer(root_cert.subject)
        .public_key(impostor.public_key)
        .serial_number(7)
        .validity(start.replace(year=start.year - 1), start.replace(year=start.year + 1))
        .add_extension(cx.basic_constraints(False))
        .add_extension(cx.key_usage({"digital_signature"}))
        .add_extension(cx.extended_key_usage([EKU_TRUST_LIST_SIGNING]))
        .sign(impostor.signer())
    )
    forged_note = _resigned(service, proof["checkpoint"], [impostor.signer()], start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    section = dict(verified.bundle.checkpoints[0])
    section["delegates"] = [*section["delegates"], base64.b64encode(fake.dump()).decode()]
    roots = [root.certificate for root in verified.trust_list.roots]
    forged = transparency.check(issued.der, json.dumps(dict(proof, checkpoint=forged_note)).encode(), [section], roots)
    assert (forged.status, forged.code) == ("failed", "E1803"), forged
    # a bundle that does not name the delegates: a delegate-signed checkpoint has no trusted signature
    bare = {k: v for k, v in verified.bundle.checkpoints[0].items() if k != "delegates"}
    unnamed = transparency.check(issued.der, json.dumps(proof).encode(), [bare], roots)
    assert (unnamed.status, unnamed.code) == ("failed", "E1803"), unnamed
