"""``trust keys rekey … --token`` on SoftHSM2 (issue 20 item 3): a world built with file keys, then opened with a token
configured; the RS256 licence issuer, the RSA TSA and the RSA regional CA's OCSP responder are re-keyed onto the token
(``C_GenerateKeyPair``: made there, never extractable); a licence token made before the re-key still verifies against
the bundle exported after it, and so does one made after it (signed on the token) with its status list (signed again
with the new key although the old key's token was cached). Refusals: a token label that is not the configured token
(E1213), an SM2 key on the token (E1214). ``trust keys move`` writes an audit entry; ``trust keys prune``."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from licenses import samples
from tests.support.softhsm import SoftHsm
from tests.support.world import PASSPHRASE, make_instance
from tests.trust.service.test_token_faults import _token_instance
from trust.cli.main import main
from trust.crypto.errors import Code, TrustError
from trust.formats import license_catalogue as catalogue
from trust.formats.names import make_uscc
from trust.service import audit, keys_rekey, licenses, trust
from trust.service import ca as ca_service
from trust.service.instance import Instance
from verifier import api, context

pytestmark = [pytest.mark.external, pytest.mark.slow]
TOKEN = "huren-rekey"
CA = "region-330000-rsa"


@pytest.fixture(scope="module")
def world(softhsm: SoftHsm, tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, str, str]:
    home = tmp_path_factory.mktemp("rekey-token")
    files = make_instance(home)
    ca_service.init(files)
    ca_service.enrol(files, kind="region", code="330000", family="RSA")
    business = catalogue.all_types()[0].code
    issuer = licenses.register_issuer(
        files, ca_id=CA, name="浙江省市场监督管理局", code=make_uscc("11330000002482226"), license_types=[business],
        family="RSA",
    )  # fmt: skip
    before = licenses.issue(files, issuer_id=issuer.id, type_code=business, fields=samples.sample(business))
    return _token_instance(home, softhsm, TOKEN), issuer.id, before.record.token


def _ctx(instance: Instance) -> context.VerificationContext:
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    return context.build(bundle=bundle, pins=[trust.root_fingerprints(instance)["RSA"]])


def test_rekey_onto_the_token_keeps_old_tokens_verifying(world: tuple[Instance, str, str]) -> None:
    instance, issuer_id, old_token = world
    with Session(instance.engine) as session:
        old_key = keys_rekey.current_key(session, "license-issuer", issuer_id)
    assert old_key is not None and not old_key.startswith("p11:")
    _ctx(instance)  # the status list tokens are signed (old key) and cached per list version in this process
    done = keys_rekey.rekey(instance, "license-issuer", issuer_id, token=TOKEN)
    new_key = done.new[0][1]
    assert new_key.startswith(f"p11:{TOKEN}/") and done.old[0][1] == old_key
    ctx = _ctx(instance)
    report = api.verify(old_token.encode(), ctx)
    failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if c.result.value != "passed")
    assert report.indication.value == "TOTAL_PASSED", failed
    business = catalogue.all_types()[0].code
    made = licenses.issue(instance, issuer_id=issuer_id, type_code=business, fields=samples.sample(business))
    assert api.verify(made.record.token.encode(), ctx).indication.value == "TOTAL_PASSED"
    with Session(instance.engine) as session:
        (entry,) = session.exec(select(audit.AuditEntry).where(audit.AuditEntry.action == "key.rekey")).all()
    assert audit.parse_details(entry.details)["where"] == f"token {TOKEN}"


def test_tsa_and_ocsp_rekeyed_onto_the_token_through_the_cli(
    world: tuple[Instance, str, str], softhsm: SoftHsm
) -> None:
    from trust.formats import tsp
    from trust.service import tsa as tsa_service

    instance, _issuer_id, _old = world
    home = str(instance.settings.home)
    mp = pytest.MonkeyPatch()
    mp.setenv("TRUST_PKCS11_MODULE", softhsm.module)
    mp.setenv("TRUST_PKCS11_TOKEN", TOKEN)
    mp.setenv("TRUST_PKCS11_PIN", softhsm.pin)
    mp.setenv("TRUST_KEY_PASSPHRASE", PASSPHRASE.decode())
    mp.setenv("TRUST_KEY_KDF_ITERATIONS", "2000")
    try:
        assert main(["keys", "rekey", "ocsp", CA, "--token", TOKEN, "--home", home]) == 0
        assert main(["keys", "rekey", "tsa", "RSA", "--token", TOKEN, "--home", home]) == 0
    finally:
        mp.undo()
    with Session(instance.engine) as session:
        assert (keys_rekey.current_key(session, "ocsp", CA) or "").startswith(f"p11:{TOKEN}/")
        assert (keys_rekey.current_key(session, "tsa", "RSA") or "").startswith(f"p11:{TOKEN}/")
    tsa_service.invalidate(instance)
    request = tsp.build_request(hash_algorithm="sha256", message_digest=bytes(32), nonce=9)
    assert tsp.verify_response(tsa_service.timestamp(instance, request, "RSA"), message_digest=bytes(32), nonce=9)


def test_refusals_change_nothing(world: tuple[Instance, str, str]) -> None:
    instance, issuer_id, _old = world
    with Session(instance.engine) as session:
        before = keys_rekey.current_key(session, "license-issuer", issuer_id)
    for kind, sid, token, code in (
        ("license-issuer", issuer_id, "huren-other", Code.REKEY_TOKEN_MISMATCH),
        ("tsa", "SM2", TOKEN, Code.REKEY_NOT_ON_TOKEN),
    ):
        with pytest.raises(TrustError) as caught:
            keys_rekey.rekey(instance, kind, sid, token=token)
        assert caught.value.code is code
    with Session(instance.engine) as session:
        assert keys_rekey.current_key(session, "license-issuer", issuer_id) == before


def test_a_key_move_is_audited(world: tuple[Instance, str, str]) -> None:
    """Before, the move's bulk UPDATE left no audit entry (the ORM hooks do not see it)."""
    from trust.service import keys as key_moves

    instance, _issuer_id, _old = world
    with Session(instance.engine) as session:
        key_id = keys_rekey.current_key(session, "tsa", "SM2")  # an SM2 key cannot move; take the national RSA CA's
        from ca.models import CertificateAuthority

        national = session.get(CertificateAuthority, "national-rsa")
        assert national is not None and national.key_id is not None and key_id is not None
        moving = national.key_id
    moved = key_moves.move_to_token(instance, moving)
    with Session(instance.engine) as session:
        entries = session.exec(select(audit.AuditEntry).where(audit.AuditEntry.action == "key.move")).all()
    assert [e.subject for e in entries] == [moving]
    details = audit.parse_details(entries[0].details)
    assert details["to"] == moved.new_key_id and details["rows"] == moved.rows >= 1
    assert audit.verify(instance.engine).ok


