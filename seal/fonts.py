"""The CJK font of seal pictures and licence faces: Noto Sans SC (SIL Open Font License 1.1).

The project depends on the PyPI package ``justmytype-intl-cjk``, which ships Google Fonts' ``NotoSansSC[wght].ttf``
(a variable TrueType font with its ``OFL.txt``), so Chinese text renders on a fresh machine without system fonts.
PDF writers and Pillow need static outlines, so :func:`font_path` instantiates the weights Huren uses (Regular 400
and Bold 700) once with fontTools' ``varLib.instancer`` and caches them in ``$TRUST_FONT_CACHE`` (default
``$XDG_CACHE_HOME/huren/fonts`` or ``~/.cache/huren/fonts``). Every PDF embeds a subset of the font.

``python -m seal.fonts`` prepares the cache (``./dev`` runs it during setup).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Final

from trust.crypto.errors import UnavailableError

WEIGHTS: Final = {"regular": 400, "bold": 700}
FAMILY: Final = "NotoSansSC"
LICENSE: Final = "SIL Open Font License 1.1 (Noto Sans SC, Google Fonts)"
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


def font_path(weight: str = "bold") -> Path:
    """A static TrueType instance of Noto Sans SC at ``weight`` (``regular`` or ``bold``), cached."""
    if weight not in WEIGHTS:
        raise ValueError(f"weight must be one of {sorted(WEIGHTS)}")
    source = _source()
    tag = hashlib.sha256(f"{source.stat().st_size}:{source.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / f"{FAMILY}-{weight}-{tag}.ttf"
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


if __name__ == "__main__":
    for prepared in prepare():
        print(prepared)
