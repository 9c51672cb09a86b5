"""Reading a demo world (``trust demo``): its index of artefacts and its pinned root fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def demo_index(home: Path) -> list[dict[str, Any]]:
    return list(json.loads((home / "out" / "index.json").read_text())["artefacts"])


def demo_pins(home: Path) -> list[str]:
    """``[SM2 root fingerprint, RSA root fingerprint]``."""
    return [line.split()[1] for line in (home / "out" / "roots.txt").read_text().splitlines()]
