"""SD-JWT (RFC 9901) conformance: every case of ``sd-jwt/sd-jwt-python-testcases/*/`` and
``sd-jwt/spec-examples/*/`` through :mod:`trust.formats.sdjwt`.

Data: ``tests/data/vendor/sd-jwt``. Loading rules: the presentation is ``sd_jwt_presentation.txt`` (compact) or
``sd_jwt_presentation.json`` (JSON serialization; the file holds the JSON text as a JSON string); the issuer
key is ``settings.yml`` ``key_settings.issuer_keys[0]`` without ``d`` (``specification.yml``
``settings_override`` merged in first); key binding uses ``key_settings.holder_key``, ``key_binding_nonce``
and ``identifiers.verifier``. The verified claims must equal ``verified_contents.json``.

Three checks per case:

1. **verify** — the reference implementation's presentation verifies to exactly ``verified_contents.json``
   (with ``require_key_binding`` when the case binds a key);
2. **spoilt** — the same presentation is refused, with the specific error, once something is changed: a
   foreign Disclosure added (``UnreferencedDisclosure``) or one repeated (``DuplicateDisclosure``); for
   key-bound cases also a wrong nonce, a wrong audience, a stale KB-JWT, the KB-JWT removed
   (``KeyBindingMissing``) and a Disclosure dropped under the KB-JWT (``SdHashMismatch``);
3. **re-issue** — the case's ``specification.yml`` (claims with ``!sd`` marks, ``holder_disclosed_claims``,
   decoys, extra headers, serialization) is issued and presented with *our* :func:`issue` and
   :func:`present` and verifies to the same ``verified_contents.json``.

The reference outputs are ES256 only; no case uses EdDSA or another algorithm the project refuses, so the
list of unsupported cases below is empty (a case that appeared with one would have to be listed with its
reason and the refusal asserted).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TESTDATA, shared_file
from trust.crypto import base64url
from trust.crypto import jwk as huren_jwk
from trust.crypto.errors import NotFoundError, UnsupportedAlgorithm
from trust.crypto.keys import PublicKey
from trust.formats import jose, sdjwt

ROOTS = ("sd-jwt-python-testcases", "spec-examples")
EXPECTED_CASES = {"sd-jwt-python-testcases": 17, "spec-examples": 15}
ALGORITHMS = ("ES256",)

# Cases the project cannot support, with the reason: none. (Shape: {"root/name": "reason"}; the test then
# asserts that verification refuses the case with UnsupportedAlgorithm instead of comparing the claims.)
UNSUPPORTED: dict[str, str] = {}


def _case_ids() -> list[str]:
    ids: list[str] = []
    for root in ROOTS:
        base = TESTDATA / "sd-jwt" / root
        ids.extend(f"{root}/{d.name}" for d in sorted(base.iterdir()) if (d / "specification.yml").is_file())
    return ids


CASE_IDS = _case_ids()


def test_every_case_is_loaded() -> None:
    for root, count in EXPECTED_CASES.items():
        found = [c for c in CASE_IDS if c.startswith(root + "/")]
        assert len(found) == count, f"{root}: expected {count} cases, found {len(found)}: {found}"
    assert len(CASE_IDS) == sum(EXPECTED_CASES.values()) == 32
    assert set(UNSUPPORTED) <= set(CASE_IDS), "an UNSUPPORTED entry names no case"


# --- loading ------------------------------------------------------------------------------------------------


class _Sd:
    """A value marked ``!sd`` in ``specification.yml``."""

    def __init__(self, value: Any):
        self.value = value


class _SdKey(str):
    """A mapping key marked ``!sd``."""

    __slots__ = ()


class _SpecLoader(yaml.SafeLoader):
    pass


def _construct_sd(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("'", '"'):  # quoted: a string whatever it looks like
            return _SdKey(node.value)
        tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
        value = loader.construct_object(yaml.ScalarNode(tag, node.value, node.start_mark, node.end_mark))
        return _SdKey(value) if isinstance(value, str) else _Sd(value)
    if isinstance(node, yaml.SequenceNode):
        return _Sd(loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return _Sd(loader.construct_mapping(node, deep=True))


_SpecLoader.add_constructor("!sd", _construct_sd)


def _claims_and_paths(value: Any, path: tuple[str | int, ...] = ()) -> tuple[Any, list[tuple[str | int, ...]]]:
    """Plain claims and the paths marked ``!sd`` (a marked string scalar is an ``_SdKey``)."""
    paths: list[tuple[str | int, ...]] = []
    if isinstance(value, dict):
        plain = {}
        for key, child in value.items():
            inner, sub = _claims_and_paths(child, (*path, str(key)))
            plain[str(key)] = inner
            paths.extend(sub)
            if isinstance(key, _SdKey):
                paths.append((*path, str(key)))
        return plain, paths
    if isinstance(value, list):
        items = []
        for index, child in enumerate(value):
            marked = isinstance(child, _Sd | _SdKey)
            inner, sub = _claims_and_paths(child.value if isinstance(child, _Sd) else child, (*path, index))
            items.append(str(inner) if isinstance(child, _SdKey) else inner)
            paths.extend(sub)
            if marked:
                paths.append((*path, index))
        return items, paths
    if isinstance(value, _Sd):  # a marked value that is not a list element or a key: not expected
        raise AssertionError(f"unexpected !sd value at {path}")
    return (str(value) if isinstance(value, _SdKey) else value), paths


def _selected(spec: Any, prefix: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """The paths ``holder_disclosed_claims`` selects, with the reference holder's semantics: a truthy member
    (an array element that is not ``False``/``None``) selects that Disclosure only; deeper ones are named."""
    out: set[tuple[str | int, ...]] = set()
    if isinstance(spec, dict):
        for key, value in spec.items():
            if value:
                out.add((*prefix, str(key)))
            if isinstance(value, dict | list):
                out |= _selected(value, (*prefix, str(key)))
    elif isinstance(spec, list):
        for index, value in enumerate(spec):
            if value not in (False, None):
                out.add((*prefix, index))
            if isinstance(value, dict | list):
                out |= _selected(value, (*prefix, index))
    return out


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = deepcopy(value)
    return result


class Case:
    def __init__(self, case_id: str):
        root, name = case_id.split("/")
        self.id = case_id
        self.dir: Path = shared_file("sd-jwt", root, name)
        # A SafeLoader subclass with one extra tag (!sd): no arbitrary objects.
        self.spec: dict[str, Any] = yaml.load((self.dir / "specification.yml").read_text(encoding="utf-8"), _SpecLoader)
        base = yaml.safe_load(shared_file("sd-jwt", root, "settings.yml").read_text(encoding="utf-8"))
        self.settings = _merge(base, self.spec.get("settings_override") or {})
        keys = self.settings["key_settings"]
        self.issuer_private_jwk: dict[str, Any] = keys["issuer_keys"][0]
        self.issuer_jwk = {k: v for k, v in self.issuer_private_jwk.items() if k != "d"}
        self.holder_private_jwk: dict[str, Any] = keys["holder_key"]
        self.holder_jwk = {k: v for k, v in self.holder_private_jwk.items() if k != "d"}
        self.nonce: str = self.settings["key_binding_nonce"]
        self.audience: str = self.settings["identifiers"]["verifier"]
        self.key_binding = bool(self.spec.get("key_binding", False))
        self.json = self.spec.get("serialization_format", "compact") == "json"
        self.expected = json.loads((self.dir / "verified_contents.json").read_text(encoding="utf-8"))
        kb_payload = self.dir / "kb_jwt_payload.json"
        # The reference KB-JWTs were made at one instant; verify "now" there (before exp of every case).
        self.now = json.loads(kb_payload.read_text())["iat"] if kb_payload.exists() else 1795650492

    def presentation(self) -> str:
        if self.json:
            text = json.loads((self.dir / "sd_jwt_presentation.json").read_text(encoding="utf-8"))
            assert isinstance(text, str)  # JSON text stored as a JSON string
            return text
        return (self.dir / "sd_jwt_presentation.txt").read_text(encoding="utf-8").strip()

    def resolver(self) -> Callable[[dict[str, Any]], PublicKey]:
        """Only ``issuer_keys[0]`` is trusted; a header naming another ``kid`` is an unknown key."""
        key = jose.public_key_for_verification(self.issuer_jwk)
        kid = self.issuer_jwk.get("kid")

        def resolve(header: dict[str, Any]) -> PublicKey:
            if kid is not None and header.get("kid") != kid:
                raise NotFoundError(f"unknown issuer key {header.get('kid')!r}")
            return key

        return resolve

    def verify(self, presentation: Any, **overrides: Any) -> sdjwt.VerifiedSdJwt:
        options: dict[str, Any] = {
            "algorithms": ALGORITHMS,
            "expected_nonce": self.nonce,
            "expected_audience": self.audience,
            "require_key_binding": self.key_binding,
            "now": self.now,
        }
        options.update(overrides)
        return sdjwt.verify(presentation, self.resolver(), **options)


# --- 1. the reference presentations ------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_reference_presentation_verifies_to_verified_contents(case_id: str) -> None:
    case = Case(case_id)
    if case_id in UNSUPPORTED:
        with pytest.raises(UnsupportedAlgorithm):
            case.verify(case.presentation())
        return
    result = case.verify(case.presentation())
    assert result.payload == case.expected
    assert result.issuer_key == jose.public_key_for_verification(case.issuer_jwk)
    if case.key_binding:
        assert result.key_binding is not None
        assert result.key_binding["nonce"] == case.nonce
        assert result.key_binding["aud"] == case.audience
        assert result.holder_key == jose.public_key_for_verification(case.holder_jwk)
    assert [d.encoded for d in result.disclosed] == _disclosures_of(case.presentation())
    for disclosure in result.disclosed:  # each Disclosure says where its claim went
        path = result.path_of(disclosure)
        if disclosure.name is None:
            assert isinstance(path[-1], int)  # an array element
        else:
            assert path[-1] == disclosure.name


# --- 2. the same presentations, spoilt ---------------------------------------------------------------------


def _foreign_disclosure() -> str:
    return base64url.encode(json.dumps(["c2FsdHNhbHRzYWx0c2FsdA", "given_name", "Mallory"]).encode())


def _disclosures_of(presentation: str) -> list[str]:
    if not presentation.startswith("{"):
        return presentation.split("~")[1:-1]
    document = json.loads(presentation)
    entry = document["signatures"][0] if "signatures" in document else document
    return list(entry["header"].get("disclosures", []))


def _with_disclosures(presentation: str, disclosures: list[str], *, keep_kb: bool = True) -> str:
    """The presentation with other Disclosures (and optionally without its KB-JWT), in its serialization."""
    if not presentation.startswith("{"):
        parts = presentation.split("~")
        return "~".join([parts[0], *disclosures, parts[-1] if keep_kb else ""])
    document = json.loads(presentation)
    entry = document["signatures"][0] if "signatures" in document else document
    entry["header"]["disclosures"] = disclosures
    if not keep_kb:
        entry["header"].pop("kb_jwt", None)
    return json.dumps(document)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_spoilt_reference_presentation_is_refused(case_id: str) -> None:
    case = Case(case_id)
    presentation = case.presentation()
    disclosures = _disclosures_of(presentation)
    if case.key_binding:
        with pytest.raises(sdjwt.NonceMismatch):
            case.verify(presentation, expected_nonce="not-" + case.nonce)
        with pytest.raises(sdjwt.AudienceMismatch):
            case.verify(presentation, expected_audience="https://other.example")
        with pytest.raises(sdjwt.KeyBindingNotFresh):
            case.verify(presentation, now=case.now + 3600)
        with pytest.raises(sdjwt.KeyBindingMissing):
            case.verify(_with_disclosures(presentation, disclosures, keep_kb=False))
        if disclosures:  # the KB-JWT covers exactly the Disclosures presented with it: drop one (a leaf)
            decoded = [sdjwt.decode_disclosure(d) for d in disclosures]
            leaf = next(d for d in decoded if not any(o.digest in json.dumps(d.value) for o in decoded))
            with pytest.raises(sdjwt.SdHashMismatch):
                case.verify(_with_disclosures(presentation, [d for d in disclosures if d != leaf.encoded]))
    with pytest.raises(sdjwt.UnreferencedDisclosure):
        case.verify(_with_disclosures(presentation, [*disclosures, _foreign_disclosure()]))
    if disclosures:
        with pytest.raises(sdjwt.DuplicateDisclosure):
            case.verify(_with_disclosures(presentation, [*disclosures, disclosures[0]]))


# --- 3. our issuer and holder on the case's specification ----------------------------------------------------


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_reissued_with_our_issuer_and_holder(case_id: str) -> None:
    case = Case(case_id)
    spec_claims, paths = _claims_and_paths(case.spec["user_claims"])
    claims: dict[str, Any] = {}
    if case.spec.get("include_default_claims", True):
        claims = {
            "iss": case.settings["identifiers"]["issuer"],
            "iat": case.settings["iat"],
            "exp": case.settings["exp"],
        }
    claims.update(spec_claims)
    issuer = huren_jwk.private_key_from_jwk(case.issuer_private_jwk).signer()
    holder = huren_jwk.private_key_from_jwk(case.holder_private_jwk).signer()
    headers = {"typ": "example+sd-jwt", **(case.spec.get("extra_header_parameters") or {})}
    if "kid" in case.issuer_jwk:
        headers.setdefault("kid", case.issuer_jwk["kid"])
    issued = sdjwt.issue(
        claims,
        paths,
        issuer,
        headers=headers,
        holder_jwk=case.holder_jwk if case.key_binding else None,
        decoys=2 if case.spec.get("add_decoy_claims") else 0,
    )
    chosen = _selected(case.spec.get("holder_disclosed_claims") or {})
    source: Any = sdjwt.to_json_serialization(issued) if case.json else issued
    binding: dict[str, Any] = {"holder_signer": holder, "nonce": case.nonce, "audience": case.audience, "iat": case.now}
    presented = sdjwt.present(source, lambda path: path in chosen, **(binding if case.key_binding else {}))
    result = case.verify(presented)
    assert result.payload == case.expected
    assert result.header["typ"] == headers["typ"]
