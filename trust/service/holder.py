"""Holder retrieval: a licence's holder fetches it (token, SD-JWT, QR payload, sealed PDF) by proving possession of
the key bound to it at issuance (the SD-JWT's ``cnf.jwk``) — until citizen login arrives (OpenID Connect
federation, a later issue). docs/SECURITY.md, "Holder retrieval", is the threat model.

:func:`retrieve` decides, in this order:

1. the proof (:func:`trust.formats.holder_proof.verify`): its signature with the key it names, ``sub`` = the licence
   asked for, ``aud`` = this service (``TRUST_PUBLIC_URL``), lifetime ≤ 300 s, not expired, a ``jti``. A proof that
   fails here is refused with its specific reason (401 ``E1400``): nothing about any licence has been looked at;
2. the ``jti``, once: recorded in the single-use table the client assertions use (``client_assertion_jti``, under a
   ``holder:<key thumbprint>`` namespace no client id can take) until the proof's ``exp`` + 60 s, on every worker;
   a replay is refused (401 ``E1402``) — before the licence is looked up;
3. the licence: it must exist, have a holder key, and that key must be the proof's. The three refusals are one
   answer (403 ``E1403``, the same text), so nobody learns whether an identifier exists or is bound to a key;
4. the audit entry: ``license.holder-retrieve`` with the licence as subject and actor ``holder:<thumbprint>``,
   result ``ok`` or ``denied`` (with the reason, in the log only). Proofs refused at step 1 or 2 are not audited —
   like failed client authentications: nobody was authenticated — and cost the caller its address's rate limit.

The PDF (:func:`retrieve_pdf`) is then made like the platform route makes it (:mod:`trust.service.license_documents`:
refused with 409 for a suspended or revoked licence); the sealing it does is audited as the holder's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.exc import IntegrityError

from licenses import issuance
from licenses.models import LicenseRecord
from trust import db
from trust.crypto.errors import Code, ForbiddenError, NotFoundError, TrustError
from trust.crypto.keys import PublicKey
from trust.formats import holder_proof, jose
from trust.service import audit
from trust.service.clients import AssertionJti
from trust.service.instance import Instance

ACTION: Final = "license.holder-retrieve"
REFUSAL: Final = "no licence {identifier} bound to the key of this proof"


def _holder_key(record: LicenseRecord) -> PublicKey | None:
    """The ``cnf.jwk`` of the licence's SD-JWT (issuer-signed, stored at issuance), or None."""
    try:
        _header, payload, _input, _signature = jose.parse_compact(record.sd_jwt.split("~", 1)[0])
        claims = json.loads(payload)
        jwk = claims.get("cnf", {}).get("jwk") if isinstance(claims, dict) else None
        return jose.public_key_for_verification(jwk) if isinstance(jwk, dict) else None
    except (TrustError, ValueError, AttributeError):
        return None


def _consume(instance: Instance, proof: holder_proof.HolderProof) -> None:
    digest = hashlib.sha256(f"holder:{proof.thumbprint}\n{proof.jti}".encode()).hexdigest()
    expires = datetime.fromtimestamp(proof.expires_at + holder_proof.SKEW, UTC)
    try:
        with db.session_scope(instance.engine) as session:
            session.add(AssertionJti(jti_hash=digest, expires_at=expires))
    except IntegrityError:
        raise holder_proof.HolderProofError(
            "holder proof already used (jti replay): sign a new one", code=Code.ASSERTION_REPLAYED
        ) from None


@dataclass(frozen=True)
class Retrieval:
    record: LicenseRecord
    actor: str  # holder:<RFC 7638 thumbprint of the holder key>


def retrieve(instance: Instance, identifier: str, proof: str, *, form: str = "json") -> Retrieval:
    """The licence ``identifier`` for the holder who signed ``proof`` (module docstring); raises otherwise."""
    verified = holder_proof.verify(proof, audience=instance.settings.effective_public_url, identifier=identifier)
    _consume(instance, verified)
    actor = f"holder:{verified.thumbprint}"
    with audit.acting(actor, audit.request_id_var.get()):
        record: LicenseRecord | None
        try:
            with db.session_scope(instance.engine, read_only=True) as session:
                record = issuance.get_license(session, identifier)
        except NotFoundError:
            record = None
        bound = _holder_key(record) if record is not None else None
        if record is None or bound is None or bound != verified.key:
            reason = "unknown licence" if record is None else "no holder key" if bound is None else "another key"
            audit.record(
                instance.engine,
                action=ACTION,
                subject=f"license:{identifier}"[:256],
                result="denied",
                details={"reason": reason, "form": form},
            )
            raise ForbiddenError(REFUSAL.format(identifier=identifier[:128]))
        audit.record(
            instance.engine, action=ACTION, subject=f"license:{record.identifier}", result="ok", details={"form": form}
        )
    return Retrieval(record, actor)


def retrieve_pdf(
    instance: Instance, identifier: str, proof: str, *, level: str = "B-LT", family: str = "SM2"
) -> tuple[LicenseRecord, bytes]:
    """:func:`retrieve`, then the sealed licence PDF (sealing audited as the holder's)."""
    from trust.service import license_documents

    found = retrieve(instance, identifier, proof, form="pdf")
    with audit.acting(found.actor, audit.request_id_var.get()):
        pdf = license_documents.issue_pdf(instance, found.record.identifier, level=level, family=family)
    return found.record, pdf


__all__ = ["ACTION", "REFUSAL", "Retrieval", "retrieve", "retrieve_pdf"]
