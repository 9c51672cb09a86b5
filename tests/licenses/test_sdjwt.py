"""SD-JWT (RFC 9901) issuance, presentation and verification: round trips with SM2 and ES256 issuers, selective
disclosure, key binding, and every refusal of :mod:`trust.formats.sdjwt` (each with its specific error)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from joserfc import jws as rfc_jws
from joserfc.jwk import ECKey

from trust.crypto import base64url
from trust.crypto import jwk as huren_jwk
from trust.crypto.errors import Code, InputError, InvalidKey, NotFoundError, UnsupportedAlgorithm
from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key
from trust.crypto.signer import Signer
from trust.formats import jose, sdjwt

NOW = 1_900_000_000
ALGS = ("SM2", "ES256", "ES384", "RS256", "PS256")
NONCE = "n-0S6_WzA2Mj"
AUD = "https://verifier.gd.gov.cn"

CLAIMS: dict[str, Any] = {
    "iss": "https://issuer.huren.example/440000",
    "iat": NOW - 100,
    "exp": NOW + 86_400,
    "vct": "urn:huren:licence:business",
    "licence_no": "GD-2024-000123",
    "holder_name": "广州某科技有限公司",
    "uscc": "91440101MA5CXXX00X",
    "legal_rep": "张三",
    "scope": ["软件开发", "信息技术咨询", "数据处理"],
    "address": {"province": "广东省", "city": "广州市", "street": "天河路 1 号"},
    "capital": 1_000_000,
    "verified": True,
    "note": None,
}
DISCLOSABLE = [
    "holder_name",
    "legal_rep",
    "capital",
    "verified",
    "note",
    ("address",),
    ("address", "street"),
    ("address", "city"),
    ("scope", 0),
    ("scope", 1),
    ("scope", 2),
]


@pytest.fixture(scope="module", params=["sm2", "ec-p256"])
def issuer(request: pytest.FixtureRequest) -> PrivateKey:
    return generate_private_key(request.param)


@pytest.fixture(scope="module")
def sm2_issuer() -> PrivateKey:
    return generate_private_key("sm2")


@pytest.fixture(scope="module")
def es_issuer() -> PrivateKey:
    return generate_private_key("ec-p256")


@pytest.fixture(scope="module", params=["ec-p256", "sm2"])
def holder(request: pytest.FixtureRequest) -> PrivateKey:
    return generate_private_key(request.param)


@pytest.fixture(scope="module")
def es_holder() -> PrivateKey:
    return generate_private_key("ec-p256")


def resolver(key: PrivateKey | PublicKey) -> Callable[[dict[str, Any]], PublicKey]:
    public = key.public_key if isinstance(key, PrivateKey) else key
    return lambda _header: public


def issue(issuer: PrivateKey, holder: PrivateKey | None = None, **kwargs: Any) -> str:
    holder_jwk = huren_jwk.public_jwk(holder.public_key) if holder is not None else None
    return sdjwt.issue(
        CLAIMS, DISCLOSABLE, issuer.signer(), headers={"kid": "issuer-1"}, holder_jwk=holder_jwk, **kwargs
    )


def verify(presentation: Any, issuer: PrivateKey, **kwargs: Any) -> sdjwt.VerifiedSdJwt:
    options: dict[str, Any] = {"algorithms": ALGS, "now": NOW}
    options.update(kwargs)
    return sdjwt.verify(presentation, resolver(issuer), **options)


def bound(issued: str, holder: PrivateKey, disclose: Any = ("holder_name",), **kwargs: Any) -> str:
    options: dict[str, Any] = {"holder_signer": holder.signer(), "nonce": NONCE, "audience": AUD, "iat": NOW}
    options.update(kwargs)
    result: str = sdjwt.present(issued, disclose, **options)
    return result


def verify_bound(presentation: Any, issuer: PrivateKey, **kwargs: Any) -> sdjwt.VerifiedSdJwt:
    options = {"expected_nonce": NONCE, "expected_audience": AUD, "require_key_binding": True}
    options.update(kwargs)
    return verify(presentation, issuer, **options)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def disclosure(*elements: Any) -> str:
    return b64(json.dumps(list(elements)).encode())


def sd_digest(encoded: str) -> str:
    return b64(hashlib.sha256(encoded.encode()).digest())


def craft(signer: Signer, payload: dict[str, Any], disclosures: list[str], **headers: Any) -> str:
    """An SD-JWT made by hand (the issuer API refuses to make broken ones)."""
    jwt = jose.sign_compact(json.dumps(payload).encode(), signer, headers={"typ": "dc+sd-jwt", **headers})
    return "~".join([jwt, *disclosures, ""])


def kb_jwt(holder: Signer, body: dict[str, Any], typ: str = "kb+jwt") -> str:
    return jose.sign_compact(json.dumps(body).encode(), holder, headers={"typ": typ})


def presentation_text(presentation: str) -> str:
    """Everything a verifier receives, decoded: the issuer JWT's payload and every Disclosure."""
    jwt, disclosures, _kb = parts(presentation)
    return "\n".join(base64url.decode(x).decode() for x in [jwt.split(".")[1], *disclosures])