def test_prune_lists_and_deletes_only_unreferenced_huren_keys(world: tuple[Instance, str, str]) -> None:
    from trust.service import keys as key_moves

    instance, issuer_id, _old = world
    stray = instance.keystore.generate("ec-p256", label="left by a failed discard")
    assert [o.key_id for o in key_moves.token_orphans(instance)] == [stray.key_id]  # the row-named ones are not
    key_moves.prune_token(instance, key_moves.token_orphans(instance))
    assert key_moves.token_orphans(instance) == []
    assert stray.key_id not in {k.key_id for k in instance.keystore.list()}
    with Session(instance.engine) as session:
        assert keys_rekey.current_key(session, "license-issuer", issuer_id) in {
            k.key_id for k in instance.keystore.list()
        }
        (entry,) = session.exec(select(audit.AuditEntry).where(audit.AuditEntry.action == "key.prune")).all()
    assert entry.subject == stray.key_id


def test_a_status_list_signed_by_a_key_the_issuer_never_held_still_fails(world: tuple[Instance, str, str]) -> None:
    """The verifier takes the issuer service's current key for status lists (after a re-key); any other key is still
    refused: the old licence's status list re-signed by an outsider's key, under that key's kid, is unusable."""
    import dataclasses

    from trust.crypto import jwk
    from trust.crypto.keys import generate_private_key
    from trust.formats import status_list

    instance, _issuer_id, old_token = world
    ctx = _ctx(instance)
    genuine = {e["uri"]: e["token"] for e in ctx.status_lists}
    outsider = generate_private_key("rsa-2048").signer()
    forged = []
    for uri in genuine:
        values = status_list.StatusList(bits=2, size=1024)
        forged.append(
            {
                "uri": uri,
                "token": status_list.make_token(
                    values, uri, outsider, iat=1, exp=2**31, ttl=3600, kid=jwk.thumbprint(outsider.public_key)
                ),
            }
        )
    report = api.verify(old_token.encode(), dataclasses.replace(ctx, status_lists=tuple(forged)))
    assert report.indication.value != "TOTAL_PASSED"
    assert any(c.name == "status" and c.result.value != "passed" for c in report.checks)
