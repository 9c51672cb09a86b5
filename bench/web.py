#!/usr/bin/env python3
"""The verifier page's cost over the verifier itself, in the same run (issue 17).

    .venv/bin/python bench/web.py [--seconds S] [--rounds R] [--quick] [--clock wall|cpu]

* ``web-verify-<input>``: a form post to ``trust verify-server``'s WSGI app (``trust.web.server.App``, called in
  process: multipart parsing, verification, the seal pictures, the view of the report and the page rendered by
  Jinja2) against ``verifier.api.verify`` of the same input with the same context and ``Report.to_dict``: the
  page's overhead. The inputs are golden artefacts (tests/data/golden/), judged at their validation time.

Prints one JSON object per line on stdout (``{"bench", "ours", "baseline", "baseline_value", "ratio", "unit"}``;
``ratio`` < 1: the page costs more than the bare verification, by how much); progress on stderr. Figures in
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

GOLDEN = Path(__file__).resolve().parents[1] / "tests" / "data" / "golden"
INPUTS = {
    "token": "license/token-zj.jwt",
    "license-pdf": "license/license.pdf",
    "sealed-pdf": "pdf/sealed-SM2-B-LT.pdf",
}


def _post(app: Any, data: bytes, name: str) -> int:
    boundary = "bench-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/verify/result", "QUERY_STRING": "",
               "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body)}  # fmt: skip
    chunks = app(environ, lambda line, headers: status.append(line))
    assert status[0].startswith("200"), status
    return sum(len(c) for c in chunks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    timing_arguments(parser, seconds=2.0)
    args = parser.parse_args()
    seconds, rounds = timing(parser, args)
    import json
    from datetime import datetime

    from trust.web.server import App, BundleContext
    from verifier import api

    manifest = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))
    at = datetime.fromisoformat(manifest["validation_time"])
    bundle = BundleContext([GOLDEN / "trust" / "bundle.json"], [manifest["pins"]["SM2"]], at=at)
    app = App(bundle)
    ctx = dataclasses.replace(bundle.load(), validation_time=at)
    for label, name in INPUTS.items():
        data = (GOLDEN / name).read_bytes()
        log(f"web-verify-{label}: {name}")
        bench = Bench(
            f"web-verify-{label}",
            lambda data=data, name=name: _post(app, data, name),  # type: ignore[misc]
            "verifier.api.verify + Report.to_dict",
            lambda data=data: api.verify(data, ctx).to_dict(),  # type: ignore[misc]
            unit="verifications/s",
        )
        bench.run(rounds, seconds)
        bench.emit()


if __name__ == "__main__":
    main()