def parts(presentation: str) -> tuple[str, list[str], str]:
    pieces = presentation.split("~")
    return pieces[0], pieces[1:-1], pieces[-1]


# --- round trips ----------------------------------------------------------------------------------------------


def test_everything_disclosed_gives_back_the_claims(issuer: PrivateKey) -> None:
    issued = issue(issuer)
    jwt, disclosures, last = parts(issued)
    assert last == ""  # an issued SD-JWT ends with "~"
    assert len(disclosures) == len(DISCLOSABLE)
    result = verify(issued, issuer)
    assert result.payload == CLAIMS
    assert result.key_binding is None and result.holder_key is None
    assert result.header == {"alg": issuer.signer().algorithm.jose, "kid": "issuer-1", "typ": "dc+sd-jwt"}
    assert result.issuer_key == issuer.public_key
    # Nothing readable in the issuer JWT: only digests where disclosable claims were.
    payload = json.loads(base64url.decode(jwt.split(".")[1]))
    assert payload["_sd_alg"] == "sha-256"
    for hidden in ("holder_name", "legal_rep", "capital", "verified", "note", "address"):
        assert hidden not in payload
    assert len(payload["_sd"]) == 6 and payload["_sd"] == sorted(payload["_sd"])
    assert payload["scope"] == [{"...": d} for d in [x["..."] for x in payload["scope"]]]
    assert payload["uscc"] == CLAIMS["uscc"]


def test_salts_are_128_bit_and_unique(issuer: PrivateKey) -> None:
    salts = [sdjwt.decode_disclosure(d).salt for d in parts(issue(issuer))[1]]
    assert all(len(base64url.decode(s)) == 16 for s in salts)
    assert len(set(salts)) == len(salts)
    again = {sdjwt.decode_disclosure(d).salt for d in parts(issue(issuer))[1]}
    assert again.isdisjoint(salts)


@pytest.mark.parametrize(
    ("disclose", "expected"),
    [
        ([], {}),
        (["holder_name"], {"holder_name": "广州某科技有限公司"}),
        (["holder_name", "capital", "note"], {"holder_name": "广州某科技有限公司", "capital": 1_000_000, "note": None}),
        (["address"], {"address": {"province": "广东省", "city": "广州市", "street": "天河路 1 号"}}),
        ([("address", "city")], {"address": {"province": "广东省", "city": "广州市"}}),
        ([("scope", 1)], {"scope": ["信息技术咨询"]}),
        ([("scope", 0), ("scope", 2), "verified"], {"scope": ["软件开发", "数据处理"], "verified": True}),
    ],
)
def test_selective_disclosure(issuer: PrivateKey, disclose: list[Any], expected: dict[str, Any]) -> None:
    always = {k: v for k, v in CLAIMS.items() if k in ("iss", "iat", "exp", "vct", "licence_no", "uscc")}
    presentation = sdjwt.present(issue(issuer), disclose)
    result = verify(presentation, issuer)
    assert result.payload == {**always, "scope": [], **expected}
    assert "张三" not in presentation_text(presentation)  # the undisclosed is not even in the presentation


def test_selection_by_predicate_includes_the_parents(issuer: PrivateKey) -> None:
    presentation = sdjwt.present(issue(issuer), lambda path: path == ("address", "street"))
    result = verify(presentation, issuer)
    assert result.payload["address"] == {"province": "广东省", "street": "天河路 1 号"}
    assert sorted(result.path_of(d) for d in result.disclosed) == [("address",), ("address", "street")]


