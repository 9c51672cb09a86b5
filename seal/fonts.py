"""The CJK font of seal pictures and licence faces: Noto Sans SC (SIL Open Font License 1.1).

The project depends on the PyPI package ``justmytype-intl-cjk``, which ships Google Fonts' ``NotoSansSC[wght].ttf``
(a variable TrueType font with its ``OFL.txt``), so Chinese text renders on a fresh machine without system fonts.
PDF writers and Pillow need static outlines, so :func:`font_path` instantiates the weights Huren uses (Regular 400
and Bold 700) once with fontTools' ``varLib.instancer`` and caches them in a per-user folder, ``$TRUST_FONT_CACHE``
(default ``$XDG_CACHE_HOME/huren/fonts`` or ``~/.cache/huren/fonts``). Every PDF embeds a subset of the font.

The cache holds one copy per font version, not one per virtual environment: an instance is named after the font's
own version (its ``name`` table version string), its size and :data:`RECIPE`, never after where or when the
package was installed (every new ``.venv`` installs the same font with a new modification time). About 21 MB per
font version; older files may be deleted by hand (they are made again when needed).

``python -m seal.fonts`` prepares the cache (``./dev`` runs it during setup).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Final

from trust.crypto.errors import UnavailableError

WEIGHTS: Final = {"regular": 400, "bold": 700}
FAMILY: Final = "NotoSansSC"
LICENSE: Final = "SIL Open Font License 1.1 (Noto Sans SC, Google Fonts)"
RECIPE: Final = 1
"""Bumped when the way instances are made changes, so that old instances are not reused."""
_lock = threading.Lock()


def _source() -> Path:
    try:
        import justmytype_intl_cjk
    except ImportError:
        raise UnavailableError("the CJK font package justmytype-intl-cjk is not installed (pip install -e .)") from None
    path = Path(justmytype_intl_cjk.__file__).parent / "fonts" / "ofl" / "notosanssc" / "NotoSansSC[wght].ttf"
    if not path.exists():
        raise UnavailableError(f"Noto Sans SC not found at {path}")
    return path


def cache_dir() -> Path:
    explicit = os.environ.get("TRUST_FONT_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "huren" / "fonts"


@functools.cache
def _version_tag(source: Path, size: int) -> str:
    """``<version>-<fingerprint>`` of the variable font: its version string (``name`` ID 5, e.g. ``Version
    2.004-H2;hotconv …``) and size, the same in every installation of that font."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(source), lazy=True)
    try:
        version = font["name"].getDebugName(5) or f"{font['head'].fontRevision:.3f}"
    finally:
        font.close()
    number = re.search(r"[0-9]+(?:\.[0-9]+)*", version)
    fingerprint = hashlib.sha256(f"{version}|{size}|{RECIPE}".encode()).hexdigest()[:8]
    return f"{number.group(0) if number else 'unknown'}-{fingerprint}"


def instance_name(source: Path, weight: str) -> str:
    """The cache file name of the ``weight`` instance of ``source`` (independent of its path and timestamps)."""
    return f"{FAMILY}-{weight}-{_version_tag(source, source.stat().st_size)}.ttf"


def font_path(weight: str = "bold") -> Path:
    """A static TrueType instance of Noto Sans SC at ``weight`` (``regular`` or ``bold``), cached."""
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {sorted(WEIGHTS)}")
    source = _source()
    target = cache_dir() / instance_name(source, weight)
    if target.exists():
        return target
    with _lock:
        if target.exists():
            return target
        from fontTools.ttLib import TTFont
        from fontTools.varLib import instancer

        target.parent.mkdir(parents=True, exist_ok=True)
        font = TTFont(str(source))
        try:
            static = instancer.instantiateVariableFont(
                font, {"wght": WEIGHTS[weight]}, inplace=True, updateFontNames=True
            )
        except Exception:  # noqa: BLE001 - names are cosmetic; outlines are what matter
            font = TTFont(str(source))
            static = instancer.instantiateVariableFont(font, {"wght": WEIGHTS[weight]}, inplace=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        static.save(str(tmp))
        tmp.replace(target)
    return target


def prepare() -> list[Path]:
    return [font_path(weight) for weight in WEIGHTS]


def _main(argv: list[str]) -> int:
    """``python -m seal.fonts``: make the instances (one line each); ``--check``: exit 1 if one is missing."""
    import time

    if argv == ["--check"]:
        return 0 if all((cache_dir() / instance_name(_source(), weight)).exists() for weight in WEIGHTS) else 1
    for weight in WEIGHTS:
        cached = (cache_dir() / instance_name(_source(), weight)).exists()
        start = time.monotonic()
        path = font_path(weight)
        print(f"{path} ({'cached' if cached else f'made in {time.monotonic() - start:.0f} s'})")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_main(sys.argv[1:]))
