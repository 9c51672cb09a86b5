"""Proof of publication in the issuance transparency log, checked offline (issue 19; docs/TRANSPARENCY.md).

Given a credential (certificate, seal, licence-issuer certificate: its bytes), an inclusion proof (the JSON
``trust log prove`` prints) and the verification context of a pinned bundle, :func:`check` decides, in order:

1. the bundle carries the log's checkpoint section (origin, hash, latest checkpoint, witness keys) — else the check is
   not possible (``not-checked``);
2. the proof parses (bounded, strict) and its own arithmetic holds: the entry hashes to the leaf hash and the path
   leads to ``root_hash`` (RFC 9162 §2.1.3.2);
3. the proof's checkpoint is signed by the national roots the pinned trust list names (the SM2/RSA signed-note
   superset) — under offline roots, by a delegated trust-list signer a pinned root certified, valid at the
   checkpoint's time (the bundle's ``delegates``; :func:`log_verifiers`) — cosigned by at least ``witnesses`` of the
   bundle's witnesses, and states the proof's tree size and root (a proof to another tree than its checkpoint is
   *stale*: ``E1806``);
4. it does not contradict the bundle's checkpoint: the same size with another root is a fork (``E1802``);
5. the logged entry names the credential: its ``sha256`` is the SHA-256 of the credential's DER.

The outcome is a :class:`Transparency` result, never an exception for a bad proof. Imports only the formats.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal

from trust.crypto import pem
from trust.crypto.errors import Code, TrustError
from trust.formats import strict_json, tlog, trustlist
from trust.formats import x509 as cx

if TYPE_CHECKING:
    from verifier.report import Report

MAX_PROOF_BYTES: Final = 256 * 1024
Status = Literal["logged", "not-logged", "failed", "not-checked"]


@dataclass(frozen=True)
class Transparency:
    status: Status
    reason: str
    code: str | None = None  # the E18xx label when not logged or failed
    leaf_index: int | None = None
    tree_size: int | None = None
    origin: str | None = None
    cosigned_by: tuple[str, ...] = ()
    entry: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "code": self.code,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "origin": self.origin,
            "cosigned_by": list(self.cosigned_by),
            "entry": dict(self.entry) if self.entry is not None else None,
        }


def credential_digest(data: bytes) -> str:
    """SHA-256 of the credential's DER (the DER inside a PEM, else the bytes as given)."""
    _label, der = pem.read(data, "credential")
    return hashlib.sha256(der).hexdigest()


def log_verifiers(
    origin: str,
    root_certificates: Sequence[bytes],
    delegates: Sequence[bytes] = (),
    at: datetime | None = None,
) -> list[tlog.NoteVerifier]:
    """The keys a checkpoint of ``origin`` may be signed with: the pinned national roots', and under offline roots
    (issue 20) those of their delegated trust-list signers that a pinned root certified — by the rules of
    :func:`trust.formats.trustlist.check_delegate` (issued and signed by the root, not a CA, the trust-list-signing
    EKU exactly, valid at ``at``, the checkpoint's own ``huren-time``). A delegate failing any rule is left out: a
    checkpoint only it signed then carries no trusted signature (``E1803``)."""
    out = []
    roots = [cx.load_certificate(der) for der in root_certificates]
    for root in roots:
        key = cx.public_key(root)
        out.append(tlog.national_verifier(origin, key, key.default_algorithm()))
    for der in delegates:
        if at is None:
            continue  # a delegate's validity is judged at the checkpoint's time: none stated, none trusted
        try:
            delegate = cx.load_certificate(der)
        except TrustError:
            continue
        for root in roots:
            try:
                trustlist.check_delegate(delegate, root, at, what="checkpoint")
            except TrustError:
                continue
            key = cx.public_key(delegate)
            out.append(tlog.national_verifier(origin, key, key.default_algorithm()))
            break
    return out