def test_unknown_claim_to_disclose_is_an_error(issuer: PrivateKey) -> None:
    with pytest.raises(InputError, match="no such claim") as caught:
        sdjwt.present(issue(issuer), ["holder_nmae"])
    # the refusal says what could have been chosen (issue 13: a holder's tool lists the disclosable claims)
    assert "; disclosable: /address, /address/city, /address/street, /capital, /holder_name," in caught.value.message
    assert caught.value.evidence["unknown"] == ["/holder_nmae"]
    assert "/holder_name" in caught.value.evidence["disclosable"]
    with pytest.raises(InputError, match="not a single string"):
        sdjwt.present(issue(issuer), "holder_name")


def test_disclosable_lists_one_path_per_disclosure(issuer: PrivateKey) -> None:
    issued = issue(issuer)
    paths = sdjwt.disclosable(issued)
    assert len(paths) == len(parts(issued)[1])
    assert ("holder_name",) in paths and ("address", "street") in paths and ("scope", 0) in paths
    assert ("iss",) not in paths  # always readable, never a choice
    assert sdjwt.disclosable(sdjwt.present(issued, ["holder_name"])) == [("holder_name",)]


def test_decoys_are_added_and_removed(issuer: PrivateKey) -> None:
    issued = issue(issuer, decoys=3)
    payload = json.loads(base64url.decode(parts(issued)[0].split(".")[1]))
    assert len(payload["_sd"]) == 6 + 3
    address = next(sdjwt.decode_disclosure(d) for d in parts(issued)[1] if '"address"' in base64url.decode(d).decode())
    assert len(address.value["_sd"]) == 2 + 3  # street and city, and three decoys
    assert verify(issued, issuer).payload == CLAIMS
    assert verify(sdjwt.present(issued, []), issuer).payload["scope"] == []


def test_json_serialization_round_trip(issuer: PrivateKey, holder: PrivateKey) -> None:
    document = sdjwt.to_json_serialization(issue(issuer, holder))
    assert set(document) == {"header", "payload", "protected", "signature"}
    presented = sdjwt.present(
        document, ["holder_name", ("scope", 2)], holder_signer=holder.signer(), nonce=NONCE, audience=AUD, iat=NOW
    )
    assert isinstance(presented, dict) and set(presented["header"]) == {"disclosures", "kb_jwt"}
    result = verify_bound(presented, issuer)
    assert result.payload["holder_name"] == CLAIMS["holder_name"] and result.payload["scope"] == ["数据处理"]
    assert verify_bound(json.dumps(presented), issuer).payload == result.payload  # as text as well
    # The same presentation in compact form carries the same KB-JWT (sd_hash is over the compact form).
    header = presented["header"]
    jws = f"{document['protected']}.{document['payload']}.{document['signature']}"
    compact = "~".join([jws, *header["disclosures"], header["kb_jwt"]])
    assert verify_bound(compact, issuer).payload == result.payload


def test_general_json_serialization_with_two_issuer_signatures(sm2_issuer: PrivateKey, es_issuer: PrivateKey) -> None:
    compact = sdjwt.present(issue(sm2_issuer), ["holder_name"])
    jwt, disclosures, _kb = parts(compact)
    protected, payload, signature = jwt.split(".")
    protected2 = b64(json.dumps({"alg": "ES256", "typ": "dc+sd-jwt"}).encode())
    signature2 = b64(es_issuer.sign(f"{protected2}.{payload}".encode(), encoding="raw"))
    document = {
        "payload": payload,
        "signatures": [
            {"protected": protected, "signature": signature, "header": {"disclosures": disclosures}},
            {"protected": protected2, "signature": signature2, "header": {"kid": "es"}},
        ],
    }
    keys = {"issuer-1": sm2_issuer.public_key, "es": es_issuer.public_key}

    def known(*names: str) -> Callable[[dict[str, Any]], PublicKey]:
        def resolve(header: dict[str, Any]) -> PublicKey:
            if header.get("kid") not in names:
                raise NotFoundError(f"unknown key {header.get('kid')}")
            return keys[header["kid"]]

        return resolve

    for names in (("issuer-1", "es"), ("issuer-1",), ("es",)):
        result = sdjwt.verify(document, known(*names), algorithms=ALGS, now=NOW)
        assert result.payload["holder_name"] == CLAIMS["holder_name"]
        assert result.issuer_key == keys[names[0]]
    with pytest.raises(NotFoundError):
        sdjwt.verify(document, known(), algorithms=ALGS, now=NOW)
    # A signature by a known key that does not verify spoils the document, even when another one verifies.
    spoilt = json.loads(json.dumps(document))
    spoilt["signatures"][1]["signature"] = signature
    with pytest.raises(sdjwt.SdJwtSignatureInvalid):
        sdjwt.verify(spoilt, known("issuer-1", "es"), algorithms=ALGS, now=NOW)
    # Disclosures belong in the first signature's header only.
    misplaced = json.loads(json.dumps(document))
    misplaced["signatures"][1]["header"]["disclosures"] = disclosures
    with pytest.raises(sdjwt.MalformedSdJwt, match="first signature"):
        sdjwt.verify(misplaced, known("issuer-1", "es"), algorithms=ALGS, now=NOW)
    # Only disclosures, kb_jwt and kid may be unprotected: an unprotected alg or jwk is refused.
    member: dict[str, Any]
    for member in ({"alg": "none"}, {"jwk": {}}, {"typ": "x"}):
        extra = json.loads(json.dumps(document))
        extra["signatures"][1]["header"].update(member)
        with pytest.raises(sdjwt.MalformedSdJwt, match="unprotected"):
            sdjwt.verify(extra, known("issuer-1", "es"), algorithms=ALGS, now=NOW)


