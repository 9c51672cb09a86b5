"""Licence tokens and SD-JWT VCs checked by JOSE and SD-JWT VC libraries we did not write, at their default settings,
against a live Huren server on loopback (issue 12 items 8 and 9).

* PyJWT (``PyJWKClient`` fetching the JWK Set over HTTP), joserfc (``KeySet.import_key_set``) and panva/jose
  (``createLocalJWKSet`` + ``jwtVerify``, Node.js) verify the default (compact) RS256 and ES256 licence tokens from
  the standard JWK Set ``/.well-known/jwks.json``, served as ``application/jwk-set+json``.
* ``@sd-jwt/sd-jwt-vc`` verifies an issued licence SD-JWT VC and a key-bound presentation: issuer signature (key
  from the JWK Set by ``kid``), disclosures, KB-JWT (holder key from ``cnf.jwk``, nonce, ``sd_hash``), the Token
  Status List (fetched by the library's own fetcher from the credential's ``status.status_list.uri``) and the type
  metadata named by ``vct`` (fetched from the ``vct`` URL and checked against ``vct#integrity``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from licenses import samples
from tests.support.js import js_peers, run
from tests.support.server import live_server
from tests.support.world import World, copy_world
from trust.crypto import base64url, jwk
from trust.crypto.keys import generate_private_key
from trust.formats import jose, sdjwt
from trust.formats import license_catalogue as catalogue
from trust.formats.sdjwt import vc
from trust.service import licenses, trust
from verifier import api, context
from verifier.license import KeyBindingRequest
from verifier.report import Indication, Result

pytestmark = [pytest.mark.external, pytest.mark.slow]
__all__ = ["js_peers"]  # a fixture, used by name

BUSINESS = "11100000000013338W101"
AUTHORITY = "11330000002482226F"


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory, world_template: World) -> Iterator[dict[str, Any]]:
    world = copy_world(world_template, tmp_path_factory.mktemp("peers-world") / "home")
    port = world.port
    issuers = {}
    for name, ca_id, family in (
        ("sm2", "region-330000-sm2", "SM2"),
        ("rsa", "region-330000-rsa", "RSA"),
        ("ec", "region-330000-rsa", "EC"),
    ):
        issuers[name] = licenses.register_issuer(
            world.instance,
            ca_id=ca_id,
            name="浙江省市场监督管理局",
            code=AUTHORITY,
            license_types=[t.code for t in catalogue.all_types()],
            family=family,
        ).id
    with live_server(world.instance, port) as base:
        yield {"world": world, "base": base, "issuers": issuers}


def _issue(peers: dict[str, Any], issuer: str, **kwargs: Any) -> Any:
    return licenses.issue(
        peers["world"].instance,
        issuer_id=peers["issuers"][issuer],
        type_code=BUSINESS,
        fields=samples.sample(BUSINESS),
        **kwargs,
    )


def _get_jwks(base: str, name: str) -> Any:  # the JSON document, as joserfc and PyJWT take it
    response = httpx.get(f"{base}/.well-known/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    return dict(response.json())


def _tamper(compact: str) -> str:
    header, payload, signature = compact.split(".")
    claims = json.loads(base64url.decode(payload))
    claims["license"]["holder"]["name"] = "另一家公司"
    return f"{header}.{base64url.encode(json.dumps(claims, ensure_ascii=False).encode())}.{signature}"


def test_standard_jwks_is_read_whole_and_sm2_keys_are_apart(peers: dict[str, Any]) -> None:
    from joserfc.jwk import KeySet

    standard = _get_jwks(peers["base"], "jwks.json")
    sm2 = _get_jwks(peers["base"], "jwks-sm2.json")
    assert {k["alg"] for k in standard["keys"]} == {"RS256", "ES256"}
    assert [k["crv"] for k in sm2["keys"]] == ["SM2"] and sm2["keys"][0]["alg"] == "SM2"
    assert len(KeySet.import_key_set(standard).keys) == len(standard["keys"])
    # The mixed set the service used to publish is what joserfc refuses whole (why the sets are apart):
    with pytest.raises(KeyError, match="SM2"):
        KeySet.import_key_set({"keys": standard["keys"] + sm2["keys"]})


def test_pyjwt_joserfc_and_panva_jose_verify_default_rs256_and_es256_tokens(
    peers: dict[str, Any], js_peers: str
) -> None:
    import jwt as pyjwt
    from joserfc import jws as jf_jws
    from joserfc.jwk import KeySet

    url = f"{peers['base']}/.well-known/jwks.json"
    standard = _get_jwks(peers["base"], "jwks.json")
    made = {issuer: _issue(peers, issuer) for issuer in ("rsa", "ec")}
    tokens = [m.record.token for m in made.values()]
    client = pyjwt.PyJWKClient(url)  # PyJWT's own JWK Set client: fetches over HTTP, picks the key by kid
    key_set = KeySet.import_key_set(standard)
    for issuer, item in made.items():
        header = jose.parse_compact(item.record.token)[0]
        assert header["alg"] == {"rsa": "RS256", "ec": "ES256"}[issuer] and "x5c" not in header
        key = client.get_signing_key_from_jwt(item.record.token)
        claims = pyjwt.decode(item.record.token, key, algorithms=[header["alg"]])
        assert claims["jti"] == item.record.identifier
        obj = jf_jws.deserialize_compact(item.record.token, key_set, algorithms=[header["alg"]])
        assert json.loads(obj.payload)["jti"] == item.record.identifier
        with pytest.raises(pyjwt.InvalidSignatureError):
            pyjwt.decode(_tamper(item.record.token), key, algorithms=[header["alg"]])
    x5c_form = _issue(peers, "rsa", token_form="x5c").record.token
    results = run(js_peers, "jose_verify.mjs", {"jwks": standard, "tokens": [*tokens, x5c_form, _tamper(tokens[0])]})
    assert [r["ok"] for r in results] == [True, True, True, False], results
    assert [r["jti"] for r in results[:2]] == [m.record.identifier for m in made.values()]
    assert [r["header"]["alg"] for r in results[:3]] == ["RS256", "ES256", "RS256"]
    assert results[3]["code"] == "ERR_JWS_SIGNATURE_VERIFICATION_FAILED"


def test_sd_jwt_vc_library_verifies_credential_and_key_bound_presentation(peers: dict[str, Any], js_peers: str) -> None:
    holder = generate_private_key("ec-p256")
    made = _issue(peers, "ec", holder_jwk=jwk.public_jwk(holder.public_key))
    revoked = _issue(peers, "ec", holder_jwk=jwk.public_jwk(holder.public_key))
    licenses.set_status(peers["world"].instance, revoked.record.identifier, "revoked", "test")
    issued = made.record.sd_jwt
    claims = jose.parse_compact(issued.split("~")[0])[1]
    payload = json.loads(claims)
    assert payload["vct"] == vc.vct_for(peers["base"], BUSINESS)
    assert {"iss", "iat", "cnf", "status", "vct", "vct#integrity"} <= set(payload)
    presented = sdjwt.present(
        issued,
        [("license", "fields", "name"), ("license", "fields", "uscc")],
        holder_signer=holder.signer(),
        nonce="nonce-8f2e",
        audience="https://bank.example",
    )
    other_holder = generate_private_key("ec-p256")
    stolen = sdjwt.present(
        issued,
        [("license", "fields", "name")],
        holder_signer=_Impostor(holder, other_holder),
        nonce="nonce-8f2e",
        audience="https://bank.example",
    )
    credentials = [
        {"name": "issued", "sd_jwt": issued},
        {"name": "presented", "sd_jwt": presented, "nonce": "nonce-8f2e"},
        {"name": "wrong-nonce", "sd_jwt": presented, "nonce": "nonce-other"},
        {"name": "stolen", "sd_jwt": stolen, "nonce": "nonce-8f2e"},
        {"name": "revoked", "sd_jwt": revoked.record.sd_jwt},
    ]
    results = {
        r["name"]: r
        for r in run(
            js_peers,
            "sd_jwt_vc_verify.mjs",
            {"jwks": _get_jwks(peers["base"], "jwks.json"), "credentials": credentials},
        )
    }
    assert results["issued"]["ok"], results["issued"]
    assert results["issued"]["vct"] == payload["vct"] and results["issued"]["type_name"] == "营业执照"
    assert len(results["issued"]["fields"]) == len(samples.sample(BUSINESS))
    assert results["presented"]["ok"], results["presented"]
    assert results["presented"]["kb"] and results["presented"]["kb_aud"] == "https://bank.example"
    assert results["presented"]["fields"] == ["name", "uscc"]
    assert not results["wrong-nonce"]["ok"] and "Nonce" in results["wrong-nonce"]["error"]
    assert not results["stolen"]["ok"] and "Signature" in results["stolen"]["error"]
    assert not results["revoked"]["ok"] and "Status is not valid" in results["revoked"]["error"]
    # Huren's own offline verifier agrees, resolving the type metadata from the bundle.
    instance = peers["world"].instance
    ctx = context.build(
        bundle=json.dumps(trust.build_bundle(instance)).encode(), pins=[trust.root_fingerprints(instance)["SM2"]]
    )
    report = api.verify(presented.encode(), ctx, key_binding=KeyBindingRequest("nonce-8f2e", "https://bank.example"))
    assert report.indication is Indication.TOTAL_PASSED, report.to_text()
    assert any(c.name == "type" and c.result is Result.PASSED for c in report.checks), report.to_text()


class _Impostor:
    """Someone with another key who claims the holder's public key: its KB-JWT must not verify."""

    def __init__(self, claimed: Any, key: Any):
        self._claimed = claimed.public_key
        self._signer = key.signer()

    algorithm = property(lambda self: self._signer.algorithm)
    public_key = property(lambda self: self._claimed)
    user_id = property(lambda self: self._signer.user_id)

    def sign(self, data: bytes, *, encoding: str = "der") -> bytes:
        return bytes(self._signer.sign(data, encoding=encoding))


