"""The citizen's licence page (``/citizen``, issue 17 item 2) as a relying service of the identity federation.

The page is a hosted relying service like the demo's (``/rp/<slug>``, :mod:`trust.service.identity.anchor`): its
entity identifier is ``<anchor>/rp/citizen`` (so the federation publishes its entity configuration and the anchor's
subordinate statement about it, and the OPs admit it from its trust chain), but its redirect URI is the page's own
``<anchor>/citizen/callback`` and its post-logout redirect ``<anchor>/citizen``. The registering region is the one
whose CA certifies its federation key; the page itself serves the citizens of every region (each logs in at their
own region's OP). It asks for the ``huren_citizen_id`` scope: the licences are listed by the holder's citizen ID
number, so the page needs it, and an OP releases it only to a service that asks for it.
"""

from __future__ import annotations

from typing import Final

from trust.service.identity import anchor
from trust.service.identity.models import FederationEntity
from trust.service.instance import Instance

SLUG: Final = "citizen"
NAME: Final = "证照持有人页面"
SCOPE: Final = "openid profile huren_citizen_id"


def entity_id(instance: Instance) -> str:
    return anchor.hosted_rp_id(instance, SLUG)


def redirect_uri(instance: Instance) -> str:
    return f"{anchor.anchor_id(instance)}/citizen/callback"


def after_logout(instance: Instance) -> str:
    return f"{anchor.anchor_id(instance)}/citizen"


def register(instance: Instance, region_code: str, name: str = NAME) -> FederationEntity:
    """Enrol the citizen page as a relying service of the federation (its key certified by ``region_code``'s CA)."""
    metadata = {
        anchor.KIND_RP: {
            "redirect_uris": [redirect_uri(instance)],
            "post_logout_redirect_uris": [after_logout(instance)],
        }
    }
    return anchor.register(
        instance, kind=anchor.KIND_RP, region_code=region_code, name=name, slug=SLUG, metadata=metadata
    )
