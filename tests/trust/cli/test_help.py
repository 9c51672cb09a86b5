"""Help that is true: every command's ``--help`` renders without a value type on flags (no ``<bool>``), every
command a help text names exists, and so does every ``trust …`` command the README and docs/ show.

Names are found where the texts put them: a group's help ends with ``<summary>: name, name, ….`` (its commands),
and any help text or doc may quote a command as `` `trust ca issue …` `` (a fenced ``trust …`` line in the docs
counts too). A quoted command resolves when each word names a subcommand of the group before it, until a command
that is not a group (its arguments follow) or an option or placeholder (``--x``, ``…``, ``<x>``, ``ARG``).
docs/NOTES.md is left out: it lists commands that do not exist yet on purpose.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from trust.cli.main import command as command_tree
from trust.cli.main import main

_QUOTED = re.compile(r"`(?:\./dev )?trust ([^`]*)`")
_FENCED = re.compile(r"^\s*(?:\$ )?(?:\./dev )?trust (.*)$")


@functools.cache
def command() -> object:
    """The command tree, built once for the resolver (building it takes a few tens of milliseconds)."""
    return command_tree()


def _tree() -> Iterator[tuple[tuple[str, ...], object]]:
    def walk(cmd: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], object]]:
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, (*path, name))

    yield from walk(command(), ())


def _resolve(words: list[str]) -> str | None:
    """None when ``trust <words>`` names an existing command; else what is missing."""
    cmd: object = command()
    path: list[str] = []
    for word in words:
        subcommands = getattr(cmd, "commands", None)
        if subcommands is None or not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            return None  # a leaf command's arguments, an option or a placeholder
        if word not in subcommands:
            return f"no command {word!r} in `{' '.join(['trust', *path])}`"
        cmd = subcommands[word]
        path.append(word)
    return None


def test_no_help_shows_a_value_type_on_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    paths = [path for path, _ in _tree()]
    assert len(paths) > 40
    for path in paths:
        assert main([*path, "--help"]) == 0, path
        out = capsys.readouterr().out
        assert "Usage" in out, path
        assert "<bool>" not in out, f"trust {' '.join(path)} --help shows <bool>"
        assert re.search(r"--help\s+Show this message", out), path


def test_every_command_a_help_text_names_exists() -> None:
    problems: list[str] = []
    checked = 0
    for path, cmd in _tree():
        where = f"trust {' '.join(path)}".strip()
        subcommands = getattr(cmd, "commands", None)
        texts = [cmd.help or ""] + [getattr(param, "help", None) or "" for param in cmd.params]  # type: ignore[attr-defined]
        if subcommands is not None and path and ": " in (cmd.help or ""):  # type: ignore[attr-defined]
            listed = (cmd.help or "").rsplit(": ", 1)[1].strip().rstrip(".")  # type: ignore[attr-defined]
            for name in (item.strip() for item in listed.split(",")):
                checked += 1
                if name not in subcommands:
                    problems.append(f"{where} --help names {name!r}, which is not one of its commands")
        for text in texts:
            for quoted in _QUOTED.findall(text):
                checked += 1
                missing = _resolve(quoted.split())
                if missing:
                    problems.append(f"{where} --help: {missing}")
    assert checked > 40
    assert problems == []


def test_the_group_help_that_was_wrong_is_right(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["license", "--help"]) == 0
    assert "issuers" not in capsys.readouterr().out
    assert main(["seal", "--help"]) == 0
    assert "apply" not in capsys.readouterr().out


def _doc_references() -> Iterator[tuple[str, str]]:
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    for doc in docs:
        if doc.name == "NOTES.md":
            continue
        fenced = False
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            found = _QUOTED.findall(line)
            if fenced and (match := _FENCED.match(line)):
                found.append(match.group(1))
            for quoted in found:
                yield f"{doc.relative_to(REPO)}:{number}", quoted


def test_every_command_the_docs_show_exists() -> None:
    references = list(_doc_references())
    assert len(references) > 50
    problems = [f"{where}: {missing}" for where, quoted in references if (missing := _resolve(quoted.split()))]
    assert problems == []


def test_the_resolver_catches_a_missing_command() -> None:
    assert _resolve(["ca", "issue", "region-330000-sm2", "seal"]) is None
    assert _resolve(["verify", "seal.esl"]) is None
    assert _resolve(["license", "…"]) is None
    assert _resolve(["license", "issuers"])
    assert _resolve(["keys", "gc"])
    assert _resolve(["nothing"])


def test_readme_links_every_doc() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\((docs/[^)#]+)", readme))
    docs = {str(path.relative_to(REPO)) for path in (REPO / "docs").rglob("*.md")}
    assert docs - linked == set(), "docs the README does not link"
    assert {link for link in linked if not (REPO / link).exists()} == set(), "README links to missing docs"


def test_types_fields_prints_a_template_that_issues(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from trust.formats import license_catalogue as catalogue

    for license_type in catalogue.all_types():
        assert main(["license", "types", "--fields", license_type.code]) == 0
        captured = capsys.readouterr()
        template = json.loads(captured.out)
        assert list(template) == list(license_type.properties)  # every field, in schema order
        catalogue.validate_fields(license_type, template)  # valid as printed
        for name in license_type.fields["required"]:
            assert name in captured.err.split("; optional")[0], name
    assert main(["license", "types", "--fields", "11100000000013338W999"]) == 3
    assert "no licence type" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--uscc", "11430000006122244"], "11430000006122244L"),  # real identifiers' issuer code (standards notes)
        (["--uscc", "11330105002500287"], "11330105002500287C"),
        (["--citizen-id", "11010519491231002"], "11010519491231002X"),  # GB 11643's example
        (["--citizen-id", "33010620260301002"], None),
    ],
)
def test_check_digit(capsys: pytest.CaptureFixture[str], args: list[str], expected: str | None) -> None:
    from stdnum.cn import ric, uscc

    assert main(["util", "check-digit", *args]) == 0
    out = capsys.readouterr().out.strip()
    assert len(out) == 18 and out.startswith(args[1])
    assert (uscc if args[0] == "--uscc" else ric).is_valid(out)  # python-stdnum agrees
    if expected:
        assert out == expected


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--uscc", "1143000000612224"],  # 16 characters
        ["--uscc", "1143000000612224I"],  # I is not in the GB 32100 alphabet
        ["--citizen-id", "11010519491331002"],  # no 13th month
        ["--citizen-id", "1101051949123100A"],
        ["--uscc", "11430000006122244", "--citizen-id", "11010519491231002"],
    ],
)
def test_check_digit_refuses_bad_input(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["util", "check-digit", *args]) == 3
    err = capsys.readouterr().err
    assert err.startswith("E1000 invalid-input:") and "Traceback" not in err
