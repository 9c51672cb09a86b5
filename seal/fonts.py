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

**Subset tags.** reportlab names the subsets of every PDF it writes ``AAAAAA+``, ``AAAAAB+``… from zero, so the
licence face's bold subset and the seal picture's bold subset, once the picture is imported into the sealed PDF,
were two different fonts both called ``AAAAAA+NotoSansSC-Bold`` — ISO 32000-2 clause 9.9.2 wants different tags for
different subsets in one file, and viewers that cache fonts by name draw the wrong glyphs. :func:`tag_subsets`
renames each embedded subset with six uppercase letters derived from the SHA-256 of its font program (which holds
exactly its glyph set): different subsets get different tags, the same subset the same one, and the output stays
deterministic. Applied to every PDF Huren draws with reportlab and embeds elsewhere (seal pictures, licence faces).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import threading
from pathlib import Path
from typing import Any, Final

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


_SUBSET_NAME: Final = re.compile(r"^/[A-Z]{6}\+(.+)$")
_PROGRAMS: Final = ("/FontFile2", "/FontFile3", "/FontFile")


def subset_tag(program: bytes) -> str:
    """Six uppercase letters (ISO 32000-2 clause 9.9.2) from the SHA-256 of a subset's font program."""
    value = int.from_bytes(hashlib.sha256(program).digest()[:8], "big")
    letters = []
    for _ in range(6):
        value, rest = divmod(value, 26)
        letters.append(chr(ord("A") + rest))
    return "".join(letters)


def _descriptor(font: Any) -> Any:
    """The font descriptor of a simple font or of a Type 0 font's descendant (``None`` if there is none)."""
    if "/FontDescriptor" in font:
        return font["/FontDescriptor"]
    if "/DescendantFonts" in font and len(font["/DescendantFonts"]) == 1:
        descendant = font["/DescendantFonts"][0]
        return descendant.get_and_apply("/FontDescriptor", lambda value: value)
    return None


def retag_subsets(writer: Any) -> int:
    """Rename, in a pyHanko writer that holds a whole document, every subset font (``/BaseFont`` ``XXXXXX+Name``
    with an embedded program) to the tag :func:`subset_tag` of its program; returns how many were renamed."""
    from pyhanko.pdf_utils import generic

    renamed = 0
    for obj in list(writer.objects.values()):
        if not isinstance(obj, generic.DictionaryObject) or "/BaseFont" not in obj or "/Type" not in obj:
            continue
        if obj["/Type"] != "/Font":
            continue
        match = _SUBSET_NAME.match(str(obj["/BaseFont"]))
        descriptor = _descriptor(obj)
        if match is None or descriptor is None:
            continue
        program = next((descriptor[key] for key in _PROGRAMS if key in descriptor), None)
        if not isinstance(program, generic.StreamObject):
            continue
        name = generic.NameObject(f"/{subset_tag(program.data)}+{match[1]}")
        obj["/BaseFont"] = name
        descriptor["/FontName"] = name
        if "/DescendantFonts" in obj:
            obj["/DescendantFonts"][0]["/BaseFont"] = name
        renamed += 1
    return renamed


def tag_subsets(pdf: bytes) -> bytes:
    """``pdf`` rewritten with every font subset tagged by :func:`subset_tag` (see the module docstring)."""
    from pyhanko.pdf_utils import writer
    from pyhanko.pdf_utils.reader import PdfFileReader

    target = writer.copy_into_new_writer(PdfFileReader(io.BytesIO(pdf), strict=True))
    retag_subsets(target)
    out = io.BytesIO()
    target.write(out)
    return out.getvalue()


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
