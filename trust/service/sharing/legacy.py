"""Licences of a region's own legacy systems in the national directory (issue 21 item 1).

A region registers a licence its legacy system issued as a **signed entry** (:mod:`trust.formats.directory_entry`):
a compact JWS signed with the key of a licence issuer the trust list lists (the issuer's Huren-certified key), naming
the licence's identifier, type, issuer, validity, status, where the region's system answers retrievals, and the
holder as a salted commitment. Beside the entry the region sends the holder code and the salt over its authenticated
channel. :func:`register` checks the entry with the offline verifier against the instance's own bundle
(:mod:`verifier.directory_entry`: the issuer's key from the trust list, the signature, the issuer authorised for the
type when it signed), refuses an entry of another region's issuer (``E1607``), checks the commitment, then indexes
the licence like an issued one — the holder as the directory's keyed hash — and keeps the signed entry (which names
nobody: its salt is forgotten) so a requester can check it again with its own bundle. Refusals: ``E1606`` (does not
verify: bad signature, unknown issuer, not authorised, commitment mismatch), ``E1607``, ``E1005`` conflict (a licence
Huren issued, or a newer entry already registered).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from trust import db
from trust.crypto.errors import Code, ConflictError, TrustError
from trust.formats import directory_entry
from trust.service import audit, verification
from trust.service.instance import Instance
from trust.service.sharing import directory
from trust.service.sharing.models import DirectoryEntry


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def check(instance: Instance, signed_entry: str) -> directory_entry.Entry:
    """The entry, verified against the instance's current bundle; raises ``E1606`` with the verifier's reason."""
    from verifier.directory_entry import verify_entry

    try:
        _header, body = directory_entry.parse_unverified(signed_entry)
        entry = directory_entry.read(body)
    except TrustError as exc:
        raise TrustError(f"not a signed directory entry: {exc.message}", code=Code.DIRECTORY_ENTRY_INVALID) from None
    ctx = verification.context_for(instance, at=None, purpose="auto", revocation="available")
    report = verify_entry(signed_entry, ctx)
    if report.indication.value != "TOTAL_PASSED":
        reason = "; ".join(report.errors) or report.indication.value
        raise TrustError(f"the signed entry does not verify: {reason}", code=Code.DIRECTORY_ENTRY_INVALID)
    return entry


def claimed_region(signed_entry: str) -> str | None:
    """The region of the issuer an entry names (unverified: for the policy, before :func:`register` checks it)."""
    try:
        _header, body = directory_entry.parse_unverified(signed_entry)
    except TrustError:
        return None
    issuer = body.get("iss")
    return directory.region_of(issuer) if isinstance(issuer, str) else None


def register(
    instance: Instance, signed_entry: str, *, holder_code: str, salt: str, region: str | None
) -> directory.Located:
    """Index a legacy licence from its signed entry; ``salt`` is the commitment's salt (base64url or base64),
    ``region`` the registering region (``None``: the national operator's own tooling)."""
    entry = check(instance, signed_entry)
    issuer_region = directory.region_of(entry.issuer_id)
    if region is not None and issuer_region != region:
        raise TrustError(
            f"the entry is signed by {entry.issuer_id}, an issuer of region {issuer_region}: region {region} "
            "registers its own issuers' licences only",
            code=Code.DIRECTORY_ENTRY_FOREIGN,
        )
    try:
        raw_salt = base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
    except ValueError:
        raise TrustError("the holder salt is not base64url", code=Code.DIRECTORY_ENTRY_INVALID) from None
    if len(raw_salt) < directory_entry.MIN_SALT or directory_entry.commitment(raw_salt, holder_code) != (
        entry.holder_commitment
    ):
        raise TrustError(
            "the holder code and salt do not match the entry's holder commitment", code=Code.DIRECTORY_ENTRY_INVALID
        )
    key = directory.directory_key(instance)
    holder = directory.holder_key(key, holder_code)
    with db.session_scope(instance.engine) as session:
        row = session.get(DirectoryEntry, entry.identifier)
        if row is not None and row.source != "legacy":
            raise ConflictError(f"{entry.identifier} is a licence Huren issued: the directory indexes it already")
        if row is not None:
            if row.holder_key != holder:
                raise ConflictError(f"{entry.identifier} is registered for another holder")
            previous = directory_entry.read(directory_entry.parse_unverified(row.signed_entry or "")[1])
            if previous.signed_at >= entry.signed_at:
                raise ConflictError(f"an entry for {entry.identifier} signed at or after this one is registered")
        else:
            row = DirectoryEntry(
                identifier=entry.identifier,
                type_code=entry.type_code,
                issuer_id=entry.issuer_id,
                region=issuer_region,
                holder_key=holder,
                valid_from=entry.valid_from,
                location=entry.location,
            )
        row.valid_from = entry.valid_from
        row.valid_until = entry.valid_until
        row.status = entry.status
        row.source = "legacy"
        row.location = entry.location
        row.signed_entry = signed_entry
        row.updated_at = datetime.now(UTC)
        session.add(row)
        session.flush()
        located = directory.located(row)
    audit.record(
        instance.engine,
        action="sharing.register",
        subject=entry.identifier,
        result="registered",
        details={"issuer": entry.issuer_id, "type": entry.type_code, "status": entry.status, "region": issuer_region},
    )
    return located