# --- key binding ---------------------------------------------------------------------------------------------


def test_key_binding_round_trip(issuer: PrivateKey, holder: PrivateKey) -> None:
    presentation = bound(issue(issuer, holder), holder, ["holder_name", ("address", "city")])
    result = verify_bound(presentation, issuer)
    assert result.holder_key == holder.public_key
    assert result.key_binding is not None
    assert (
        result.key_binding["nonce"] == NONCE and result.key_binding["aud"] == AUD and result.key_binding["iat"] == NOW
    )
    assert result.payload["cnf"] == {"jwk": huren_jwk.public_jwk(holder.public_key)}
    kb_header = json.loads(base64url.decode(parts(presentation)[2].split(".")[0]))
    assert kb_header["typ"] == "kb+jwt" and kb_header["alg"] == holder.signer().algorithm.jose
    prefix = presentation[: presentation.rindex("~") + 1]
    assert result.key_binding["sd_hash"] == sd_digest(prefix)


def test_key_binding_failures(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    issued = issue(es_issuer, es_holder)
    presentation = bound(issued, es_holder)
    assert verify_bound(presentation, es_issuer)
    with pytest.raises(sdjwt.NonceMismatch):
        verify_bound(presentation, es_issuer, expected_nonce="another-nonce")
    with pytest.raises(sdjwt.AudienceMismatch):
        verify_bound(presentation, es_issuer, expected_audience="https://verifier.zj.gov.cn")
    with pytest.raises(sdjwt.KeyBindingNotFresh, match="old"):
        verify_bound(presentation, es_issuer, now=NOW + 301 + 60)
    assert verify_bound(presentation, es_issuer, now=NOW + 299)  # within max_kb_age
    with pytest.raises(sdjwt.KeyBindingNotFresh, match="future"):
        verify_bound(presentation, es_issuer, now=NOW - 3600)
    with pytest.raises(sdjwt.KeyBindingNotFresh):
        verify_bound(bound(issued, es_holder, iat=NOW - 7200), es_issuer)
    with pytest.raises(sdjwt.KeyBindingMissing):
        verify_bound(sdjwt.present(issued, ["holder_name"]), es_issuer)
    with pytest.raises(InputError) as usage:
        verify(presentation, es_issuer, require_key_binding=True)
    assert usage.value.code is Code.USAGE


def test_kb_jwt_with_a_wrong_sd_hash_is_refused(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    issued = issue(es_issuer, es_holder)
    presented = sdjwt.present(issued, ["holder_name"])
    body = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_digest(presented)}
    assert verify_bound(presented + kb_jwt(es_holder.signer(), body), es_issuer)  # the hand-made one is right
    for wrong in (sd_digest(issued), sd_digest(presented[:-1]), b64(hashlib.sha512(presented.encode()).digest())):
        with pytest.raises(sdjwt.SdHashMismatch):
            verify_bound(presented + kb_jwt(es_holder.signer(), {**body, "sd_hash": wrong}), es_issuer)


def test_kb_jwt_replayed_with_other_disclosures_is_refused(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    issued = issue(es_issuer, es_holder)
    jwt, _disclosures, kb = parts(bound(issued, es_holder, ["holder_name"]))
    more = sdjwt.present(issued, ["holder_name", "legal_rep"])
    with pytest.raises(sdjwt.SdHashMismatch):
        verify_bound(more + kb, es_issuer)
    with pytest.raises(sdjwt.SdHashMismatch):
        verify_bound(f"{jwt}~{kb}", es_issuer)  # the disclosures dropped


def test_kb_jwt_signed_by_another_key_is_refused(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    issued = issue(es_issuer, es_holder)
    presented = sdjwt.present(issued, ["holder_name"])
    body = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_digest(presented)}
    thief = generate_private_key("ec-p256")
    with pytest.raises(sdjwt.KeyBindingSignatureInvalid):
        verify_bound(presented + kb_jwt(thief.signer(), body), es_issuer)
    with pytest.raises(sdjwt.KeyBindingSignatureInvalid):  # another algorithm family altogether
        verify_bound(presented + kb_jwt(generate_private_key("sm2").signer(), body), es_issuer)
    with pytest.raises(InvalidKey, match=r"cnf\.jwk"):  # the holder API refuses to sign with the wrong key
        bound(issued, thief)


def test_kb_jwt_claims_and_type_are_checked(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    presented = sdjwt.present(issue(es_issuer, es_holder), ["holder_name"])
    body = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_digest(presented)}
    with pytest.raises(sdjwt.KeyBindingError, match="kb\\+jwt"):
        verify_bound(presented + kb_jwt(es_holder.signer(), body, typ="JWT"), es_issuer)
    for missing in ("iat", "aud", "nonce", "sd_hash"):
        partial = {k: v for k, v in body.items() if k != missing}
        with pytest.raises(sdjwt.KeyBindingError, match=missing):
            verify_bound(presented + kb_jwt(es_holder.signer(), partial), es_issuer)
    with pytest.raises(sdjwt.MalformedSdJwt, match="NumericDate"):
        verify_bound(presented + kb_jwt(es_holder.signer(), {**body, "iat": "now"}), es_issuer)


def test_kb_jwt_without_cnf_is_refused(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    presented = sdjwt.present(issue(es_issuer), ["holder_name"])
    body = {"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": sd_digest(presented)}
    with pytest.raises(sdjwt.KeyBindingError, match="cnf"):
        verify(presented + kb_jwt(es_holder.signer(), body), es_issuer)
    with pytest.raises(InputError, match="cnf"):
        bound(issue(es_issuer), es_holder)


def test_kb_jwt_is_verified_with_pyjwt_too(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    """An independent JOSE library accepts our KB-JWT and our issuer JWT, and computes the same digests."""
    presentation = bound(issue(es_issuer, es_holder), es_holder, ["holder_name", ("scope", 0)])
    jwt, disclosures, kb = parts(presentation)

    def pem(key: PrivateKey) -> bytes:
        return key.public_key.pem().encode()

    claims = pyjwt.decode(kb, pem(es_holder), algorithms=["ES256"], audience=AUD, options={"verify_iat": False})
    assert claims["sd_hash"] == b64(hashlib.sha256(presentation[: presentation.rindex("~") + 1].encode()).digest())
    assert pyjwt.get_unverified_header(kb)["typ"] == "kb+jwt"
    issuer_payload = json.loads(
        rfc_jws.deserialize_compact(jwt, ECKey.import_key(pem(es_issuer)), algorithms=["ES256"]).payload
    )
    referenced = set(issuer_payload["_sd"]) | {e["..."] for e in issuer_payload["scope"] if isinstance(e, dict)}
    for encoded in disclosures:
        assert b64(hashlib.sha256(encoded.encode()).digest()) in referenced


# --- tampered, duplicated, dropped and foreign Disclosures ----------------------------------------------------


def test_tampered_disclosure_is_refused(issuer: PrivateKey) -> None:
    jwt, disclosures, _ = parts(issue(issuer))
    decoded = sdjwt.decode_disclosure(disclosures[0])
    forged = disclosure(decoded.salt, decoded.name, "某某皮包公司")
    with pytest.raises(sdjwt.UnreferencedDisclosure) as info:
        verify("~".join([jwt, forged, *disclosures[1:], ""]), issuer)
    assert info.value.evidence["digests"] == [sd_digest(forged)]


def test_duplicated_disclosure_is_refused(issuer: PrivateKey) -> None:
    jwt, disclosures, _ = parts(issue(issuer))
    with pytest.raises(sdjwt.DuplicateDisclosure):
        verify("~".join([jwt, *disclosures, disclosures[2], ""]), issuer)


def test_dropped_disclosure_only_hides_its_claim(issuer: PrivateKey) -> None:
    jwt, disclosures, _ = parts(issue(issuer))
    names = [sdjwt.decode_disclosure(d).name for d in disclosures]
    index = names.index("legal_rep")
    result = verify("~".join([jwt, *disclosures[:index], *disclosures[index + 1 :], ""]), issuer)
    assert "legal_rep" not in result.payload and result.payload["holder_name"] == CLAIMS["holder_name"]
    # Dropping a parent orphans its children: the nested Disclosure is then unreferenced.
    parent = names.index("address")
    with pytest.raises(sdjwt.UnreferencedDisclosure):
        verify("~".join([jwt, *disclosures[:parent], *disclosures[parent + 1 :], ""]), issuer)


def test_foreign_disclosure_is_refused(issuer: PrivateKey) -> None:
    jwt, disclosures, _ = parts(issue(issuer))
    other = parts(issue(issuer))[1]  # the same claims issued again: other salts, other digests
    with pytest.raises(sdjwt.UnreferencedDisclosure):
        verify("~".join([jwt, *disclosures, other[0], ""]), issuer)


def test_tampered_issuer_jwt_is_refused(issuer: PrivateKey) -> None:
    jwt, disclosures, _ = parts(issue(issuer))
    head, body, sig = jwt.split(".")
    payload = json.loads(base64url.decode(body))
    payload["uscc"] = "91440101MA5CYYY00Y"
    forged = f"{head}.{b64(json.dumps(payload).encode())}.{sig}"
    with pytest.raises(sdjwt.SdJwtSignatureInvalid):
        verify("~".join([forged, *disclosures, ""]), issuer)
    with pytest.raises(sdjwt.SdJwtSignatureInvalid):
        same_kind = generate_private_key("sm2" if issuer.signer().algorithm.jose == "SM2" else "ec-p256")
        verify("~".join([jwt, *disclosures, ""]), same_kind)


# --- hand-crafted SD-JWTs that break the processing rules ----------------------------------------------------


@pytest.fixture
def signer(es_issuer: PrivateKey) -> Signer:
    return es_issuer.signer()


def test_claim_name_clash_is_refused(signer: Signer, es_issuer: PrivateKey) -> None:
    d = disclosure("c2FsdA", "holder_name", "冒名公司")
    with pytest.raises(sdjwt.ClaimConflict, match="already exists"):
        verify(craft(signer, {"holder_name": "真公司", "_sd": [sd_digest(d)]}, [d]), es_issuer)
    d2 = disclosure("c2FsdDI", "holder_name", "第二个")
    with pytest.raises(sdjwt.ClaimConflict):
        verify(craft(signer, {"_sd": [sd_digest(d), sd_digest(d2)]}, [d, d2]), es_issuer)


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_disclosure_of_a_reserved_name_is_refused(name: str, signer: Signer, es_issuer: PrivateKey) -> None:
    d = disclosure("c2FsdA", name, ["x"])
    with pytest.raises(sdjwt.ClaimConflict, match="must not disclose"):
        verify(craft(signer, {"_sd": [sd_digest(d)]}, [d]), es_issuer)


def test_digest_twice_is_refused(signer: Signer, es_issuer: PrivateKey) -> None:
    d = disclosure("c2FsdA", "a", 1)
    with pytest.raises(sdjwt.DuplicateDigest):
        verify(craft(signer, {"_sd": [sd_digest(d)], "x": {"_sd": [sd_digest(d)]}}, [d]), es_issuer)
    with pytest.raises(sdjwt.DuplicateDigest):  # also when the Disclosure is not even presented
        verify(craft(signer, {"_sd": [sd_digest(d)], "y": [{"...": sd_digest(d)}]}, []), es_issuer)


def test_disclosure_kind_must_match_its_place(signer: Signer, es_issuer: PrivateKey) -> None:
    element = disclosure("c2FsdA", "value")
    with pytest.raises(sdjwt.DisclosureError, match="array-element"):
        verify(craft(signer, {"_sd": [sd_digest(element)]}, [element]), es_issuer)
    prop = disclosure("c2FsdA", "name", "value")
    with pytest.raises(sdjwt.DisclosureError, match="object-property"):
        verify(craft(signer, {"list": [{"...": sd_digest(prop)}]}, [prop]), es_issuer)


def test_recursive_disclosures_are_processed(signer: Signer, es_issuer: PrivateKey) -> None:
    inner = disclosure("c2FsdDE", "city", "广州市")
    element = disclosure("c2FsdDI", {"_sd": [sd_digest(inner)], "province": "广东省"})
    outer = disclosure("c2FsdDM", "addresses", [{"...": sd_digest(element)}, {"...": "ZGVjb3k"}])
    presentation = craft(signer, {"_sd": [sd_digest(outer)], "_sd_alg": "sha-256"}, [outer, element, inner])
    result = verify(presentation, es_issuer)
    assert result.payload == {"addresses": [{"province": "广东省", "city": "广州市"}]}
    assert result.path_of(sdjwt.decode_disclosure(inner)) == ("addresses", 0, "city")


@pytest.mark.parametrize("sd_alg", ["sha-512", "sha3-256", "SHA-256", "md5"])
def test_other_sd_alg_is_refused(sd_alg: str, signer: Signer, es_issuer: PrivateKey) -> None:
    d = disclosure("c2FsdA", "a", 1)
    with pytest.raises(sdjwt.UnsupportedDigestAlgorithm) as info:
        verify(craft(signer, {"_sd": [sd_digest(d)], "_sd_alg": sd_alg}, [d]), es_issuer)
    assert isinstance(info.value, UnsupportedAlgorithm)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({"_sd": "not-a-list"}, "_sd must be an array"),
        ({"_sd": [42]}, "digests must be strings"),
        ({"x": {"_sd_alg": "sha-256"}}, "top level"),
        ({"list": [{"...": "ZGlnZXN0", "extra": 1}]}, "no other member"),
    ],
)
def test_malformed_payloads_are_refused(
    payload: dict[str, Any], match: str, signer: Signer, es_issuer: PrivateKey
) -> None:
    with pytest.raises(sdjwt.MalformedSdJwt, match=match):
        verify(craft(signer, payload, []), es_issuer)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (b'["salt","a",1,2]', "2 .array element. or 3"),
        (b'{"salt":"a"}', "JSON array"),
        (b'[1,"a","b"]', "salt"),
        (b'["salt",1,"b"]', "claim name"),
        (b'["salt","a",NaN]', "not JSON"),
        (b"not json", "UTF-8 JSON"),
    ],
)
def test_malformed_disclosures_are_refused(text: bytes, match: str, signer: Signer, es_issuer: PrivateKey) -> None:
    d = b64(text)
    with pytest.raises(sdjwt.MalformedSdJwt, match=match):
        verify(craft(signer, {"_sd": [sd_digest(d)]}, [d]), es_issuer)


