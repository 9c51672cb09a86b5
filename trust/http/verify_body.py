"""The bodies ``POST /verify`` accepts (issue 13 item 5), read into one :class:`VerifyInput`.

* ``application/json`` — :class:`VerifyRequest`: the input base64 in ``input``, with anchors, intermediates, CRLs,
  the signed data of a detached GB/T 38540 signature and the options (the form every version accepted).
* the file itself — ``application/pdf``, ``application/ofd``, ``application/jwt``, ``application/sd-jwt`` (or
  ``application/dc+sd-jwt``),
  ``image/png``, ``image/jpeg`` (a photo or scan of a licence QR code), ``application/pkix-cert``,
  ``application/x-pem-file``, ``text/plain`` (an ``HR1:`` payload, a token) or ``application/octet-stream``; the
  options in the query string (:class:`VerifyOptions`). What the input is, the verifier decides from its content,
  never from the media type (as ``trust verify`` ignores file names).
* ``multipart/form-data`` — a file part ``input`` (and, for a detached GB/T 38540 signature, ``data``); the options
  as text parts or in the query string, not both.

Each media type has its size limit (:data:`LIMITS`, within the app's ``max_request_bytes``): a larger body is refused
with 413 before it is read, by its Content-Length, or as soon as it grows past the limit. Another media type is a
415 problem naming those accepted; an empty input, a second ``input`` part, an unknown form field, an option given
twice or badly formed are 400/422 problems with stable codes (``trust.crypto.errors``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationError

from trust.crypto.errors import Code, EncodingError, InputError, TrustError
from trust.formats import strict_json
from trust.formats.jose import MAX_TOKEN_BYTES
from trust.formats.x509 import MAX_CERT_BYTES
from verifier.api import MAX_INPUT_BYTES
from verifier.image import MAX_IMAGE_BYTES
from verifier.limits import MAX_DEPTH

PURPOSE_HELP: Final = (
    "auto (each input's own: seal for PDF signatures), any (PDF signatures: the generic RFC 5280 policy), generic, "
    "ca, seal, document-signing, seal-maker, identity, license-issuer, timestamping, ocsp, tls-server, tls-client"
)
PDF_LIMIT: Final = 64 * 1024 * 1024  # verifier.pdf.verify.MAX_PDF_BYTES (not imported: that loads pyHanko)
LIMITS: Final[dict[str, int]] = {
    "application/pdf": PDF_LIMIT,
    "application/jwt": MAX_TOKEN_BYTES,
    "application/sd-jwt": MAX_TOKEN_BYTES,
    "application/dc+sd-jwt": MAX_TOKEN_BYTES,
    "image/png": MAX_IMAGE_BYTES,
    "image/jpeg": MAX_IMAGE_BYTES,
    "application/pkix-cert": MAX_CERT_BYTES,
    "application/x-pem-file": MAX_CERT_BYTES,
    "text/plain": MAX_TOKEN_BYTES,
    "application/ofd": PDF_LIMIT,  # an OFD package (GB/T 33190), bounded like a PDF
    "application/octet-stream": MAX_INPUT_BYTES,
}
"""The media types of a bare file body and the largest body of each."""
MULTIPART: Final = "multipart/form-data"
JSON: Final = "application/json"
MAX_FORM_FIELDS: Final = 16


class VerifyOptions(BaseModel):
    """How to verify (the same options as ``trust verify``)."""

    at: str | None = Field(
        default=None,
        max_length=64,
        description="Validation time with its time zone, e.g. 2026-03-01T09:00:00+08:00 or 2026-03-01T01:00:00Z "
        "(default now); a time without one is refused (400), not read as UTC: verifier.context.validation_time",
    )
    purpose: str = Field(default="auto", max_length=32, description=PURPOSE_HELP)
    strict: StrictBool = Field(
        default=False, description="Check the RFC 5280 CA profile rules on every certificate of a path"
    )
    max_depth: StrictInt | None = Field(
        default=None,
        ge=0,
        le=MAX_DEPTH,
        description=f"At most this many intermediate CA certificates (0-{MAX_DEPTH}; self-issued ones not counted)",
    )
    revocation: Literal["available", "required"] = Field(
        default="available", description="Use the revocation data at hand, or demand it for every certificate"
    )
    kb_nonce: str | None = Field(default=None, max_length=256, description="Demand an SD-JWT key-binding proof")
    kb_audience: str | None = Field(default=None, max_length=256, description="Audience the proof must name")
    require_transparency: StrictBool = Field(
        default=False,
        description="An unlogged credential (no inclusion proof in the transparency log) is INDETERMINATE; a region's "
        "trust-list setting may make it FAILED (issue 19, docs/TRANSPARENCY.md)",
    )

    model_config = {"extra": "forbid"}


_RAW = "Raw and multipart bodies: "


class VerifyQuery(BaseModel):
    """The options in the query string (raw and multipart bodies), as query parameters are read: ``true``/``false``
    and numbers from text. :func:`query_options` reads them; the OpenAPI document lists them
    (:func:`openapi_parameters`)."""

    at: str | None = Field(
        default=None,
        description=_RAW + "validation time with its time zone, e.g. 2026-03-01T09:00:00+08:00 (default now)",
    )
    purpose: str | None = Field(default=None, max_length=32, description=_RAW + PURPOSE_HELP)
    strict: bool | None = Field(default=None, description=_RAW + "the RFC 5280 CA profile")
    max_depth: int | None = Field(
        default=None, ge=0, le=MAX_DEPTH, description=_RAW + "at most this many intermediate CA certificates"
    )
    revocation: Literal["available", "required"] | None = Field(
        default=None, description=_RAW + "use the revocation data at hand, or demand it"
    )
    kb_nonce: str | None = Field(default=None, max_length=256, description=_RAW + "demand an SD-JWT key-binding proof")
    kb_audience: str | None = Field(default=None, max_length=256, description=_RAW + "audience the proof must name")
    require_transparency: bool | None = Field(
        default=None, description=_RAW + "an unlogged credential is INDETERMINATE"
    )

    model_config = {"extra": "ignore"}


_QUERY_NAMES: Final = frozenset(VerifyQuery.model_fields)


def query_options(request: Request) -> dict[str, Any]:
    """The options given in the query string of ``request`` (others are ignored; of an option given twice the last
    counts, as for any query parameter): a bad value is the same 422 problem as any query parameter's, naming
    ``query`` and the option."""
    given = {name: value for name, value in request.query_params.items() if name in _QUERY_NAMES}
    if not given:
        return {}
    try:
        options = VerifyQuery.model_validate(dict(given))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in errors]) from None
    return options.model_dump(exclude_none=True)


def openapi_parameters() -> list[dict[str, Any]]:
    """The query parameters of ``POST /verify`` in the OpenAPI document (:class:`VerifyQuery`)."""
    properties = VerifyQuery.model_json_schema()["properties"]
    parameters = []
    for name, generated in properties.items():
        schema = {key: value for key, value in generated.items() if key != "default"}
        parameters.append(
            {"name": name, "in": "query", "required": False, "schema": schema, "description": schema["description"]}
        )
    return parameters


class VerifyRequest(VerifyOptions):
    input: str = Field(description="The object to verify, base64 (DER or PEM bytes, a PDF, a token, a PNG or JPEG)")
    anchors: list[str] = Field(default_factory=list, description="PEM trust anchors; none: this instance's roots")
    anchor_keys: list[str] = Field(
        default_factory=list,
        description="PEM certificates trusted for their name and public key only (RFC 5280 clause 6.1.1 (d): their "
        "extensions are neither checked nor applied); like anchors, they replace this instance's roots",
    )
    untrusted: list[str] = Field(default_factory=list, description="PEM intermediate certificates")
    crls: list[str] = Field(default_factory=list, description="CRLs, base64 DER")
    data: str | None = Field(default=None, description="The signed document of a detached GB/T 38540 signature")
    log_proof: dict[str, Any] | None = Field(
        default=None,
        description="The credential's inclusion proof in the transparency log: the JSON document `trust log prove` "
        "prints (or GET /log/proof/inclusion answers)",
    )

    model_config = {
        "extra": "ignore",
        "json_schema_extra": {
            "examples": [{"input": "MIIB8jCCAZigAwIBAgIUX3qcHn0rSmyODxorPE1ebzqLnA0=", "purpose": "seal"}]
        },
    }


@dataclass(frozen=True)
class VerifyInput:
    """What a ``POST /verify`` body asks: the input's bytes, the signed data, the material and the options."""

    data: bytes
    options: VerifyOptions
    signed_data: bytes | None = None
    anchors: tuple[str, ...] = ()
    anchor_keys: tuple[str, ...] = ()
    untrusted: tuple[str, ...] = ()
    crls: tuple[bytes, ...] = ()
    log_proof: bytes | None = None


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise InputError(f"{what} is not base64", code=Code.MALFORMED_ENCODING) from None


