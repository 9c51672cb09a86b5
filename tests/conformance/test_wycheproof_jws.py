"""Wycheproof ``json_web_signature_test.json`` (C2SP Wycheproof, testvectors_v1) against :mod:`trust.formats.jose`.

File structure (checked below): ``testGroups[]`` with a JWK ``private`` key and, for asymmetric keys, a
``public`` JWK; ``tests[]`` with ``jws`` — compact text, or JSON serialization text starting with ``{``.

Every case is run the way a Huren verifier would: the key is the group's ``public`` JWK through
:func:`jose.public_key_for_verification` with the token's ``alg`` (``use``/``key_ops`` honoured, a JWK
declared for another ``alg`` refused, private members refused); a compact JWS goes through
:func:`jose.verify_compact`, a JSON one through :func:`jose.parse_json` (given the text) and
:func:`jose.verify_json_signature` (every signature must verify). ``valid`` must verify with the payload
intact; ``invalid`` must raise a :class:`~trust.crypto.errors.TrustError`. The file has no ``acceptable``
cases.

Deviations (:data:`DEVIATIONS`, each with the refusal the project gives):

* HMAC (``HS256``): Huren never accepts HMAC JWS (symmetric keys have no place in an offline trust system,
  and accepting them opens the RS256/HS256 key confusion attack), so its groups have no usable key and every
  HMAC case is refused with :class:`UnsupportedAlgorithm` at the header check, before any key is looked at
  (or earlier, with :class:`EncodingError`, when the token is not base64url at all). For Wycheproof's
  ``invalid`` HMAC cases that is the expected verdict; the ``valid`` ones are deviations.
* A JWK declared for another algorithm: the RFC 7520 figure 20 and 27 groups give the key ``alg`` ``PS256``
  (token ``PS384``) and ``ES521`` (not a registered name; token ``ES512``). Huren uses a key only with the
  algorithm its JWK declares (RFC 7517 clause 4.4) — the rule that makes the ``WrongPrimitive`` cases
  (tcIds 331-340: an RS256/PS256 signature under a key declared ``PS512``) fail — so these four ``valid``
  cases are refused with :class:`InvalidKey` (``key-mismatch``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.conformance._wycheproof import Ledger, cases, load
from trust.crypto import base64url
from trust.crypto.errors import TrustError
from trust.formats import jose

FILENAME = "json_web_signature_test.json"
ALGORITHMS = sorted(jose.ACCEPTED_ALGORITHMS)

_HMAC = "HMAC is refused by design (HS256 is never accepted)"
_JWK_ALG = "the JWK declares another alg than the token's; a key is used only with its declared alg"

# ``valid`` cases the project refuses: tcId -> (the refusal, the reason).
DEVIATIONS: dict[int, tuple[str, str]] = {
    1: ("reject:UnsupportedAlgorithm", f"HS256 acceptsValid — {_HMAC}"),
    348: ("reject:UnsupportedAlgorithm", f"HS256 RFC 7520 figure 35 — {_HMAC}"),
    352: ("reject:UnsupportedAlgorithm", f"HS256 RFC 7520 figure 35 (key_ops group) — {_HMAC}"),
    357: ("reject:UnsupportedAlgorithm", f"HS256 ValidMac — {_HMAC}"),
    358: ("reject:UnsupportedAlgorithm", f"HS256 ValidEdgeCaseMac — {_HMAC}"),
    359: ("reject:UnsupportedAlgorithm", f"HS256 ValidEdgeCaseMac — {_HMAC}"),
    372: ("reject:EncodingError", f"HS256 with '?' in the header: not base64url (RFC 7515 clause 7.1); {_HMAC}"),
    373: ("reject:EncodingError", f"HS256 with '?' in the payload: not base64url (RFC 7515 clause 7.1); {_HMAC}"),
    376: ("reject:UnsupportedAlgorithm", f"HS256 ValidSpacesInJsonHeader — {_HMAC}"),
    377: ("reject:UnsupportedAlgorithm", f"HS256 ValidWhiteSpaceInJsonHeader — {_HMAC}"),
    346: ("reject:InvalidKey", f"PS384 token, JWK alg PS256 (RFC 7520 figure 20) — {_JWK_ALG}"),
    347: ("reject:InvalidKey", f"ES512 token, JWK alg ES521 (RFC 7520 figure 27) — {_JWK_ALG}"),
    350: ("reject:InvalidKey", f"PS384 token, JWK alg PS256 (figure 20, key_ops group) — {_JWK_ALG}"),
    351: ("reject:InvalidKey", f"ES512 token, JWK alg ES521 (figure 27, key_ops group) — {_JWK_ALG}"),
}


def _is_hmac(group: Mapping[str, Any]) -> bool:
    return group.get("private", {}).get("kty") == "oct"


def _outcome(group: Mapping[str, Any], test: Mapping[str, Any]) -> tuple[str, bytes | None]:
    """``("accept", payload)`` or ``("reject:<error>", None)``; anything else is ``("error:...", None)``."""
    jwk = group.get("public")

    def resolve(_header: dict[str, Any]) -> Any:
        if jwk is None:  # HMAC groups: there is no public key at all
            raise AssertionError("the key resolver must not be reached for a symmetric-key group")
        return jose.public_key_for_verification(jwk, alg=_header.get("alg"))

    token = test["jws"]
    try:
        if token.lstrip().startswith("{"):
            payload, signatures = jose.parse_json(token)
            for item in signatures:
                jose.verify_json_signature(item, resolve(item.header), algorithms=ALGORITHMS)
        else:
            payload = jose.verify_compact(token, resolve, algorithms=ALGORITHMS).payload
    except TrustError as exc:
        return f"reject:{type(exc).__name__}", None
    except Exception as exc:
        return f"error:{exc!r}", None
    return "accept", payload


def test_file_structure() -> None:
    data = load(FILENAME)
    assert data["schema"] == "json_web_signature_schema_v1.json"
    assert data["numberOfTests"] == sum(len(g["tests"]) for g in data["testGroups"]) == 401
    for group in data["testGroups"]:
        assert group["type"] == "JsonWebSignature"
        assert "private" in group
        if _is_hmac(group):
            assert "public" not in group and group["private"]["alg"] == "HS256"
        else:
            assert group["public"]["kty"] == group["private"]["kty"] in ("RSA", "EC")
            assert "d" in group["private"] and "d" not in group["public"]
        for test in group["tests"]:
            assert test["result"] in ("valid", "invalid")
            assert isinstance(test["jws"], str)
    json_cases = [t["tcId"] for _, t in cases(data) if t["jws"].startswith("{")]
    assert json_cases == [17]  # the one JSON-serialized case (HS256, unprotected header)


def _well_formed_alg(token: str) -> str | None:
    """The ``alg`` of a compact JWS whose three parts are all canonical base64url, else ``None``."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            return None
        for part in parts[1:]:
            base64url.decode(part)
        alg = json.loads(base64url.decode(parts[0]))["alg"]
    except (TrustError, ValueError, KeyError, TypeError):
        return None
    return str(alg)