def test_malformed_serializations_are_refused(issuer: PrivateKey) -> None:
    issued = issue(issuer)
    jwt, disclosures, _ = parts(issued)
    for bad in (jwt, f"{jwt}~~{disclosures[0]}~", f"{jwt}.x~", f"{jwt}~{disclosures[0]}~=~", "{not json"):
        with pytest.raises(sdjwt.MalformedSdJwt):
            verify(bad, issuer)
    with pytest.raises(InputError) as info:
        verify(issued + "A" * sdjwt.MAX_PRESENTATION_BYTES, issuer)
    assert info.value.code is Code.INPUT_TOO_LARGE


def test_validity_period(issuer: PrivateKey) -> None:
    issued = issue(issuer)
    with pytest.raises(sdjwt.SdJwtExpired, match="expired"):
        verify(issued, issuer, now=CLAIMS["exp"] + 61)
    assert verify(issued, issuer, now=CLAIMS["exp"] + 59)  # leeway
    early = sdjwt.issue({**CLAIMS, "nbf": NOW + 3600}, ["holder_name"], issuer.signer())
    with pytest.raises(sdjwt.SdJwtExpired, match="not valid before"):
        verify(early, issuer)
    assert verify(early, issuer, now=NOW + 3600)


def test_expected_typ_and_kb_typed_issuer_jwt(es_issuer: PrivateKey, signer: Signer) -> None:
    issued = issue(es_issuer)
    assert verify(issued, es_issuer, expected_typ="dc+sd-jwt")
    with pytest.raises(sdjwt.MalformedSdJwt, match="typed"):
        verify(issued, es_issuer, expected_typ="vc+sd-jwt")
    with pytest.raises(sdjwt.MalformedSdJwt, match="kb\\+jwt"):
        verify(craft(signer, {"a": 1}, [], typ="kb+jwt"), es_issuer)


