"""Which parts of Huren are installed: the base (the offline verifier) or also ``huren[service]``.

``pip install huren`` installs the crypto and format layers, the verifier and ``trust verify`` (plus ``trust version``
and ``trust util``); every other command of ``trust`` runs the trust root (service, database, issuance) and needs the
``service`` extra. The check reads Huren's installed metadata (the ``Requires-Dist`` lines of that extra), so it
follows ``pyproject.toml`` without a second list here. It only names what is missing; it never installs anything.
"""

from __future__ import annotations

import re
from importlib import metadata
from typing import Final

from trust.crypto.errors import UnavailableError

DISTRIBUTION: Final = "huren"
SERVICE: Final = "service"
BASE_COMMANDS: Final = frozenset({"verify", "verify-server", "version", "util"})
"""Commands of the base install; the others need ``huren[service]``."""

_NAME: Final = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA: Final = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")


def missing(extra: str = SERVICE) -> list[str]:
    """The distributions ``huren[extra]`` requires that are not installed, in the order the metadata lists them.

    Empty when all are installed, and when Huren itself is not installed as a distribution (a source tree on
    ``sys.path``): then nothing is known and the commands run as they are. Requirements are matched by the ``extra``
    of their marker only (Huren's extras carry no platform markers)."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    absent: list[str] = []
    for requirement in requirements:
        spec, _, marker = requirement.partition(";")
        wanted = _EXTRA.search(marker)
        name = _NAME.match(spec)
        if wanted is None or wanted.group(1) != extra or name is None or name.group(1) == DISTRIBUTION:
            continue
        try:
            metadata.distribution(name.group(1))
        except metadata.PackageNotFoundError:
            absent.append(name.group(1))
    return absent


def require_service(command: str) -> None:
    """Raise :class:`UnavailableError` (exit 4) naming ``huren[service]`` when ``command`` cannot run here."""
    absent = missing(SERVICE)
    if absent:
        raise UnavailableError(
            f"this command (trust {command}) needs huren[service], which is not installed here: "
            "pip install 'huren[service]' (the base install is the offline verifier: trust verify)",
            evidence={"not installed": ", ".join(absent)},
        )
