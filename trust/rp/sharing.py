"""The requesting service's side of licence sharing (issue 21 item 3): verify a retrieved licence offline.

A licence retrieved through the national directory is an SD-JWT VC signed by its issuer and bound to the requesting
service: ``aud`` is the service's entity identifier and ``cnf.jwk`` its federation key. :func:`verify_shared` runs
the offline verifier with the service's bundle (issuer in the trust list and authorised for the type at issue time,
signature, disclosures, validity, status list) and then checks the binding, so a licence fetched for another
service is refused here even though its signature verifies. Imports the verifier and the format layers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trust.crypto import jwk
from trust.crypto.errors import Code, TrustError
from trust.formats import jose
from trust.formats.sdjwt import serialization


def verify_shared(sd_jwt: str, *, bundle: bytes, pins: Sequence[str], audience: str, key_jwk: Mapping[str, Any]) -> Any:
    """The verifier's report (TOTAL_PASSED) on a shared licence for the service ``audience`` holding ``key_jwk``;
    raises :class:`~trust.crypto.errors.TrustError` (``key-binding-failed``) when it does not verify or is bound to
    another service."""
    from verifier import api, context

    ctx = context.build(bundle=bundle, pins=list(pins))
    report = api.verify(sd_jwt.encode(), ctx)
    if report.kind != "license-sd-jwt" or report.indication.value != "TOTAL_PASSED":
        reason = "; ".join(report.errors) or report.indication.value
        raise TrustError(f"the shared licence does not verify: {reason}", code=Code.KEY_BINDING_FAILED)
    _header, payload, _input, _sig = jose.parse_compact(serialization.parse(sd_jwt).issuer_jws)
    import json

    claims = json.loads(payload)
    if claims.get("aud") != audience:
        raise TrustError(
            "the shared licence was retrieved for another service",
            code=Code.KEY_BINDING_FAILED,
            evidence={"expected": audience, "found": str(claims.get("aud"))},
        )
    bound = (claims.get("cnf") or {}).get("jwk") or {}
    mine = jwk.thumbprint(jose.public_key_for_verification(key_jwk))
    theirs = jwk.thumbprint(jose.public_key_for_verification(bound)) if bound else None
    if theirs != mine:
        raise TrustError("the shared licence is bound to another key", code=Code.KEY_BINDING_FAILED)
    return report
