"""Offline verification of a signed directory entry (issue 21 item 1, :mod:`trust.formats.directory_entry`): a licence
a region issued with its own legacy system, listed in the national directory.

Checks, in order: **parse** (compact JWS, ``typ`` ``huren-directory-entry+jwt``, the claims' shape); **issuer key** —
the ``LICENSE_ISSUER`` certificate of the trust list whose key the ``kid`` names (no ``x5c``, ``jwk`` or ``jku``: an
entry's key comes from the trust list only), valid at the entry's ``iat``; **signature**; **issuer authorised** —
that service stood in the trust list at ``iat``, its scope lists the licence type, and ``iss`` and the issuer code
are that service's (the same rules as a licence token, :mod:`verifier.license`); **claims** — the GB/T 36904
identifier is valid and agrees with the type and issuer code. The report's details name the issuer and its region.
"""

from __future__ import annotations

from typing import Any

from trust.crypto.errors import TrustError
from trust.formats import directory_entry, identifiers, jose
from verifier.context import VerificationContext
from verifier.license import ALGORITHMS, _authorised, _Fail, _issuer_key, _State
from verifier.report import Check, Indication, Report, Result, SubIndication

KIND = "directory-entry"


def verify_entry(data: bytes | str, ctx: VerificationContext) -> Report:
    """The verifier's report on a signed directory entry (TOTAL_PASSED, or why not)."""
    text = data.decode("ascii", errors="replace") if isinstance(data, bytes) else data
    text = text.strip()
    state = _State()
    subject = ""
    try:
        try:
            header, body = directory_entry.parse_unverified(text)
            entry = directory_entry.read(body)
        except TrustError as exc:
            raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "parse", exc.message) from None
        subject = entry.identifier
        state.ok("parse", "compact JWS, a directory entry")
        if "x5c" in header:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "header",
                "a directory entry names its key by kid only: the key comes from the trust list",
            )
        key, issuer_entry = _issuer_key(header, body, ctx, state)
        try:
            jose.verify_compact(text, lambda _h: key, algorithms=ALGORITHMS)
        except TrustError as exc:
            raise _Fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "signature", exc.message) from None
        state.ok("signature", f"{header.get('alg')} signature verifies with the issuer key {header.get('kid', '')}")
        if issuer_entry is None and ctx.trust_list is not None:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.CHAIN_CONSTRAINTS_FAILURE,
                "issuer-authorised",
                "the signing key is not a licence issuer of the trust list",
            )
        _authorised(body, issuer_entry, ctx, state)
        try:
            parsed = identifiers.parse(entry.identifier)
        except TrustError as exc:
            raise _Fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "claims", exc.message) from None
        if parsed.type_code != entry.type_code or parsed.issuer_code != entry.issuer_code:
            raise _Fail(
                Indication.TOTAL_FAILED,
                SubIndication.FORMAT_FAILURE,
                "claims",
                "the identifier disagrees with the entry's type or issuer code",
            )
        state.ok("claims", f"identifier {entry.identifier} valid and agrees with the type and issuer")
        scope: Any = issuer_entry[1].scope if issuer_entry is not None else {}
        state.details.extend(
            [
                ("issuer_id", entry.issuer_id),
                ("issuer", (scope or {}).get("name", "")),
                ("type", entry.type_code),
                ("status", entry.status),
                ("location", entry.location),
            ]
        )
    except _Fail as failure:
        state.checks.append(Check(failure.check, Result.FAILED, failure.message))
        return Report(
            KIND,
            failure.indication,
            failure.sub,
            ctx.validation_time,
            subject,
            (),
            tuple(state.checks),
            (*ctx.warnings, *state.warnings),
            (failure.message,),
            tuple(state.details),
        )
    return Report(
        KIND,
        Indication.TOTAL_PASSED,
        None,
        ctx.validation_time,
        subject,
        (),
        tuple(state.checks),
        (*ctx.warnings, *state.warnings),
        (),
        tuple(state.details),
    )
