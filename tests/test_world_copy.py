"""The session's world template (tests/conftest.py ``world_template``) and its copies
(``tests.support.world.copy_world``): a module that changes its copy leaves the template and the other copies as
they were, and a copy uses only its own files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.world import World, copy_world
from trust.service import ca as service
from trust.service import clients


def _ca_ids(world: World) -> set[str]:
    return {authority.id for authority in service.list_cas(world.instance)}


def test_a_copy_is_the_template_world_and_changes_stay_in_it(
    world_template: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    first = copy_world(world_template, tmp_path_factory.mktemp("first") / "home")
    assert first.home != world_template.home
    assert first.port == world_template.port and first.base_url == world_template.base_url
    assert _ca_ids(first) == _ca_ids(world_template)
    assert service.ca_certificate_der(first.instance, "region-330000-sm2") == service.ca_certificate_der(
        world_template.instance, "region-330000-sm2"
    )
    # The platforms' credentials verify against the copy.
    principal = clients.verify_assertion(first.instance, first.assertion("zj-platform"))
    assert principal.client_id == "zj-platform"

    service.enrol(first.instance, kind="region", code="310000", family="SM2")
    first.add_platform("sh-platform", "region", region="310000")
    assert "region-310000-sm2" in _ca_ids(first)
    assert any((first.home / "keys").rglob("*"))

    assert "region-310000-sm2" not in _ca_ids(world_template)
    assert "sh-platform" not in {client.id for client, _ in clients.list_clients(world_template.instance)}
    assert "sh-platform" not in world_template.platforms
    second = copy_world(world_template, tmp_path_factory.mktemp("second") / "home")
    assert "region-310000-sm2" not in _ca_ids(second)
    assert _ca_ids(second) == _ca_ids(world_template)


def test_a_copy_opens_only_its_own_files(world_template: World, tmp_path: Path) -> None:
    copy = copy_world(world_template, tmp_path / "home")
    settings = copy.instance.settings
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'home' / 'huren.db').resolve()}"
    assert settings.keystore_dir == tmp_path / "home" / "keys"
    assert settings.published_dir == tmp_path / "home" / "public"
    original = str(world_template.home.resolve()).encode()
    for path in (tmp_path / "home").rglob("*"):
        if path.is_file():
            assert original not in path.read_bytes(), path


def test_a_copy_into_a_folder_that_exists_is_refused(world_template: World, tmp_path: Path) -> None:
    with pytest.raises(FileExistsError):
        copy_world(world_template, tmp_path)