def checkpoint_time(note: str) -> datetime | None:
    """The time a checkpoint states it was signed (its ``huren-time`` extension line), or None."""
    stated = tlog.parse_checkpoint(tlog.parse_note(note).text).extension("huren-time")
    if stated is None:
        return None
    try:
        return datetime.strptime(stated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise tlog.LogError(f"the checkpoint's time {stated!r} is malformed", code=Code.LOG_MALFORMED) from None


def _delegates(section: Mapping[str, Any]) -> list[bytes]:
    listed = section.get("delegates") or []
    if not isinstance(listed, list) or not all(isinstance(d, str) for d in listed):
        raise tlog.LogError("the bundle's checkpoint delegates are malformed", code=Code.LOG_MALFORMED)
    try:
        return [base64.b64decode(d, validate=True) for d in listed]
    except ValueError:
        raise tlog.LogError("a checkpoint delegate is not base64", code=Code.LOG_MALFORMED) from None


def _failed(exc: TrustError) -> Transparency:
    status: Status = "not-logged" if exc.code is Code.LOG_NOT_PROVEN else "failed"
    return Transparency(status, exc.message, exc.code.label)


def check(
    credential: bytes | None,
    proof: bytes | None,
    checkpoints: Sequence[Mapping[str, Any]],
    root_certificates: Sequence[bytes],
    *,
    witnesses: int = 0,
    digest: str | None = None,
) -> Transparency:
    """Steps 1-5 of the module docstring; ``proof`` None is an unlogged credential (``not-logged``, ``E1805``).
    ``digest``: the credential's SHA-256 (hex) when its bytes are not at hand (a PDF signer's certificate)."""
    if not checkpoints:
        return Transparency("not-checked", "the bundle carries no transparency log checkpoint")
    section = checkpoints[0]
    if proof is None:
        return Transparency("not-logged", "no inclusion proof accompanies the credential", Code.LOG_NOT_PROVEN.label)
    try:
        expected = digest if digest is not None else credential_digest(credential) if credential is not None else None
        return _check(expected, proof, section, root_certificates, witnesses)
    except TrustError as exc:
        return _failed(exc)


def _check(
    expected: str | None,
    proof: bytes,
    section: Mapping[str, Any],
    roots: Sequence[bytes],
    witnesses: int,
) -> Transparency:
    origin, hash_name, bundle_note = section.get("origin"), section.get("hash"), section.get("note")
    if not isinstance(origin, str) or hash_name not in tlog.HASHES or not isinstance(bundle_note, str):
        raise tlog.LogError("the bundle's checkpoint section is malformed", code=Code.LOG_MALFORMED)
    witness_keys = [tlog.parse_vkey(str(w.get("vkey"))) for w in section.get("witnesses") or [] if isinstance(w, dict)]
    if len(proof) > MAX_PROOF_BYTES:
        raise tlog.LogError("the inclusion proof is too large", code=Code.LOG_MALFORMED)
    document = tlog.InclusionDocument.from_json(strict_json.loads(proof, "inclusion proof"))
    if document.hash_name != hash_name:
        raise tlog.LogError(f"the proof uses {document.hash_name}, the log {hash_name}", code=Code.LOG_PROOF_INVALID)
    # 2. the proof's arithmetic
    document.verify()
    # 3. its checkpoint: signed by the national roots (or their certified delegates), cosigned, stating this tree
    delegates = _delegates(section)
    keys = log_verifiers(origin, roots, delegates, checkpoint_time(document.checkpoint))
    verified = tlog.verify_checkpoint(document.checkpoint, keys, witness_keys, quorum=witnesses)
    checkpoint = verified.checkpoint
    if checkpoint.origin != origin:
        raise tlog.LogError(f"the proof's checkpoint is of log {checkpoint.origin!r}", code=Code.LOG_PROOF_INVALID)
    if checkpoint.size != document.tree_size or checkpoint.root != document.root_hash:
        raise tlog.LogError(
            f"the proof is for a tree of {document.tree_size} leaves, its checkpoint states {checkpoint.size} "
            "with another root (a stale or forged proof)",
            code=Code.LOG_STALE,
            evidence={"proof_root": document.root_hash.hex(), "checkpoint_root": checkpoint.root.hex()},
        )
    # 4. no contradiction with the bundle's checkpoint
    bundle_keys = log_verifiers(origin, roots, delegates, checkpoint_time(bundle_note))
    bundle_checkpoint = tlog.verify_checkpoint(bundle_note, bundle_keys).checkpoint
    if bundle_checkpoint.size == checkpoint.size and bundle_checkpoint.root != checkpoint.root:
        raise tlog.LogError(
            f"two checkpoints of {checkpoint.size} leaves with different roots (a fork of the log)",
            code=Code.LOG_INCONSISTENT,
            evidence={"bundle": bundle_note, "proof": document.checkpoint},
        )
    # 5. the entry names this credential
    entry: Mapping[str, Any] | None = None
    if document.entry is not None:
        parsed = json.loads(document.entry)
        entry = parsed if isinstance(parsed, dict) else None
    if expected is not None and (entry is None or entry.get("sha256") != expected):
        raise tlog.LogError(
            "the inclusion proof is for another credential (its entry names another SHA-256)",
            code=Code.LOG_PROOF_INVALID,
        )
    return Transparency(
        "logged",
        f"leaf {document.leaf_index} of {document.tree_size} in {origin}",
        None,
        document.leaf_index,
        document.tree_size,
        origin,
        tuple(sorted(verified.cosigned_by)),
        entry,
    )


POLICIES: Final = ("off", "indeterminate", "required")
_RANK: Final = {name: rank for rank, name in enumerate(POLICIES)}


def region_policy(trust_list: Any, chain_fingerprints: Sequence[str]) -> str:
    """The strictest ``scope.transparency`` setting (``off``, ``indeterminate``, ``required``) of the trust-list
    issuers whose CA certificates (current or, after a re-key, retired) are on the credential's chain (a region's
    per-region setting), found through the list's fingerprint index."""
    found = "off"
    if trust_list is None:
        return found
    for fingerprint in dict.fromkeys(chain_fingerprints):
        for issuer, _service in trust_list.holders(fingerprint):  # an index: cost independent of the list's size
            setting = issuer.scope.get("transparency") if isinstance(issuer.scope, Mapping) else None
            if isinstance(setting, str) and setting in _RANK and _RANK[setting] > _RANK[found]:
                found = setting
    return found


def enforce(
    report: Report,
    credential: bytes,
    ctx: Any,
    proof: bytes | None = None,
    *,
    require: bool = False,
    carried: Sequence[bytes] = (),
) -> Report:
    """The transparency policy on ``report`` (the one hook ``trust verify`` and ``POST /verify`` share, through
    :func:`verifier.api.verify`): the strictest of ``require`` (``--require-transparency``: at least
    ``indeterminate``) and the ``scope.transparency`` settings of the trust-list issuers on the report's chain; a
    ``proof`` given is always checked. With no setting, no flag and no proof the report is returned unchanged.

    A report whose children carry the chains (a sealed PDF: one child per signature) is judged per signature: each
    signer certificate's proof is the one (of ``proof`` and the PDF DSS's ``carried`` proofs) whose entry names that
    certificate; each child gets its result and the bottom line takes them all (:func:`apply`)."""
    roots = [root.certificate for root in ctx.trust_list.roots] if ctx.trust_list is not None else []
    signed = [child for child in report.children if child.chain] if not report.chain else []
    if not signed:
        policy = _policy(ctx, report, require)
        if policy == "off" and proof is None:
            return report
        result = check(credential, proof, ctx.checkpoints, roots)
        return apply(report, result, policy, proof_given=proof is not None)
    pool = [p for p in (proof, *carried) if p is not None]
    by_digest = {_entry_digest(p): p for p in pool}
    children = list(report.children)
    for index, child in enumerate(children):
        if not child.chain:
            continue
        policy = _policy(ctx, child, require)
        digest = child.chain[0].fingerprint
        found = by_digest.get(digest)
        if policy == "off" and found is None:
            continue
        result = check(None, found, ctx.checkpoints, roots, digest=digest)
        children[index] = apply(child, result, policy, proof_given=found is not None)
        named = dataclasses.replace(result, reason=f"{child.subject or child.kind}: {result.reason}")
        report = apply(report, named, policy, proof_given=found is not None)
    if proof is not None and _entry_digest(proof) not in {c.chain[0].fingerprint for c in signed}:
        stray = Transparency(
            "failed", "the inclusion proof is for none of the signer certificates", Code.LOG_PROOF_INVALID.label
        )
        report = apply(report, stray, "off", proof_given=True)
    return dataclasses.replace(report, children=tuple(children))


def _policy(ctx: Any, report: Report, require: bool) -> str:
    policy = region_policy(ctx.trust_list, [link.fingerprint for link in report.chain])
    return "indeterminate" if require and policy == "off" else policy


def _entry_digest(proof: bytes) -> str | None:
    """The ``sha256`` the proof's logged entry names (None when the proof cannot be read: :func:`check` says why)."""
    try:
        document = tlog.InclusionDocument.from_json(strict_json.loads(proof, "inclusion proof"))
        entry = json.loads(document.entry) if document.entry is not None else None
    except (TrustError, ValueError):
        return None
    value = entry.get("sha256") if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def apply(report: Report, result: Transparency, policy: str, *, proof_given: bool) -> Report:
    """``report`` (a :class:`verifier.report.Report`) with the transparency check added and its indication changed
    by the policy: a presented proof that fails (forged, stale, fork, another credential) is TOTAL_FAILED under any
    policy; an unlogged credential (no proof, or a bundle without a checkpoint) is INDETERMINATE (``NO_POE``) under
    ``indeterminate`` and TOTAL_FAILED (``SIG_CONSTRAINTS_FAILURE``) under ``required``; ``off`` only reports."""
    import dataclasses

    from verifier.report import Check, Finding, Indication, Result, SubIndication, bottom_line

    if policy == "off" and not proof_given:
        return report
    detail = result.reason + (f" ({result.code})" if result.code else "")
    if result.status == "logged":
        return dataclasses.replace(report, checks=(*report.checks, Check("transparency", Result.PASSED, detail)))
    failing = result.status == "failed" or policy == "required"
    if policy == "off" and result.status != "failed":
        check = Check("transparency", Result.WARNING, detail)
        return dataclasses.replace(report, checks=(*report.checks, check), warnings=(*report.warnings, detail))
    # The one verdict rule (verifier.report.bottom_line) over what the report had decided and this check: a definite
    # failure outweighs an undecided one, and the report's own reason stays first among equals.
    if failing:
        indication, sub = Indication.TOTAL_FAILED, SubIndication.SIG_CONSTRAINTS_FAILURE
    else:
        indication, sub = Indication.INDETERMINATE, SubIndication.NO_POE
    check = Finding("transparency", Result.FAILED, detail, indication, sub)
    prior = [] if report.passed else [Finding(report.kind, Result.FAILED, "", report.indication, report.sub_indication)]
    verdict = bottom_line([*prior, check])
    reason = f"transparency: {detail}"  # the deciding reason goes first (bottom_line's errors)
    return dataclasses.replace(
        report,
        indication=verdict.indication,
        sub_indication=verdict.sub_indication,
        checks=(*report.checks, check),
        errors=(reason, *report.errors) if verdict.errors[0] == reason else (*report.errors, reason),
    )