def test_token_form_over_http(peers: dict[str, Any]) -> None:
    """``token_form`` in ``POST /licenses``: compact by default, ``x5c`` on request, anything else a 422 problem."""
    world, base = peers["world"], peers["base"]
    body = {"issuer_id": peers["issuers"]["ec"], "type": BUSINESS, "fields": samples.sample(BUSINESS)}
    headers = {}
    for form in (None, "compact", "x5c"):
        response = httpx.post(
            f"{base}/licenses",
            json=body if form is None else {**body, "token_form": form},
            headers=world.auth("zj-platform"),
        )
        assert response.status_code == 201, response.text
        headers[form] = jose.parse_compact(response.json()["token"])[0]
    assert set(headers[None]) == set(headers["compact"]) == {"alg", "typ", "kid", "x5t#S256"}
    assert len(headers["x5c"]["x5c"]) == 2
    refused = httpx.post(f"{base}/licenses", json={**body, "token_form": "pem"}, headers=world.auth("zj-platform"))
    assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
    metadata = httpx.get(f"{base}/vct/{BUSINESS}")
    assert metadata.status_code == 200 and metadata.headers["content-type"].startswith("application/json")
    assert metadata.json()["vct"] == vc.vct_for(base, BUSINESS)
    assert httpx.get(f"{base}/vct/11100000000013338W199").status_code in (400, 404)