def test_deviation_list_is_exact() -> None:
    """Exactly the ``valid`` HMAC cases and the four ``valid`` cases with a mismatched JWK ``alg``."""
    data = load(FILENAME)
    valid_hmac = {int(t["tcId"]) for g, t in cases(data) if _is_hmac(g) and t["result"] == "valid"}
    alg_mismatch = {
        int(t["tcId"])
        for g, t in cases(data)
        if t["result"] == "valid" and "alg" in g.get("public", {}) and _well_formed_alg(t["jws"]) != g["public"]["alg"]
    }
    assert alg_mismatch == {346, 347, 350, 351}
    assert valid_hmac | alg_mismatch == set(DEVIATIONS)


def test_wycheproof_jws() -> None:
    data = load(FILENAME)
    ledger = Ledger(FILENAME, data, deviations={k: reason for k, (_, reason) in DEVIATIONS.items()})
    for group, test in cases(data):
        outcome, payload = _outcome(group, test)
        tc_id = int(test["tcId"])
        if tc_id in DEVIATIONS:
            expected = DEVIATIONS[tc_id][0]
            ledger.record(test, outcome == expected, f"documented deviation {expected}, got {outcome}")
        elif _is_hmac(group):
            # Invalid HMAC cases: refused as HMAC, or earlier when the token is not even well-formed.
            ledger.record(test, outcome.startswith("reject:"), f"HMAC case must be refused, got {outcome}")
        elif test["result"] == "valid":
            token = test["jws"]
            expected_payload = base64url.decode(token.split(".")[1], "payload")
            ok = outcome == "accept" and payload == expected_payload
            ledger.record(test, ok, f"expected accept, got {outcome}")
        else:
            ledger.record(test, outcome.startswith("reject:"), f"expected a TrustError, got {outcome}")
    ledger.finish()


def test_well_formed_hmac_tokens_are_refused_for_their_algorithm() -> None:
    """Every HMAC token that parses is refused because of ``alg`` — never because a MAC happened to fail."""
    data = load(FILENAME)
    checked = 0
    for group, test in cases(data):
        alg = _well_formed_alg(test["jws"])
        if alg is not None and alg.upper().startswith("HS"):
            assert _outcome(group, test)[0] == "reject:UnsupportedAlgorithm", test["tcId"]
            checked += 1
    assert checked == 16  # of the 40 HMAC-group cases plus tcId 31 (HS256 header in the EC group)


def test_symmetric_key_confusion_is_refused_before_the_key_is_used() -> None:
    """tcId 31: HS256 "signed" with the EC public key's bytes as the secret — refused at the header."""
    data = load(FILENAME)
    group, test = next((g, t) for g, t in cases(data) if t["tcId"] == 31)
    assert _outcome(group, test)[0] == "reject:UnsupportedAlgorithm"


def test_wrong_use_and_key_ops_keys_are_refused_as_keys() -> None:
    """tcIds 353-356: the right signature under a key marked for encryption is refused because of the key."""
    data = load(FILENAME)
    for group, test in cases(data):
        if test["comment"] in ("rejectWrongUse", "rejectWrongKeyOps"):
            assert _outcome(group, test)[0] == "reject:InvalidKey", test["tcId"]
            signing_group = {
                **group,
                "public": {k: v for k, v in group["public"].items() if k not in ("use", "key_ops")},
            }
            assert _outcome(signing_group, test)[0] == "accept", "the same signature verifies under a signing key"
