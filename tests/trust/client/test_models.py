"""The client's answer models (:mod:`trust.client.models`) are written by hand, apart from the routes' models (the
client imports nothing of the HTTP app): each must ask only for what the service's OpenAPI document promises, so a
renamed or dropped member fails here rather than in a platform's production."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from trust.client import models
from trust.http.app import create_app
from trust.service.instance import Instance
from trust.settings import Settings

ANSWERS: dict[type[BaseModel], str] = {
    models.Certificate: "CertificateOut",
    models.Seal: "SealOut",
    models.License: "LicenseOut",
    models.AccessToken: "TokenResponse",
    models.Subject: "SubjectIn",
}
COMPUTED = {"expires_at"}  # the client's own: when the token expires, from expires_in


@pytest.fixture(scope="module")
def schemas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home: Path = tmp_path_factory.mktemp("openapi")
    document = create_app(Instance(Settings(home=home))).openapi()
    found: dict[str, Any] = document["components"]["schemas"]
    return found


@pytest.mark.parametrize("model", list(ANSWERS), ids=lambda m: m.__name__)
def test_models_ask_only_for_what_the_service_documents(model: type[BaseModel], schemas: dict[str, Any]) -> None:
    schema = schemas[ANSWERS[model]]
    documented = set(schema["properties"])
    mine = set(model.model_fields) - COMPUTED
    assert mine == documented, (mine - documented, documented - mine)
    required_here = {name for name, f in model.model_fields.items() if f.is_required()} - COMPUTED
    assert required_here <= set(schema.get("required", [])) | {"token_type"}, required_here
