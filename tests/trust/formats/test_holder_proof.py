"""Holder proofs (:mod:`trust.formats.holder_proof`): what a holder signs to fetch their licence, and every refusal of
:func:`~trust.formats.holder_proof.verify` — each a 401-class ``E1400`` with its reason, never another error. PyJWT,
at its defaults, reads an ES256 proof as an ordinary JWT (an independent implementation agrees on the format)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization

from trust.crypto import base64url
from trust.crypto import jwk as huren_jwk
from trust.crypto.errors import Code, TrustError
from trust.crypto.keys import PrivateKey, generate_private_key
from trust.formats import holder_proof, jose

NOW = 1_900_000_000
AUD = "https://trust.example.gov.cn"
LICENSE = "1.2.156.3005.2.11100000000013338W101.11330000002482226F.20260000001.001.H"


@pytest.fixture(scope="module", params=["ec-p256", "sm2", "rsa-2048"])
def holder(request: pytest.FixtureRequest) -> PrivateKey:
    return generate_private_key(request.param)


def proof(key: PrivateKey, **overrides: Any) -> str:
    options: dict[str, Any] = {"identifier": LICENSE, "audience": AUD, "issued_at": NOW, "jti": "j" * 24}
    options.update(overrides)
    return holder_proof.build(key.signer(), **options)


def forged(key: PrivateKey, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> str:
    """A proof whose header and claims ``change`` edits, signed again by ``key`` (a well-signed bad proof)."""
    header, payload, _input, _signature = jose.parse_compact(proof(key))
    claims = json.loads(payload)
    change(header, claims)
    alg = header.pop("alg")
    assert alg
    return jose.sign_compact(json.dumps(claims).encode(), key.signer(), headers=header)


def test_a_proof_verifies_and_names_its_key(holder: PrivateKey) -> None:
    verified = holder_proof.verify(proof(holder), audience=AUD, identifier=LICENSE, now=NOW + 5)
    assert verified.key == holder.public_key
    assert verified.thumbprint == huren_jwk.thumbprint(holder.public_key)
    assert (verified.jti, verified.expires_at, verified.identifier) == ("j" * 24, NOW + 60, LICENSE)


def test_pyjwt_reads_an_es256_proof() -> None:
    key = generate_private_key("ec-p256")
    text = proof(key, issued_at=None)
    pem = key.public_key.pem().encode()
    claims = pyjwt.decode(text, serialization.load_pem_public_key(pem), algorithms=["ES256"], audience=AUD)  # type: ignore[arg-type]
    assert claims["sub"] == LICENSE and claims["cnf"]["jwk"] == huren_jwk.public_jwk(key.public_key)
    assert pyjwt.get_unverified_header(text)["typ"] == holder_proof.TYP


def _expect(text: str, match: str, *, now: int = NOW, identifier: str = LICENSE, audience: str = AUD) -> None:
    with pytest.raises(holder_proof.HolderProofError, match=match) as caught:
        holder_proof.verify(text, audience=audience, identifier=identifier, now=now)
    assert caught.value.code is Code.UNAUTHENTICATED


def test_refusals(holder: PrivateKey) -> None:
    good = proof(holder)
    _expect(good, "sub must be", identifier=LICENSE + "X")
    _expect(good, "not for this service", audience="https://other.example")
    _expect(good, "expired", now=NOW + 60 + holder_proof.SKEW)
    _expect(good, "not valid yet", now=NOW - holder_proof.SKEW - 1)
    _expect(proof(holder, lifetime=holder_proof.MAX_LIFETIME + 1), "lifetime")
    _expect(proof(holder, jti="short"), "jti")
    _expect(forged(holder, lambda h, c: h.update(typ="JWT")), "typ must be")
    _expect(forged(holder, lambda h, c: c.pop("cnf")), "cnf.jwk")
    _expect(forged(holder, lambda h, c: c.update(iat=str(NOW))), "NumericDate")
    _expect("a.b", "not a compact JWS")
    _expect("x" * (holder_proof.MAX_PROOF_CHARS + 1), "at most")
    _expect(forged(holder, lambda h, c: c.update(aud=["https://other.example"])), "not for this service")


def test_a_list_audience_naming_the_service_is_accepted(holder: PrivateKey) -> None:
    text = forged(holder, lambda h, c: c.update(aud=["https://other.example", AUD]))
    assert holder_proof.verify(text, audience=AUD, identifier=LICENSE, now=NOW).key == holder.public_key


def test_signature_by_another_key_than_the_named_one_is_refused(holder: PrivateKey) -> None:
    """The proof names the victim's public key but is signed by the attacker's: the signature check uses the named
    key, so it fails."""
    victim = generate_private_key("ec-p256")
    attacker = generate_private_key("ec-p256")
    _header, payload, _input, _signature = jose.parse_compact(proof(attacker))
    claims = json.loads(payload)
    claims["cnf"] = {"jwk": huren_jwk.public_jwk(victim.public_key)}
    text = jose.sign_compact(json.dumps(claims).encode(), attacker.signer(), headers={"typ": holder_proof.TYP})
    _expect(text, "refused")


def test_private_key_members_and_unsafe_algorithms_are_refused() -> None:
    key = generate_private_key("ec-p256")
    _expect(forged(key, lambda h, c: c["cnf"]["jwk"].update(d="AAAA")), "refused")
    _header, payload, _input, _signature = jose.parse_compact(proof(key))
    none_header = base64url.encode(json.dumps({"alg": "none", "typ": holder_proof.TYP}).encode())
    unsigned = f"{none_header}.{base64url.encode(payload)}."
    _expect(unsigned, "refused|not a compact JWS")


def test_garbage_is_refused_as_a_holder_proof_error() -> None:
    for text in ("", "...", "eyJ.eyJ.AA", "é.é.é", json.dumps({"proof": 1}), "a.b.c.d"):
        with pytest.raises(holder_proof.HolderProofError):
            holder_proof.verify(text, audience=AUD, identifier=LICENSE, now=NOW)
    with pytest.raises(TrustError):
        holder_proof.verify(None, audience=AUD, identifier=LICENSE, now=NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_claims_that_are_not_strict_json_are_refused(value: float) -> None:
    """``json.dumps`` writes NaN and Infinity and the old reader took them back; the strict reader refuses them."""
    key = generate_private_key("ec-p256")
    _expect(forged(key, lambda _h, c: c.update(extra=value)), "which is not JSON")