def test_eddsa_issuer_is_refused() -> None:
    """EdDSA is not among the project's JOSE algorithms: an Ed25519-signed SD-JWT (made with PyJWT) is refused."""
    key = ed25519.Ed25519PrivateKey.generate()
    d = disclosure("c2FsdA", "a", 1)
    token = pyjwt.encode({"_sd": [sd_digest(d)], "_sd_alg": "sha-256"}, key, algorithm="EdDSA")
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert pyjwt.decode(token, pem, algorithms=["EdDSA"])  # a valid token for its own library

    def never(_header: dict[str, Any]) -> PublicKey:
        raise AssertionError("no key lookup for a refused algorithm")

    with pytest.raises(UnsupportedAlgorithm):
        sdjwt.verify(f"{token}~{d}~", never, algorithms=[*ALGS, "EdDSA"], now=NOW)


# --- issuance input checks -----------------------------------------------------------------------------------


def test_issuance_refusals(es_issuer: PrivateKey, es_holder: PrivateKey) -> None:
    signer = es_issuer.signer()
    for name in ("iss", "exp", "cnf", "vct", "status", "nbf"):
        with pytest.raises(InputError, match="readable"):
            sdjwt.issue({**CLAIMS, "nbf": 1, "status": {}}, [name], signer)
    with pytest.raises(InputError, match="not present"):
        sdjwt.issue(CLAIMS, ["missing", ("address", "zip"), ("scope", 9)], signer)
    reserved: dict[str, Any]
    for reserved in ({"_sd": []}, {"a": {"...": 1}}, {"a": [{"_sd_alg": "x"}]}):
        with pytest.raises(InputError, match="reserved"):
            sdjwt.issue(reserved, [], signer)
    with pytest.raises(InputError, match="JSON"):
        sdjwt.issue({"when": time}, [], signer)
    with pytest.raises(InvalidKey, match="private"):
        private_jwk = {**huren_jwk.public_jwk(es_holder.public_key), "d": "AAAA"}
        sdjwt.issue(CLAIMS, [], signer, holder_jwk=private_jwk)
    with pytest.raises(InputError, match="cnf"):
        sdjwt.issue({**CLAIMS, "cnf": {}}, [], signer, holder_jwk=huren_jwk.public_jwk(es_holder.public_key))
    with pytest.raises(InputError, match="same salt"):
        sdjwt.issue(CLAIMS, ["holder_name", "legal_rep"], signer, salt_source=lambda: "c2FtZQ")
    with pytest.raises(InputError, match="kb\\+jwt"):
        sdjwt.issue(CLAIMS, [], signer, headers={"typ": "kb+jwt"})
    with pytest.raises(InputError, match="alg"):
        sdjwt.issue(CLAIMS, [], signer, headers={"alg": "none"})


def test_deterministic_salts_give_the_rfc_disclosure_digest(es_issuer: PrivateKey) -> None:
    """RFC 9901 clause 5.1 example: Disclosure ["2GLC42sKQveCfGfryNRN9w", "given_name", "John"] has the
    digest jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4 (with the RFC's spaces after the commas)."""
    rfc = b64(b'["2GLC42sKQveCfGfryNRN9w", "given_name", "John"]')
    assert sdjwt.digest(rfc) == "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4"
    salts: Iterator[str] = iter(["2GLC42sKQveCfGfryNRN9w"])
    issued = sdjwt.issue({"given_name": "John"}, ["given_name"], es_issuer.signer(), salt_source=lambda: next(salts))
    ours = sdjwt.decode_disclosure(parts(issued)[1][0])
    assert (ours.salt, ours.name, ours.value) == ("2GLC42sKQveCfGfryNRN9w", "given_name", "John")
    payload = json.loads(base64url.decode(parts(issued)[0].split(".")[1]))
    assert payload["_sd"] == [sd_digest(ours.encoded)]
