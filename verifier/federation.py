"""Entity statements of the identity federation (OpenID Federation 1.0), verified offline against the bundle.

Input: a compact JWS with ``typ`` ``entity-statement+jwt`` — an entity's **configuration** (``iss == sub``, what it
serves at ``/.well-known/openid-federation``; kind ``entity-configuration``) or a **subordinate statement** a
superior made about it (kind ``entity-statement``). Checks, in order:

1. **parse** — the structure of clause 3 (:func:`trust.formats.federation.parse_statement`): ``typ``, ``kid``,
   entity identifiers, ``iat``/``exp``, ``jwks``, no unknown ``crit``. Malformed → TOTAL_FAILED / FORMAT_FAILURE.
2. **validity** — the input's own ``iat``/``exp`` at the validation time (60 s skew) → TOTAL_FAILED /
   NOT_YET_VALID or EXPIRED.
3. **self-signature** (a configuration) — signed by the key its ``kid`` names among the configuration's own ``jwks``
   (a changed byte, a foreign ``kid``) → TOTAL_FAILED / SIG_CRYPTO_FAILURE.
4. **trust-chain** — the chain from the input to the national anchor built from the bundle's federation section
   alone (:meth:`~trust.formats.federation.StatementSet.chain`, with the input in place of the bundle's copy of the
   same statement) and validated as clause 10.2 says (:func:`~trust.formats.federation.validate_chain`): every
   statement within its validity, each signed by a key its superior certifies, the anchor's configuration by the
   anchor keys the bundle carries (which the pinned national roots sign), constraints and metadata policies.
   * No bundle, or a bundle without a federation → INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND.
   * The entity is not in the bundle's federation, or signs with a key the bundle's chain does not certify for it:
     if the input was issued **after the bundle was made** (``iat`` later than the bundle's ``created_at``), the
     bundle cannot know of it — the entity may have joined or re-keyed since → INDETERMINATE / TRY_LATER, "get a
     newer bundle"; if it was issued **before**, the federation the bundle describes (made later) does not vouch for
     it — never registered, withdrawn, or a forgery under a member's name → TOTAL_FAILED /
     CHAIN_CONSTRAINTS_FAILURE (not a member) or CERTIFICATE_CHAIN_GENERAL_FAILURE (uncertified key).
   * A statement of the bundle's chain outside its validity at the validation time → INDETERMINATE / TRY_LATER (a
     bundle current at that time is needed); any other chain failure → TOTAL_FAILED (signatures:
     CERTIFICATE_CHAIN_GENERAL_FAILURE; constraints and metadata policies: CHAIN_CONSTRAINTS_FAILURE).
5. **trust-marks** — the configuration's trust marks that verify (issued by the anchor for a type it names, for this
   subject, unexpired, not in the bundle's revocation list) are reported; one that does not is a warning (a mark
   is a claim to check, not a condition of the statement).
6. **trust-list** — an OpenID Provider's federation key must be certified (``x5c`` in its superior's statement) and
   its service (``IDENTITY_PROVIDER``) granted in the bundle's trust list at the validation time, as a relying party
   requires (:mod:`trust.rp`); withdrawn or uncertified → TOTAL_FAILED / CHAIN_CONSTRAINTS_FAILURE.

The report's ``chain`` lists the statements from the input to the anchor's configuration (``fingerprint``: SHA-256 of
the compact JWS; ``source``: ``input``, ``bundle`` or ``anchor``); ``details`` the anchor, the entity types, the
trust marks accepted and when the chain expires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from trust.crypto.errors import Code, FederationError
from trust.formats import federation
from verifier.context import VerificationContext
from verifier.report import ChainLink, Check, Indication, Report, ReportBuilder, Result, SubIndication

KIND_CONFIGURATION: Final = "entity-configuration"
KIND_STATEMENT: Final = "entity-statement"
ORDER: Final = ("parse", "validity", "self-signature", "trust-chain", "trust-marks", "trust-list")
"""The checks of an entity statement, from the most fundamental down (the bottom line's ranking)."""
_MAX_HEADER_CHARS: Final = 8192
NEWER_BUNDLE: Final = "get a newer bundle"


def looks_like_entity_statement(text: str) -> bool:
    """Whether the compact JWS ``text`` declares ``typ`` ``entity-statement+jwt`` (its header alone is read)."""
    head = text.strip().split(".", 1)[0]
    if len(head) > _MAX_HEADER_CHARS:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return False
    return isinstance(header, dict) and header.get("typ") == federation.ENTITY_STATEMENT_TYP


@dataclass
class _State:
    checks: list[Check] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: list[tuple[str, Any]] = field(default_factory=list)
    chain: tuple[ChainLink, ...] = ()

    def ok(self, name: str, detail: str) -> None:
        self.checks.append(Check(name, Result.PASSED, detail))


class _Stop(Exception):
    def __init__(self, indication: Indication, sub: SubIndication, check: str, message: str):
        super().__init__(message)
        self.indication, self.sub, self.check, self.message = indication, sub, check, message


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def verify_entity_statement(data: bytes | str, ctx: VerificationContext) -> Report:
    """The report on one entity statement (module docstring); never raises for what the input holds."""
    text = data.decode("ascii", errors="replace").strip() if isinstance(data, bytes) else data.strip()
    state = _State()
    kind, subject = KIND_STATEMENT, ""
    try:
        try:
            statement = federation.parse_statement(text)
        except FederationError as exc:
            raise _Stop(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "parse", exc.message) from None
        kind = KIND_CONFIGURATION if statement.is_configuration else KIND_STATEMENT
        subject = statement.sub
        what = "entity configuration" if statement.is_configuration else f"statement by {statement.iss}"
        state.ok("parse", f"{what} of {statement.sub}, {statement.header.get('alg')} key {statement.kid}")
        _validity(statement, ctx, state)
        if statement.is_configuration:
            try:
                federation.verify_signature(statement, statement.jwks)
            except FederationError as exc:
                raise _Stop(
                    Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "self-signature", exc.message
                ) from None
            state.ok("self-signature", f"signed by its own key {statement.kid}")
        chain = _chain(statement, ctx, state)
        _trust_marks(chain, ctx, state)
        _standing(chain, ctx, state)
    except _Stop as stop:
        failed: _Stop | None = stop
    else:
        failed = None
    builder = ReportBuilder(kind, ctx.validation_time, subject, order=ORDER)
    builder.chain = state.chain
    for check in state.checks:
        builder.add(check)
    if failed is not None:
        builder.failed(failed.check, failed.indication, failed.sub, failed.message)
        # Every check is reported (verifier.report): those the failure leaves without ground are "not run".
        follows = ORDER[ORDER.index(failed.check) + 1 :] if failed.check in ORDER else ()
        always = [name for name in follows if name in ("validity", "trust-chain")]
        if kind == KIND_CONFIGURATION and "self-signature" in follows:
            always.insert(0, "self-signature")
        builder.not_run(always, f"{failed.check} failed")
    builder.warnings = list(state.warnings)
    builder.details = dict(state.details)
    return builder.build(warnings=ctx.warnings)


def _validity(statement: federation.EntityStatement, ctx: VerificationContext, state: _State) -> None:
    now = int(ctx.validation_time.timestamp())
    if statement.iat > now + federation.CLOCK_SKEW:
        raise _Stop(
            Indication.TOTAL_FAILED,
            SubIndication.NOT_YET_VALID,
            "validity",
            f"issued at {_time(statement.iat).isoformat()}, after the validation time",
        )
    if statement.exp <= now - federation.CLOCK_SKEW:
        raise _Stop(
            Indication.TOTAL_FAILED,
            SubIndication.EXPIRED,
            "validity",
            f"expired at {_time(statement.exp).isoformat()}, before the validation time",
        )
    state.ok("validity", f"{_time(statement.iat).isoformat()} to {_time(statement.exp).isoformat()}")


def _not_vouched(
    statement: federation.EntityStatement, ctx: VerificationContext, sub: SubIndication, message: str
) -> _Stop:
    """What the bundle cannot confirm: INDETERMINATE if the input is newer than the bundle, else TOTAL_FAILED."""
    created = ctx.bundle_created_at
    known = ctx.state.known_current_at if ctx.state is not None else None
    if created is not None and known is not None:  # later: when a service last knew its material current (StateInfo)
        created = max(created, known)
    if created is not None and statement.iat > int(created.timestamp()):
        return _Stop(
            Indication.INDETERMINATE,
            SubIndication.TRY_LATER,
            "trust-chain",
            f"{message}; the statement was issued at {_time(statement.iat).isoformat()}, after the bundle was made "
            f"({created.isoformat()}): {NEWER_BUNDLE}",
        )
    made = f" (made {created.isoformat()}, after the statement was issued)" if created is not None else ""
    return _Stop(Indication.TOTAL_FAILED, sub, "trust-chain", f"{message}{made}")


def _chain(statement: federation.EntityStatement, ctx: VerificationContext, state: _State) -> federation.TrustChain:
    if ctx.federation is None:
        why = "the bundle carries no identity federation" if ctx.has_trust_list else "no bundle"
        raise _Stop(
            Indication.INDETERMINATE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            "trust-chain",
            f"{why}: the federation's trust anchor and its statements come from the bundle",
        )
    try:
        held = ctx.federation_statements
    except FederationError as exc:
        raise _Stop(
            Indication.INDETERMINATE,
            SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
            "trust-chain",
            f"the bundle's federation section is unusable: {exc.message}",
        ) from None
    assert held is not None  # ctx.federation is not None
    section, bundle_statements = held
    # The input stands in for the bundle's copy of the same statement: it is the input that is verified.
    statements = federation.StatementSet(dict(bundle_statements.configurations), dict(bundle_statements.subordinates))
    statements.add(statement)
    try:
        path = statements.chain(statement.sub, section.anchor)
    except FederationError:
        path = []
    if statement.token not in (s.token for s in path):
        raise _not_vouched(
            statement,
            ctx,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            f"{statement.sub} is not a member of the federation of {section.anchor} as the bundle describes it"
            + ("" if statement.is_configuration else f" (no chain through {statement.iss})"),
        )
    state.chain = tuple(_link(s, statement, section.anchor) for s in path)
    if statement.is_configuration and len(path) > 1:
        # The key that signed the input must be one its superior certifies for it in the bundle.
        try:
            federation.key_for(path[1].jwks, statement.kid, str(statement.header.get("alg")))
        except FederationError:
            raise _not_vouched(
                statement,
                ctx,
                SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                f"{statement.sub} signs with key {statement.kid}, which {path[1].iss} does not certify for it in the "
                "bundle",
            ) from None
    now = int(ctx.validation_time.timestamp())
    try:
        chain = federation.validate_chain(path, section.anchor_jwks, now=now, anchor=section.anchor)
    except FederationError as exc:
        if exc.code is Code.TRUST_CHAIN_EXPIRED:
            raise _Stop(
                Indication.INDETERMINATE,
                SubIndication.TRY_LATER,
                "trust-chain",
                f"{exc.message}: a bundle current at the validation time is needed ({NEWER_BUNDLE})",
            ) from None
        sub = (
            SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE
            if exc.code is Code.TRUST_CHAIN_INVALID
            else SubIndication.CHAIN_CONSTRAINTS_FAILURE
        )
        raise _Stop(Indication.TOTAL_FAILED, sub, "trust-chain", exc.message) from None
    state.ok(
        "trust-chain",
        f"{len(path)} statement{'s' if len(path) > 1 else ''} to the trust anchor {section.anchor}, whose keys the "
        "bundle carries",
    )
    state.details.append(("anchor", section.anchor))
    state.details.append(("entity types", sorted(chain.metadata)))
    state.details.append(("chain expires", _time(chain.expires_at).isoformat()))
    return chain


def _link(statement: federation.EntityStatement, input_statement: federation.EntityStatement, anchor: str) -> ChainLink:
    if statement.token == input_statement.token:
        source = "input"
    elif statement.is_configuration and statement.sub == anchor:
        source = "anchor"
    else:
        source = "bundle"
    subject = statement.sub if statement.is_configuration else f"{statement.sub} (by {statement.iss})"
    return ChainLink(
        subject=subject,
        fingerprint=hashlib.sha256(statement.token.encode("ascii")).hexdigest(),
        not_before=_time(statement.iat),
        not_after=_time(statement.exp),
        source=source,
    )


def _trust_marks(chain: federation.TrustChain, ctx: VerificationContext, state: _State) -> None:
    claimed = [m for m in chain.statements[0].claims.get("trust_marks") or () if isinstance(m, Mapping)]
    if not chain.statements[0].is_configuration or not claimed:
        return
    held = ctx.federation_statements
    assert held is not None  # a chain was built from it
    section = held[0]
    now = int(ctx.validation_time.timestamp())
    accepted = federation.chain_trust_marks(
        chain, issuer_jwks={section.anchor: section.anchor_jwks}, now=now, revoked=section.revoked_trust_marks
    )
    types = [m.trust_mark_type for m in accepted]
    for entry in claimed:
        if entry.get("trust_mark") not in {m.token for m in accepted}:
            state.warnings.append(f"trust mark {entry.get('trust_mark_type', '?')} not accepted (ignored)")
    state.details.append(("trust marks", types))
    result = Result.PASSED if len(accepted) == len(claimed) else Result.WARNING
    state.checks.append(Check("trust-marks", result, f"{len(accepted)} of {len(claimed)} verify: {', '.join(types)}"))


def _standing(chain: federation.TrustChain, ctx: VerificationContext, state: _State) -> None:
    if "openid_provider" not in chain.metadata:
        return
    if ctx.trust_list is None:
        state.checks.append(Check("trust-list", Result.SKIPPED, "no trust list: the OP's region not checked"))
        return
    certificate = federation.entity_certificate(chain)
    if certificate is None:
        raise _Stop(
            Indication.TOTAL_FAILED,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            "trust-list",
            f"{chain.subject}'s federation key is not certified (no x5c): its region's standing cannot be checked",
        )
    standing = ctx.trust_list.standing(certificate, ctx.validation_time, service_type="IDENTITY_PROVIDER")
    if not standing.usable:
        raise _Stop(
            Indication.TOTAL_FAILED,
            SubIndication.CHAIN_CONSTRAINTS_FAILURE,
            "trust-list",
            f"{chain.subject} is not accepted: {standing.reason}",
        )
    state.ok("trust-list", f"identity provider {standing.reason}")
