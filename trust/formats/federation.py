"""OpenID Federation 1.0: entity statements, trust chains, trust marks and resolve responses, checked offline.

* **Entity statement** (clause 3): a compact JWS, ``typ`` ``entity-statement+jwt``, ``kid`` naming the signing key,
  claims ``iss``, ``sub``, ``iat``, ``exp``, ``jwks`` (the subject's federation keys) and, as the case may be,
  ``authority_hints``, ``metadata``, ``metadata_policy``, ``metadata_policy_crit``, ``constraints``,
  ``trust_marks``, ``trust_mark_issuers``, ``crit``. With ``iss == sub`` it is the entity's **entity
  configuration**, served at ``/.well-known/openid-federation`` (clause 9); otherwise it is a **subordinate
  statement** that a superior (here the national trust anchor) publishes about the subject at its ``fetch``
  endpoint (clause 8.1).
* **Trust chain** (clauses 4 and 10): ``[leaf configuration, statement about the leaf, ..., anchor configuration]``.
  :func:`validate_chain` follows clause 10.2 step by step: every statement well-formed and within ``iat``/``exp``;
  ``ES[j].iss == ES[j+1].sub``; ``ES[j]`` signed by a key that ``ES[j+1]`` publishes for that entity (a key the chain
  does not certify is refused, even if the entity's own configuration lists it); the anchor configuration signed by a
  key the relying party already trusts (from the offline bundle, which the national roots sign); ``constraints``
  (``max_path_length``, ``allowed_entity_types``); the chain's expiry the earliest ``exp``; the leaf's metadata with
  the superiors' ``metadata`` and merged ``metadata_policy`` applied (:mod:`trust.formats.federation_policy`).
* **Trust marks** (clause 7): ``typ`` ``trust-mark+jwt``, claims ``iss``, ``sub``, ``trust_mark_type``, ``iat``
  and optionally ``exp``, ``logo_uri``, ``ref``. A mark is accepted only from an issuer the anchor's configuration
  names for its type (``trust_mark_issuers``), signed by that issuer's key, for the chain's subject, unexpired and
  not in the revocation list the caller holds (the bundle's, or the anchor's status endpoint).
* **Resolve response** (clause 8.3): ``typ`` ``resolve-response+jwt`` with ``metadata``, ``trust_marks`` and the
  ``trust_chain`` it used; a relying party validates the chain inside it, not only the resolver's signature.

:class:`StatementSet` is the offline side: every entity configuration and subordinate statement of the federation
(as the bundle carries them, or as an RP fetched them), from which :meth:`StatementSet.chain` builds the chain of an
entity to the anchor by its ``authority_hints`` with no network. Huren's extension: a subordinate statement's JWK
may carry ``x5c`` (RFC 7517 clause 4.7), the certificate of the entity's key under its region's CA, so an RP can ask
the trust list whether the entity's region was granted or withdrawn at a given time (:func:`entity_certificate`).

Pure format code: no storage, no network, no clock of its own (``now`` is an argument, seconds since the epoch).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from trust.crypto import jwk as huren_jwk
from trust.crypto.errors import Code, FederationError, TrustError
from trust.crypto.keys import PublicKey
from trust.crypto.signer import Signer
from trust.formats import federation_policy, jose, strict_json

ENTITY_STATEMENT_TYP: Final = "entity-statement+jwt"
TRUST_MARK_TYP: Final = "trust-mark+jwt"
RESOLVE_RESPONSE_TYP: Final = "resolve-response+jwt"
TRUST_MARK_STATUS_TYP: Final = "trust-mark-status-response+jwt"
WELL_KNOWN_PATH: Final = "/.well-known/openid-federation"
ENTITY_TYPES: Final = frozenset(
    {"federation_entity", "openid_provider", "openid_relying_party", "oauth_authorization_server", "oauth_client"}
)
ALGORITHMS: Final = tuple(sorted(jose.ACCEPTED_ALGORITHMS))
"""Signature algorithms accepted for federation statements (never ``none`` or HMAC)."""
MAX_CHAIN_LENGTH: Final = 8
CLOCK_SKEW: Final = 60
_KNOWN_CLAIMS: Final = frozenset(
    {
        "iss",
        "sub",
        "iat",
        "exp",
        "jwks",
        "authority_hints",
        "metadata",
        "metadata_policy",
        "metadata_policy_crit",
        "constraints",
        "crit",
        "trust_marks",
        "trust_mark_issuers",
        "trust_mark_owners",
        "trust_anchor_hints",
        "source_endpoint",
    }
)


def _invalid(message: str, **evidence: Any) -> FederationError:
    return FederationError(message, code=Code.ENTITY_STATEMENT_INVALID, evidence=evidence)


def _chain_error(message: str, **evidence: Any) -> FederationError:
    return FederationError(message, code=Code.TRUST_CHAIN_INVALID, evidence=evidence)


# --- entity statements ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityStatement:
    """One parsed (not yet verified) entity statement and its compact JWS."""

    token: str
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def iss(self) -> str:
        return str(self.claims["iss"])

    @property
    def sub(self) -> str:
        return str(self.claims["sub"])

    @property
    def iat(self) -> int:
        return int(self.claims["iat"])

    @property
    def exp(self) -> int:
        return int(self.claims["exp"])

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def is_configuration(self) -> bool:
        return self.iss == self.sub

    @property
    def jwks(self) -> Mapping[str, Any]:
        return self.claims["jwks"]  # type: ignore[no-any-return]  # checked in parse_statement

    @property
    def authority_hints(self) -> tuple[str, ...]:
        return tuple(self.claims.get("authority_hints") or ())

    @property
    def metadata(self) -> Mapping[str, Any]:
        return self.claims.get("metadata") or {}

    def key_entries(self) -> list[Mapping[str, Any]]:
        return list(self.jwks["keys"])


def _is_entity_id(value: Any) -> bool:
    return (
        isinstance(value, str) and value.startswith(("https://", "http://")) and "#" not in value and len(value) < 2048
    )


def _check_jwks(jwks: Any, what: str) -> None:
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise _invalid(f"{what}: jwks must be an object with a non-empty keys array")
    kids = set()
    for key in jwks["keys"]:
        if not isinstance(key, Mapping) or not isinstance(key.get("kid"), str) or not key["kid"]:
            raise _invalid(f"{what}: every key of jwks needs a kid")
        if key["kid"] in kids:
            raise _invalid(f"{what}: kid {key['kid']!r} appears twice in jwks")
        kids.add(key["kid"])


def _check_claims(claims: Mapping[str, Any], what: str) -> None:
    for name in ("iss", "sub"):
        if not _is_entity_id(claims.get(name)):
            raise _invalid(f"{what}: {name} must be an entity identifier (an https URL)", found=str(claims.get(name)))
    for name in ("iat", "exp"):
        value = claims.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise _invalid(f"{what}: {name} must be a NumericDate (integer seconds)")
    if claims["exp"] <= claims["iat"]:
        raise _invalid(f"{what}: exp is not after iat")
    _check_jwks(claims.get("jwks"), what)
    hints = claims.get("authority_hints")
    if hints is not None and (not isinstance(hints, list) or not all(_is_entity_id(h) for h in hints)):
        raise _invalid(f"{what}: authority_hints must be an array of entity identifiers")
    for name in ("metadata", "metadata_policy", "constraints", "trust_mark_issuers"):
        if name in claims and not isinstance(claims[name], Mapping):
            raise _invalid(f"{what}: {name} must be a JSON object")
    metadata = claims.get("metadata") or {}
    if any(not isinstance(section, Mapping) for section in metadata.values()):
        raise _invalid(f"{what}: every entity type's metadata must be a JSON object")
    crit = claims.get("crit")
    if crit is not None:
        if not isinstance(crit, list) or not all(isinstance(c, str) for c in crit):
            raise _invalid(f"{what}: crit must be an array of claim names")
        unknown = sorted(set(crit) - _KNOWN_CLAIMS)
        if unknown:
            raise _invalid(f"{what}: crit names claims this implementation does not understand: {unknown}")
    marks = claims.get("trust_marks")
    if marks is not None and (
        not isinstance(marks, list)
        or not all(isinstance(m, Mapping) and isinstance(m.get("trust_mark"), str) for m in marks)
    ):
        raise _invalid(f"{what}: trust_marks must be an array of objects with a trust_mark")


def parse_statement(token: str | bytes) -> EntityStatement:
    """An entity statement after the structural checks of clause 3 (``typ``, ``kid``, claims); not verified."""
    try:
        header, payload, _input, _signature = jose.parse_compact(token)
        claims = strict_json.load_object(payload, "entity statement")
    except TrustError as exc:
        raise _invalid(f"entity statement is not a compact JWS with a JSON payload: {exc.message}") from None
    if header.get("typ") != ENTITY_STATEMENT_TYP:
        raise _invalid(f"entity statement typ must be {ENTITY_STATEMENT_TYP}", found=str(header.get("typ")))
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise _invalid("entity statement header needs a kid")
    _check_claims(claims, "entity statement")
    text = token.decode("ascii") if isinstance(token, bytes) else token
    return EntityStatement(token=text.strip(), header=header, claims=claims)


def jwk_entry(key: PublicKey, *, alg: str | None = None, certificate: bytes | None = None) -> dict[str, Any]:
    """The JWK of a federation or signing key: ``kid`` its RFC 7638 thumbprint, ``use`` ``sig``, and ``x5c`` with
    the key's certificate where it is certified (Huren's entity keys are)."""
    entry: dict[str, Any] = {**huren_jwk.public_jwk(key), "kid": huren_jwk.thumbprint(key), "use": "sig"}
    if alg:
        entry["alg"] = alg
    if certificate is not None:
        entry["x5c"] = [base64.b64encode(certificate).decode("ascii")]
    return entry


def key_for(jwks: Mapping[str, Any], kid: str, alg: str) -> PublicKey:
    """The public key ``kid`` of ``jwks`` for ``alg``; refuses a kid the set lacks (a key not in the chain)."""
    for entry in jwks.get("keys", ()):
        if isinstance(entry, Mapping) and entry.get("kid") == kid:
            verify_entry = {k: v for k, v in entry.items() if k != "x5c"}
            return jose.public_key_for_verification(verify_entry, alg)
    raise _chain_error(f"key {kid!r} is not among the keys the chain certifies", kid=kid)


def sign_statement(claims: Mapping[str, Any], signer: Signer, *, typ: str = ENTITY_STATEMENT_TYP) -> str:
    """A compact entity statement (or another federation JWT: ``typ``) signed by ``signer``; ``kid`` is the
    signer's key thumbprint, which the statement's verifier finds in the superior's ``jwks``."""
    payload = json.dumps(dict(claims), ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
    kid = huren_jwk.thumbprint(signer.public_key)
    return jose.sign_compact(payload, signer, headers={"typ": typ, "kid": kid})


def verify_signature(statement: EntityStatement, jwks: Mapping[str, Any]) -> None:
    """Check ``statement``'s signature with the key its ``kid`` names in ``jwks``; raises
    :class:`~trust.crypto.errors.FederationError` (``trust-chain-invalid``) otherwise."""
    alg = statement.header.get("alg")
    try:
        key = key_for(jwks, statement.kid, str(alg))
        jose.verify_compact(statement.token, lambda _header: key, algorithms=ALGORITHMS)
    except FederationError:
        raise
    except TrustError as exc:
        raise _chain_error(
            f"statement by {statement.iss} about {statement.sub} does not verify: {exc.message}", kid=statement.kid
        ) from None


def _check_time(statement: EntityStatement, now: int) -> None:
    if statement.iat > now + CLOCK_SKEW:
        raise FederationError(
            f"statement by {statement.iss} about {statement.sub} is issued in the future (iat {statement.iat})",
            code=Code.TRUST_CHAIN_EXPIRED,
            evidence={"iat": statement.iat, "now": now},
        )
    if statement.exp <= now - CLOCK_SKEW:
        raise FederationError(
            f"statement by {statement.iss} about {statement.sub} expired at {statement.exp}",
            code=Code.TRUST_CHAIN_EXPIRED,
            evidence={"exp": statement.exp, "now": now},
        )


# --- trust chains -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustChain:
    """A validated trust chain: the subject, the anchor, when the chain expires and the resolved metadata."""

    statements: tuple[EntityStatement, ...]
    metadata: Mapping[str, Any]
    expires_at: int
    trust_marks: tuple[TrustMark, ...] = ()
    subject_key_certificates: tuple[bytes, ...] = field(default=())

    @property
    def subject(self) -> str:
        return self.statements[0].sub

    @property
    def anchor(self) -> str:
        return self.statements[-1].iss

    @property
    def tokens(self) -> list[str]:
        return [s.token for s in self.statements]

    def entity_metadata(self, entity_type: str) -> Mapping[str, Any]:
        section = self.metadata.get(entity_type)
        if not isinstance(section, Mapping):
            raise FederationError(
                f"{self.subject} has no {entity_type} metadata in its trust chain",
                code=Code.METADATA_POLICY_VIOLATION,
            )
        return section


def _apply_constraints(statements: Sequence[EntityStatement], metadata: dict[str, Any]) -> dict[str, Any]:
    """``max_path_length`` and ``allowed_entity_types`` of every superior's statement (clause 6.2)."""
    for j in range(1, len(statements) - 1):
        constraints = statements[j].claims.get("constraints") or {}
        max_path = constraints.get("max_path_length")
        intermediates = j - 1  # entities between statements[j].sub and the leaf
        if max_path is not None and (not isinstance(max_path, int) or intermediates > max_path):
            raise _chain_error(
                f"{statements[j].iss} allows {max_path} intermediates below {statements[j].sub}; the chain has "
                f"{intermediates}"
            )
        allowed = constraints.get("allowed_entity_types")
        if allowed is not None:
            keep = {*allowed, "federation_entity"}
            metadata = {t: m for t, m in metadata.items() if t in keep}
    return metadata


def _resolve_metadata(statements: Sequence[EntityStatement]) -> dict[str, Any]:
    """The leaf's metadata, overridden by its immediate superior's ``metadata`` claim, then the merged policies of
    every superior applied (the anchor's first; clause 6.1.4)."""
    metadata: dict[str, Any] = {t: dict(m) for t, m in statements[0].metadata.items()}
    if len(statements) > 2:
        for entity_type, overrides in (statements[1].claims.get("metadata") or {}).items():
            metadata.setdefault(entity_type, {}).update(overrides)
    policies = []
    for statement in reversed(statements[1:-1]):  # the anchor's subordinate statement first
        crit = statement.claims.get("metadata_policy_crit") or ()
        policies.append(federation_policy.check_policy(statement.claims.get("metadata_policy"), crit))
    policy = federation_policy.merge_chain(policies)
    return federation_policy.apply(policy, _apply_constraints(statements, metadata))


def validate_chain(
    chain: Sequence[str | EntityStatement],
    anchor_jwks: Mapping[str, Any],
    *,
    now: int,
    anchor: str | None = None,
) -> TrustChain:
    """Validate a trust chain (clause 10.2) ending at an anchor whose keys ``anchor_jwks`` the caller trusts.

    Raises :class:`~trust.crypto.errors.FederationError`: ``entity-statement-invalid`` (malformed),
    ``trust-chain-invalid`` (wrong order, a signature by a key the chain does not certify, a constraint broken),
    ``trust-chain-expired`` (a statement outside its ``iat``/``exp``), ``metadata-policy-invalid`` or
    ``metadata-policy-violation`` (the resolved metadata)."""
    if not chain:
        raise _chain_error("a trust chain needs at least the anchor's entity configuration")
    if len(chain) > MAX_CHAIN_LENGTH:
        raise _chain_error(f"trust chain of {len(chain)} statements exceeds {MAX_CHAIN_LENGTH}")
    statements = [s if isinstance(s, EntityStatement) else parse_statement(s) for s in chain]
    # 1. Every statement within its validity; the chain expires with its earliest statement.
    for statement in statements:
        _check_time(statement, now)
    leaf, top = statements[0], statements[-1]
    # 2. ES[0] is the subject's configuration, ES[i] the anchor's; each ES[j] issued by the subject of ES[j+1].
    if not leaf.is_configuration:
        raise _chain_error(f"the chain starts with a statement by {leaf.iss} about {leaf.sub}, not a configuration")
    if not top.is_configuration:
        raise _chain_error(f"the chain ends with a statement by {top.iss} about {top.sub}, not the anchor's")
    if anchor is not None and top.iss != anchor:
        raise _chain_error(f"the chain ends at {top.iss}, not at the trust anchor {anchor}", anchor=anchor)
    for j in range(1, len(statements) - 1):
        if statements[j].is_configuration:
            raise _chain_error(f"statement {j} is a configuration of {statements[j].iss}, not a subordinate statement")
    for j in range(len(statements) - 1):
        if statements[j].iss != statements[j + 1].sub:
            raise _chain_error(
                f"statement {j} is issued by {statements[j].iss}, the next one is about {statements[j + 1].sub}",
                position=j,
            )
    if len(statements) > 1 and statements[1].iss not in leaf.authority_hints:
        raise _chain_error(f"{leaf.sub} does not name {statements[1].iss} among its authority_hints")
    # 3. Signatures: ES[j] by a key that ES[j+1] certifies for its issuer; the anchor's by a key trusted beforehand.
    for j in range(len(statements) - 1):
        verify_signature(statements[j], statements[j + 1].jwks)
    if len(statements) > 1:
        # The leaf's own configuration is also signed by one of its own published keys (no foreign kid).
        key_for(leaf.jwks, leaf.kid, str(leaf.header.get("alg")))
    verify_signature(top, anchor_jwks)
    # 4. Metadata: superiors' overrides and policies, constraints.
    metadata = _resolve_metadata(statements)
    certificates: tuple[bytes, ...] = ()
    if len(statements) > 1:
        certificates = entity_certificates(statements[1], leaf.kid)
    return TrustChain(
        statements=tuple(statements),
        metadata=metadata,
        expires_at=min(s.exp for s in statements),
        subject_key_certificates=certificates,
    )


def entity_certificates(statement: EntityStatement, kid: str) -> tuple[bytes, ...]:
    """The ``x5c`` certificates (DER, the entity key's first) that ``statement`` gives for the key ``kid``."""
    for entry in statement.key_entries():
        if entry.get("kid") == kid and isinstance(entry.get("x5c"), list):
            try:
                return tuple(base64.b64decode(str(c), validate=True) for c in entry["x5c"])
            except ValueError:
                raise _invalid(f"x5c of key {kid!r} is not base64 DER") from None
    return ()


def entity_certificate(chain: TrustChain) -> bytes | None:
    """The certificate of the subject's federation key, as its superior's statement gives it (or None)."""
    return chain.subject_key_certificates[0] if chain.subject_key_certificates else None


# --- offline statement sets -------------------------------------------------------------------------------------


@dataclass
class StatementSet:
    """Entity configurations and subordinate statements of a federation, as the bundle carries them; builds the
    trust chain of an entity to the anchor with no network (:meth:`chain`)."""

    configurations: dict[str, EntityStatement] = field(default_factory=dict)
    subordinates: dict[tuple[str, str], EntityStatement] = field(default_factory=dict)

    @classmethod
    def of(cls, tokens: Iterable[str]) -> StatementSet:
        result = cls()
        for token in tokens:
            result.add(parse_statement(token))
        return result

    def add(self, statement: EntityStatement) -> None:
        if statement.is_configuration:
            self.configurations[statement.sub] = statement
        else:
            self.subordinates[(statement.iss, statement.sub)] = statement

    def tokens(self) -> list[str]:
        return [s.token for s in self.configurations.values()] + [s.token for s in self.subordinates.values()]

    def chain(self, entity_id: str, anchor: str) -> list[EntityStatement]:
        """``[configuration of entity_id, statement by its superior, ..., anchor's configuration]`` following
        ``authority_hints`` (depth first, at most :data:`MAX_CHAIN_LENGTH`); raises ``trust-chain-not-found``."""
        path = self._search(entity_id, anchor, ())
        if path is None:
            raise FederationError(
                f"no trust chain from {entity_id} to {anchor} among the statements held",
                code=Code.TRUST_CHAIN_NOT_FOUND,
                evidence={"entity": entity_id, "anchor": anchor},
            )
        return path

    def _search(self, entity_id: str, anchor: str, seen: tuple[str, ...]) -> list[EntityStatement] | None:
        configuration = self.configurations.get(entity_id)
        if configuration is None or entity_id in seen or len(seen) >= MAX_CHAIN_LENGTH - 1:
            return None
        if entity_id == anchor:
            return [configuration]
        for superior in configuration.authority_hints:
            statement = self.subordinates.get((superior, entity_id))
            if statement is None:
                continue
            rest = self._search(superior, anchor, (*seen, entity_id))
            if rest is not None:
                # The superior's own configuration is part of the chain only when it is the anchor.
                tail = rest if superior == anchor else rest[1:]
                return [configuration, statement, *tail]
        return None


# --- trust marks ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustMark:
    token: str
    iss: str
    sub: str
    trust_mark_type: str
    iat: int
    exp: int | None

    @property
    def digest(self) -> str:
        """SHA-256 of the compact token (hex): how revocation lists name a mark."""
        return hashlib.sha256(self.token.encode("ascii")).hexdigest()


def sign_trust_mark(
    signer: Signer,
    *,
    iss: str,
    sub: str,
    trust_mark_type: str,
    iat: int,
    exp: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> str:
    claims: dict[str, Any] = {"iss": iss, "sub": sub, "trust_mark_type": trust_mark_type, "iat": iat, **(extra or {})}
    if exp is not None:
        claims["exp"] = exp
    return sign_statement(claims, signer, typ=TRUST_MARK_TYP)


def parse_trust_mark(token: str) -> tuple[TrustMark, Mapping[str, Any]]:
    try:
        header, payload, _input, _signature = jose.parse_compact(token)
        claims = strict_json.load_object(payload, "trust mark")
    except TrustError as exc:
        raise FederationError(f"trust mark is not a compact JWS: {exc.message}", code=Code.TRUST_MARK_INVALID) from None
    if header.get("typ") != TRUST_MARK_TYP or not isinstance(header.get("kid"), str):
        raise FederationError(f"trust mark needs typ {TRUST_MARK_TYP} and a kid", code=Code.TRUST_MARK_INVALID)
    if not all(isinstance(claims.get(n), str) for n in ("iss", "sub", "trust_mark_type")) or not isinstance(
        claims.get("iat"), int
    ):
        raise FederationError("trust mark needs iss, sub, trust_mark_type and iat", code=Code.TRUST_MARK_INVALID)
    exp = claims.get("exp")
    if exp is not None and not isinstance(exp, int):
        raise FederationError("trust mark exp must be a NumericDate", code=Code.TRUST_MARK_INVALID)
    mark = TrustMark(token.strip(), claims["iss"], claims["sub"], claims["trust_mark_type"], claims["iat"], exp)
    return mark, header


def verify_trust_mark(
    token: str,
    *,
    subject: str,
    anchor_configuration: EntityStatement,
    issuer_jwks: Mapping[str, Mapping[str, Any]],
    now: int,
    revoked: Iterable[str] = (),
) -> TrustMark:
    """A trust mark for ``subject`` from an issuer the anchor names for its type, signed by that issuer's key
    (``issuer_jwks`` maps issuer ids to their validated keys), unexpired and not revoked (``revoked``: digests)."""
    mark, header = parse_trust_mark(token)

    def refuse(message: str) -> FederationError:
        return FederationError(
            f"trust mark {mark.trust_mark_type} of {mark.sub}: {message}",
            code=Code.TRUST_MARK_INVALID,
            evidence={"trust_mark_type": mark.trust_mark_type, "iss": mark.iss},
        )

    if mark.sub != subject:
        raise refuse(f"it is for {mark.sub}, not {subject}")
    issuers = (anchor_configuration.claims.get("trust_mark_issuers") or {}).get(mark.trust_mark_type)
    if not isinstance(issuers, list) or mark.iss not in issuers:
        raise refuse(f"{mark.iss} is not an issuer of this trust mark type for the anchor")
    keys = issuer_jwks.get(mark.iss)
    if keys is None:
        raise refuse(f"the keys of its issuer {mark.iss} are not known")
    try:
        key = key_for(keys, str(header["kid"]), str(header.get("alg")))
        jose.verify_compact(token, lambda _header: key, algorithms=ALGORITHMS)
    except TrustError as exc:
        raise refuse(f"signature: {exc.message}") from None
    if mark.iat > now + CLOCK_SKEW or (mark.exp is not None and mark.exp <= now - CLOCK_SKEW):
        raise refuse("outside its validity")
    if mark.digest in set(revoked):
        raise refuse("revoked by its issuer")
    return mark


def chain_trust_marks(
    chain: TrustChain, *, issuer_jwks: Mapping[str, Mapping[str, Any]], now: int, revoked: Iterable[str] = ()
) -> tuple[TrustMark, ...]:
    """The trust marks of the chain's subject configuration that verify; the others are left out (a trust mark is
    a claim to check, and an invalid one is no mark)."""
    revoked_set = frozenset(revoked)
    marks = []
    for entry in chain.statements[0].claims.get("trust_marks") or ():
        try:
            marks.append(
                verify_trust_mark(
                    entry["trust_mark"],
                    subject=chain.subject,
                    anchor_configuration=chain.statements[-1],
                    issuer_jwks=issuer_jwks,
                    now=now,
                    revoked=revoked_set,
                )
            )
        except FederationError:
            continue
    return tuple(marks)


# --- resolve responses ------------------------------------------------------------------------------------------


def sign_resolve_response(
    signer: Signer, *, resolver: str, chain: TrustChain, iat: int, trust_marks: Sequence[TrustMark] = ()
) -> str:
    claims = {
        "iss": resolver,
        "sub": chain.subject,
        "iat": iat,
        "exp": chain.expires_at,
        "metadata": dict(chain.metadata),
        "trust_marks": [{"trust_mark_type": m.trust_mark_type, "trust_mark": m.token} for m in trust_marks],
        "trust_chain": chain.tokens,
    }
    return sign_statement(claims, signer, typ=RESOLVE_RESPONSE_TYP)


def validate_resolve_response(
    token: str, anchor_jwks: Mapping[str, Any], *, subject: str, anchor: str, now: int
) -> TrustChain:
    """The trust chain inside a resolve response, validated on its own to ``anchor`` (the resolver is trusted for
    nothing it does not prove); the response itself must be signed by the anchor and be about ``subject``."""
    try:
        header, payload, _input, _signature = jose.parse_compact(token)
        claims = strict_json.load_object(payload, "resolve response")
    except TrustError as exc:
        raise _invalid(f"resolve response is not a compact JWS: {exc.message}") from None
    if header.get("typ") != RESOLVE_RESPONSE_TYP or claims.get("sub") != subject or claims.get("iss") != anchor:
        raise _invalid("resolve response has another typ, subject or issuer than asked for")
    chain_tokens = claims.get("trust_chain")
    if not isinstance(chain_tokens, list) or not all(isinstance(t, str) for t in chain_tokens):
        raise _invalid("resolve response has no trust_chain")
    try:
        key = key_for(anchor_jwks, str(header.get("kid")), str(header.get("alg")))
        jose.verify_compact(token, lambda _header: key, algorithms=ALGORITHMS)
    except TrustError as exc:
        raise _chain_error(f"resolve response does not verify: {exc.message}") from None
    return validate_chain(chain_tokens, anchor_jwks, now=now, anchor=anchor)


# --- the offline bundle's federation section --------------------------------------------------------------------


@dataclass(frozen=True)
class FederationSection:
    """What the offline bundle carries of the federation: the anchor's id and keys (trusted because the national
    roots sign the bundle), every entity configuration and subordinate statement, and revoked trust marks."""

    anchor: str
    anchor_jwks: Mapping[str, Any]
    statements: tuple[str, ...]
    revoked_trust_marks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "anchor": self.anchor,
            "anchor_jwks": dict(self.anchor_jwks),
            "statements": list(self.statements),
            "revoked_trust_marks": list(self.revoked_trust_marks),
        }

    @classmethod
    def from_json(cls, data: Any) -> FederationSection:
        if not isinstance(data, Mapping) or not _is_entity_id(data.get("anchor")):
            raise _invalid("bundle federation section needs the anchor's entity identifier")
        _check_jwks(data.get("anchor_jwks"), "bundle federation anchor_jwks")
        statements = data.get("statements")
        revoked = data.get("revoked_trust_marks", [])
        if not isinstance(statements, list) or not all(isinstance(s, str) for s in statements):
            raise _invalid("bundle federation statements must be an array of compact JWS")
        if not isinstance(revoked, list) or not all(isinstance(r, str) for r in revoked):
            raise _invalid("bundle federation revoked_trust_marks must be an array of digests")
        return cls(str(data["anchor"]), dict(data["anchor_jwks"]), tuple(statements), tuple(revoked))

    def statement_set(self) -> StatementSet:
        return StatementSet.of(self.statements)

    def resolve(self, entity_id: str, *, now: int, statements: StatementSet | None = None) -> TrustChain:
        """The validated trust chain of ``entity_id`` to the anchor, from the bundle alone, with its verified
        trust marks (issued by the anchor, unrevoked)."""
        held = statements or self.statement_set()
        chain = validate_chain(held.chain(entity_id, self.anchor), self.anchor_jwks, now=now, anchor=self.anchor)
        marks = chain_trust_marks(
            chain, issuer_jwks={self.anchor: self.anchor_jwks}, now=now, revoked=self.revoked_trust_marks
        )
        return TrustChain(chain.statements, chain.metadata, chain.expires_at, marks, chain.subject_key_certificates)
