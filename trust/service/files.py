"""Writing published files (CA certificates, CRLs, the trust list, the bundle) so that readers — a web server
serving ``<home>/public``, another worker — only ever see a whole old or a whole new file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a uniquely named temporary file next to ``path``, flush it to disk, then rename it over
    ``path``. Unique names let several workers publish the same file at once (the last rename wins)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # published files are public
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
