"""The seal domain of the national service, in one place: the seals' lifecycle (:mod:`trust.service.seals.lifecycle`:
make, change state, read), sealing PDFs with them (:mod:`trust.service.seals.sealing`, PAdES) and GB/T 38540
signatures over document hashes (:mod:`trust.service.seals.signing`). Each operation is one transaction.

The lifecycle operations are the package's API (``seals.create``, ``seals.get``, …).
"""

from __future__ import annotations

from trust.service.seals.lifecycle import create, get, history, list_seals, set_status

__all__ = ["create", "get", "history", "list_seals", "set_status"]
