"""Parser for OpenSSL/Tongsuo ``evp_test`` data files (``test/recipes/30-test_evp_data/*.txt``); not a test.

Format (OpenSSL ``test/evp_test.c``): a test starts with a keyword line (``Digest = SM3``, ``MAC = HMAC``,
``Verify = SM2_key1``, ...) and runs to the next blank line; ``#`` lines are comments; ``Title = ...`` names
the following tests; ``Availablein``/``FIPSversion`` may precede the keyword inside a block. Key blocks
(``PrivateKey = name`` / ``PublicKey = name``) carry a PEM body that runs to its ``-----END`` line. Values
are hex, or a string in double quotes taken literally (``""`` is empty).

For digests, ``Input`` may repeat (the buffers are concatenated), ``Ncopy = n`` replaces the last buffer by
``n`` copies of itself and ``Count = n`` feeds the last buffer ``n`` times (evp_test_buffer_ncopy/_set_count);
:func:`digest_input` applies both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

TEST_KEYWORDS = (
    "Cipher",
    "Decrypt",
    "Derive",
    "Digest",
    "Encoding",
    "KDF",
    "MAC",
    "PBE",
    "PrivPubKeyPair",
    "Sign",
    "Verify",
    "VerifyRecover",
    "KeyGen",
    "PrivateKey",
    "PublicKey",
    "PKEYKDF",
    "Rand",
)
_PREFIX_KEYS = ("Availablein", "FIPSversion")
KEYWORD_LINE = re.compile(r"^\s*(" + "|".join(TEST_KEYWORDS) + r")\s*=", re.MULTILINE)


@dataclass
class Block:
    """One test: its keyword and value, its ``key = value`` lines in order, title, line number and id."""

    keyword: str
    value: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    title: str = ""
    line: int = 0
    ordinal: int = 0  # 1-based count of this keyword in the file
    pem: str = ""

    @property
    def id(self) -> str:
        return f"{self.keyword}#{self.ordinal}"

    def get(self, name: str) -> str | None:
        values = self.all(name)
        return values[-1] if values else None

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]

    def bytes(self, name: str) -> bytes:
        value = self.get(name)
        assert value is not None, f"{self.id} (line {self.line}) has no {name}"
        return parse_value(value)


def parse_value(value: str) -> bytes:
    """A quoted string literally, otherwise hex (OpenSSL ``parse_bin``)."""
    value = value.strip()
    if value.startswith('"'):
        assert value.endswith('"') and len(value) >= 2, f"unterminated string {value!r}"
        return value[1:-1].encode("utf-8")
    return bytes.fromhex(value)


def parse(path: Path) -> list[Block]:
    blocks: list[Block] = []
    counts: dict[str, int] = {}
    title = ""
    current: Block | None = None
    prefix: list[tuple[str, str]] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        raw = lines[index]
        number = index + 1
        index += 1
        line = raw.strip()
        if line.startswith("#"):
            continue
        if not line:
            current, prefix = None, []
            continue
        assert "=" in line, f"{path.name}:{number}: not a 'key = value' line: {raw!r}"
        key, value = (part.strip() for part in line.split("=", 1))
        if key == "Title":
            title, current, prefix = value, None, []
            continue
        if current is None:
            if key in _PREFIX_KEYS:
                prefix.append((key, value))
                continue
            assert key in TEST_KEYWORDS, f"{path.name}:{number}: block starts with unknown keyword {key!r}"
            counts[key] = counts.get(key, 0) + 1
            current = Block(key, value, list(prefix), title, number, counts[key])
            blocks.append(current)
            if key in ("PrivateKey", "PublicKey"):
                pem = []
                while index < len(lines):
                    pem.append(lines[index])
                    index += 1
                    if lines[index - 1].startswith("-----END"):
                        break
                assert pem and pem[0].startswith("-----BEGIN"), f"{path.name}:{number}: key block without PEM"
                current.pem = "\n".join(pem) + "\n"
            continue
        current.fields.append((key, value))
    return blocks


def keyword_lines(path: Path) -> int:
    """How many test keyword lines the raw text holds: an independent count to check :func:`parse`."""
    return len(KEYWORD_LINE.findall(path.read_text(encoding="utf-8")))


def digest_input(block: Block) -> bytes:
    """The message of a ``Digest`` block: ``Input`` buffers with ``Ncopy`` and ``Count`` applied in order."""
    buffers: list[list[bytes | int]] = []  # [data, count]
    for key, value in block.fields:
        if key == "Input":
            buffers.append([parse_value(value), 1])
        elif key == "Ncopy":
            assert buffers, f"{block.id}: Ncopy before Input"
            data = buffers[-1][0]
            assert isinstance(data, bytes)
            buffers[-1][0] = data * int(value)
        elif key == "Count":
            assert buffers, f"{block.id}: Count before Input"
            buffers[-1][1] = int(value)
    message = b""
    for data, count in buffers:
        assert isinstance(data, bytes) and isinstance(count, int)
        message += data * count
    return message