def _json(raw: bytes) -> Any:
    """A JSON body read by Huren's strict reader (:mod:`trust.http.bodies`: no member twice, no NaN), refused as any
    route refuses it: the same 422 problem."""
    try:
        return strict_json.loads(raw.decode("utf-8"), "the request body")
    except UnicodeDecodeError:
        raise InputError("the request body is not UTF-8", code=Code.MALFORMED_ENCODING) from None
    except EncodingError as exc:
        msg = f"JSON decode error: {exc.message}"
        error = {"type": "json_invalid", "loc": ("body", 0), "msg": msg, "input": {}}
        raise RequestValidationError([error]) from None


def _validated(model: type[BaseModel], value: Any) -> Any:
    """``model`` validated as the route's own parameters are: a failure is the same 422 problem."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from None


def _not_empty(data: bytes) -> bytes:
    if not data.strip():
        raise InputError("the input is empty: send the file to verify as the body (or the multipart part 'input')")
    return data


async def _body(request: Request, limit: int, what: str) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise InputError(f"a {what} body of {declared} bytes exceeds {limit}", code=Code.INPUT_TOO_LARGE)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InputError(f"a {what} body exceeds {limit} bytes", code=Code.INPUT_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


async def read(request: Request, query: dict[str, Any]) -> VerifyInput:
    """The :class:`VerifyInput` of ``request`` (module docstring); ``query`` holds the options of the query string."""
    kind = media_type(request)
    if kind == JSON:
        if query:
            raise InputError(f"with a JSON body the options go in the body, not the query string ({', '.join(query)})")
        return await read_json(request)
    if kind in LIMITS:
        data = _not_empty(await _body(request, LIMITS[kind], kind))
        return VerifyInput(data=data, options=_validated(VerifyOptions, query))
    if kind == MULTIPART:
        return await _multipart(request, query)
    raise InputError(unsupported(kind), code=Code.USAGE)  # pragma: no cover - the route answers 415 before


_DEFAULTS: Final = VerifyOptions()
"""The options of a JSON body that names none (immutable in use: read, never changed)."""


async def read_json(request: Request) -> VerifyInput:
    """The :class:`VerifyInput` of a JSON body (:class:`VerifyRequest`). The commonest body, ``{"input": "…"}`` and
    nothing else, is taken without validating the model (issue 15 item 1: ~0.05 ms per request): what validation
    would make of it is the input and the default options; any other body is validated as before."""
    raw = await _body(request, MAX_INPUT_BYTES, "JSON")
    value = _json(raw)
    if type(value) is dict and len(value) == 1 and type(value.get("input")) is str:
        return VerifyInput(data=_b64(value["input"], "input"), options=_DEFAULTS)
    body: VerifyRequest = _validated(VerifyRequest, value)
    return VerifyInput(
        data=_b64(body.input, "input"),
        options=body,
        signed_data=_b64(body.data, "data") if body.data is not None else None,
        anchors=tuple(body.anchors),
        anchor_keys=tuple(body.anchor_keys),
        untrusted=tuple(body.untrusted),
        crls=tuple(_b64(c, "crl") for c in body.crls),
        log_proof=json.dumps(body.log_proof).encode() if body.log_proof is not None else None,
    )


def accepts(kind: str) -> bool:
    """Whether :func:`read` takes a body of media type ``kind``."""
    return kind in (JSON, MULTIPART) or kind in LIMITS


def unsupported(kind: str) -> str:
    """Why a body of media type ``kind`` is refused (415), naming those accepted."""
    return f"POST /verify takes {', '.join([JSON, MULTIPART, *LIMITS])}; not {kind or 'a body without a Content-Type'}"


async def _multipart(request: Request, query: dict[str, Any]) -> VerifyInput:
    from starlette.datastructures import UploadFile

    try:
        form = await request.form(max_files=2, max_fields=MAX_FORM_FIELDS, max_part_size=64 * 1024)
    except TrustError:
        raise
    except Exception as exc:  # noqa: BLE001 - Starlette's parser raises HTTPException and MultiPartException alike
        raise InputError(f"the multipart body cannot be read: {getattr(exc, 'detail', exc)}") from None
    try:
        files: dict[str, bytes] = {}
        options: dict[str, str] = {}
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name not in ("input", "data", "log_proof") or name in files:
                    raise InputError(f"multipart: a file part named {name!r} is not expected (input, data, log_proof)")
                files[name] = await value.read()
            elif name in VerifyOptions.model_fields and name not in options:
                options[name] = value
            else:
                raise InputError(f"multipart: the field {name!r} is unknown or repeated")
        if "input" not in files:
            raise InputError("multipart: no file part named 'input' (the object to verify)")
        both = sorted(set(options) & set(query))
        if both:
            raise InputError(f"an option is given both in the form and in the query string: {', '.join(both)}")
        data = _not_empty(files["input"])
        if len(data) > MAX_INPUT_BYTES:
            raise InputError(f"input of {len(data)} bytes exceeds {MAX_INPUT_BYTES}", code=Code.INPUT_TOO_LARGE)
        return VerifyInput(
            data=data,
            options=_validated(VerifyOptions, {**query, **options}),
            signed_data=files.get("data"),
            log_proof=files.get("log_proof"),
        )
    finally:
        await form.close()


def openapi_body() -> dict[str, Any]:
    """The ``requestBody`` of ``POST /verify`` in the OpenAPI document: every media type :func:`read` takes."""
    binary = {"type": "string", "format": "binary"}
    options = VerifyOptions.model_json_schema()["properties"]
    multipart_schema = {
        "type": "object",
        "required": ["input"],
        "properties": {
            "input": {**binary, "description": "The file to verify"},
            "data": {**binary, "description": "The signed document of a detached GB/T 38540 signature"},
            "log_proof": {**binary, "description": "The inclusion proof in the transparency log (trust log prove)"},
            **options,
        },
        "examples": [
            {"input": "(the file: a PDF, OFD, token, certificate or photo of a licence QR)", "purpose": "auto"}
        ],
    }
    content: dict[str, Any] = {
        JSON: {"schema": VerifyRequest.model_json_schema()},
        MULTIPART: {"schema": multipart_schema},
    }
    for kind, limit in LIMITS.items():
        content[kind] = {"schema": {**binary, "description": f"The file itself, at most {limit} bytes"}}
    return {"required": True, "content": content}


__all__ = [
    "LIMITS",
    "VerifyInput",
    "VerifyOptions",
    "VerifyQuery",
    "VerifyRequest",
    "accepts",
    "media_type",
    "openapi_body",
    "openapi_parameters",
    "query_options",
    "read",
    "read_json",
    "unsupported",
]
