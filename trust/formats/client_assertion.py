"""RFC 7523 client assertions (``private_key_jwt``, RFC 7523 clause 3 and RFC 7521 clause 4.2): the JWT a platform
signs with its certified key to authenticate to the token endpoint (or as the bearer value of one request).

Header ``alg`` (the key's: ``SM2``, ``ES256``…, ``RS256``…), ``typ`` ``JWT`` and ``x5c`` = [the credential
certificate, optionally its CA] (standard base64 DER, RFC 7515 clause 4.1.6). Claims ``iss`` = ``sub`` = the client
id, ``aud`` = the token endpoint (``<public url>/oauth/token``) or the service (``<public url>``), ``iat``, ``exp``
(at most :data:`MAX_LIFETIME` seconds later) and a fresh random ``jti``. docs/SECURITY.md states what the service
checks (``trust.service.clients.verify_assertion``); this module only builds them, for platforms (``trust.client``,
``trust client token``) and tests.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Sequence
from typing import Final

from trust.crypto.errors import InputError
from trust.crypto.signer import Signer
from trust.formats import jose

ASSERTION_TYPE: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""The ``client_assertion_type`` of the token request (RFC 7523 clause 2.2)."""
MAX_LIFETIME: Final = 300
"""The longest ``exp - iat`` the service accepts (seconds)."""
DEFAULT_LIFETIME: Final = 120


def build(
    signer: Signer,
    chain: Sequence[bytes],
    *,
    client_id: str,
    audience: str,
    lifetime: int = DEFAULT_LIFETIME,
    jti: str | None = None,
    issued_at: int | None = None,
) -> str:
    """A compact client assertion signed by ``signer``; ``chain`` is the credential certificate (DER) first.

    The lifetime is not judged here (tests build assertions the service must refuse); :mod:`trust.client` keeps its
    own within 1..:data:`MAX_LIFETIME`."""
    if not chain:
        raise InputError("a client assertion needs the credential certificate (x5c)")
    iat = int(time.time()) if issued_at is None else issued_at
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": iat,
        "exp": iat + lifetime,
        "jti": jti or secrets.token_urlsafe(16),
    }
    x5c = [base64.b64encode(der).decode("ascii") for der in chain]
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return jose.sign_compact(payload, signer, headers={"typ": "JWT", "x5c": x5c})


__all__ = ["ASSERTION_TYPE", "DEFAULT_LIFETIME", "MAX_LIFETIME", "build"]
