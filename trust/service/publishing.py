"""Keeping ``<home>/public`` current: what the schedule and ``trust ca refresh`` write besides CRLs.

CA certificates, CRLs and the trust list are written when they change (:func:`trust.service.ca.publish_ca_files`,
:func:`trust.service.trust.publish`); Status List Tokens when a licence status changes
(:func:`trust.service.licenses.set_status`). :func:`refresh_published` republishes the trust list when it has less
than :data:`TRUST_LIST_REPUBLISH_WITHIN` of its 24 hours left — or when it is :data:`AUDIT_HEAD_REPUBLISH_AFTER`
old and the audit chain has grown past the head it publishes, so that the published audit head is never more than
about an hour (plus the schedule's period) behind — rewrites every Status List Token (a token is signed
again when its list changed or it is an hour old) and exports a fresh signed offline bundle, so that ``public/``
never serves an expired token, trust list or bundle while the schedule runs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Final

from trust.service import licenses, trust
from trust.service.instance import Instance

TRUST_LIST_REPUBLISH_WITHIN: Final = timedelta(hours=12)
AUDIT_HEAD_REPUBLISH_AFTER: Final = timedelta(hours=1)


def refresh_published(
    instance: Instance,
    *,
    republish_within: timedelta = TRUST_LIST_REPUBLISH_WITHIN,
    audit_after: timedelta | None = AUDIT_HEAD_REPUBLISH_AFTER,
) -> dict[str, list[Path]]:
    """Republish the trust list if it is due (or if it is ``audit_after`` old and the audit chain has grown since the
    head it publishes), then write every Status List Token and a new ``bundle.json`` to the published folder.
    Returns what was written (``trustlist`` is empty when the list was still fresh)."""
    written: dict[str, list[Path]] = {"trustlist": []}
    if trust.publish_if_due(instance, republish_within, audit_after=audit_after) is not None:
        written["trustlist"].append(instance.settings.published_dir / "trustlist.json")
    written["statuslists"] = licenses.publish_status_lists(instance)
    written["bundle"] = [trust.export_bundle(instance)]
    return written


__all__ = ["refresh_published"]
