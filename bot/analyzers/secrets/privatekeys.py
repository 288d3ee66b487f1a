"""Private keys that are real key material.

PEM blocks (PKCS#1, SEC1, DSA, PKCS#8, encrypted PKCS#8, legacy ``Proc-Type: 4,ENCRYPTED``) and
OpenSSH keys are loaded with ``cryptography``; PGP secret-key blocks are checked structurally
(the armored body decodes to an OpenPGP Secret-Key packet, CRC-24 verified when present). A
block may be indented (YAML block scalar) or written with ``\\n`` escapes (a JSON or YAML
double-quoted string). Truncated or garbage blocks, public keys and certificates are never hits.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import (
    load_pem_private_key,
    load_ssh_private_key,
)

from bot.analyzers.secrets.model import Family, Hit

__all__ = [
    "OPENSSH_PRIVATE_KEY",
    "PGP_PRIVATE_KEY",
    "PRIVATE_KEY",
    "PRIVATE_KEY_FAMILIES",
    "KeyCheck",
    "check_pem_block",
    "scan_private_keys",
]

PRIVATE_KEY = Family("private-key", "Private key (PEM)")
OPENSSH_PRIVATE_KEY = Family("openssh-private-key", "OpenSSH private key")
PGP_PRIVATE_KEY = Family("pgp-private-key", "PGP private key block")
PRIVATE_KEY_FAMILIES = (PRIVATE_KEY, OPENSSH_PRIVATE_KEY, PGP_PRIVATE_KEY)

# Keywords (lower case) under which this module has anything to do.
KEYWORDS = ("private key",)

_MAX_BODY = 40_000

_BEGIN_RE = re.compile(
    r"-----BEGIN (?P<label>(?:RSA |EC |DSA |ENCRYPTED |OPENSSH |PGP )?PRIVATE KEY(?: BLOCK)?)-----"
)
# Literal escapes used when a PEM block is written on one line inside a quoted string.
_ESCAPES_RE = re.compile(r"(?:\\\\|\\)(?:r\\n|n|r)")
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_DEK_INFO_RE = re.compile(r"^DEK-Info:\s*[A-Z0-9-]+,[0-9A-Fa-f]{16,32}$")


class KeyCheck:
    """The verdict on one block: ``real`` key material, and whether it is ``encrypted``."""

    __slots__ = ("encrypted", "real")

    def __init__(self, real: bool, encrypted: bool = False) -> None:
        self.real = real
        self.encrypted = encrypted


_NOT_A_KEY = KeyCheck(False)


def _split_body(body: str) -> tuple[list[str], list[str]] | None:
    """(header lines, base64 lines) of a block body in any of its textual forms."""
    text = _ESCAPES_RE.sub("\n", body)
    headers: list[str] = []
    data: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().strip("\"'`,").strip()
        if not line:
            continue
        if not data and ":" in line:
            headers.append(line)
            continue
        if not _B64_CHARS.issuperset(line):
            return None  # not a key body (prose, YAML keys, a template...)
        data.append(line)
    return headers, data


def _b64decode(lines: list[str]) -> bytes | None:
    joined = "".join(lines)
    if not joined:
        return None
    try:
        return base64.b64decode(joined, validate=True)
    except (binascii.Error, ValueError):
        return None


def _pem(label: str, headers: list[str], data: list[str]) -> bytes:
    parts = [f"-----BEGIN {label}-----"]
    if headers:
        parts.extend(headers)
        parts.append("")
    joined = "".join(data)
    parts.extend(joined[i : i + 64] for i in range(0, len(joined), 64))
    parts.append(f"-----END {label}-----")
    return ("\n".join(parts) + "\n").encode("ascii")


def _check_pem(label: str, headers: list[str], data: list[str]) -> KeyCheck:
    der = _b64decode(data)
    if der is None or len(der) < 32:
        return _NOT_A_KEY
    try:
        load_pem_private_key(_pem(label, headers, data), password=None)
    except TypeError:
        # Encrypted. PKCS#8 DER has been parsed by now; a legacy encrypted PEM body can only
        # be checked for shape: a DEK-Info header and whole cipher blocks.
        if label == "ENCRYPTED PRIVATE KEY":
            return KeyCheck(True, encrypted=True)
        dek = any(_DEK_INFO_RE.match(h) for h in headers)
        return KeyCheck(dek and len(der) % 8 == 0 and len(der) >= 64, encrypted=True)
    except (ValueError, UnsupportedAlgorithm):
        return _NOT_A_KEY
    return KeyCheck(True)


def _ssh_string(blob: bytes, pos: int) -> tuple[bytes, int]:
    if pos + 4 > len(blob):
        raise ValueError("truncated")
    (n,) = struct.unpack_from(">I", blob, pos)
    end = pos + 4 + n
    if end > len(blob):
        raise ValueError("truncated")
    return blob[pos + 4 : end], end


def _check_openssh(label: str, headers: list[str], data: list[str]) -> KeyCheck:
    blob = _b64decode(data)
    magic = b"openssh-key-v1\0"
    if blob is None or not blob.startswith(magic):
        return _NOT_A_KEY
    try:
        pos = len(magic)
        cipher, pos = _ssh_string(blob, pos)
        _kdf, pos = _ssh_string(blob, pos)
        _kdf_options, pos = _ssh_string(blob, pos)
        if pos + 4 > len(blob):
            return _NOT_A_KEY
        (nkeys,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if not 1 <= nkeys <= 16:
            return _NOT_A_KEY
        for _ in range(nkeys):
            _pub, pos = _ssh_string(blob, pos)
        private, pos = _ssh_string(blob, pos)
    except ValueError:
        return _NOT_A_KEY
    if pos != len(blob) or not private or len(private) % 8:
        return _NOT_A_KEY
    if cipher != b"none":
        return KeyCheck(True, encrypted=True)
    try:
        load_ssh_private_key(_pem(label, headers, data), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return _NOT_A_KEY
    return KeyCheck(True)


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def _pgp_packet(blob: bytes) -> tuple[int, bytes, int] | None:
    """(tag, body, total length) of the first OpenPGP packet, or None if there is none."""
    if len(blob) < 2 or not blob[0] & 0x80:
        return None
    first = blob[0]
    if first & 0x40:  # new format
        tag = first & 0x3F
        l1 = blob[1]
        if l1 < 192:
            length, pos = l1, 2
        elif l1 < 224:
            if len(blob) < 3:
                return None
            length, pos = ((l1 - 192) << 8) + blob[2] + 192, 3
        elif l1 == 255:
            if len(blob) < 6:
                return None
            length, pos = struct.unpack_from(">I", blob, 2)[0], 6
        else:
            return None  # partial lengths are not allowed for key packets
    else:  # old format
        tag = (first >> 2) & 0x0F
        kind = first & 0x03
        if kind == 3:
            return None
        size = (1, 2, 4)[kind]
        if len(blob) < 1 + size:
            return None
        length = int.from_bytes(blob[1 : 1 + size], "big")
        pos = 1 + size
    if pos + length > len(blob):
        return None
    return tag, blob[pos : pos + length], pos + length


def _pgp_packets_complete(blob: bytes) -> bool:
    """Whether ``blob`` is a whole sequence of packets (a truncated block ends mid-packet)."""
    pos = 0
    while pos < len(blob):
        packet = _pgp_packet(blob[pos:])
        if packet is None:
            return False
        pos += packet[2]
    return pos == len(blob)


def _skip_mpi(body: bytes, pos: int) -> int:
    if pos + 2 > len(body):
        raise ValueError("truncated")
    bits: int = struct.unpack_from(">H", body, pos)[0]
    end = pos + 2 + (bits + 7) // 8
    if end > len(body):
        raise ValueError("truncated")
    return end


def _skip_oid(body: bytes, pos: int) -> int:
    if pos >= len(body):
        raise ValueError("truncated")
    end = pos + 1 + body[pos]
    if end > len(body):
        raise ValueError("truncated")
    return end


def _pgp_v4_encrypted(body: bytes) -> bool:
    """Whether a v4 Secret-Key packet protects its secret part (S2K usage octet != 0)."""
    algo = body[5]
    pos = 6
    if algo in (1, 2, 3):
        count = 2
    elif algo == 17:
        count = 4
    elif algo in (16, 20):
        count = 3
    elif algo in (19, 22):
        pos = _skip_oid(body, pos)
        count = 1
    elif algo == 18:
        pos = _skip_mpi(body, _skip_oid(body, pos))
        if pos >= len(body):
            raise ValueError("truncated")
        pos += 1 + body[pos]  # KDF parameters
        count = 0
    else:
        raise ValueError("unknown algorithm")
    for _ in range(count):
        pos = _skip_mpi(body, pos)
    if pos >= len(body):
        raise ValueError("truncated")
    return body[pos] != 0


def _check_pgp(headers: list[str], data: list[str]) -> KeyCheck:
    checksum: str | None = None
    if data and data[-1].startswith("=") and len(data[-1]) == 5:
        checksum = data[-1][1:]
        data = data[:-1]
    blob = _b64decode(data)
    if blob is None:
        return _NOT_A_KEY
    if checksum is not None:
        try:
            expected = int.from_bytes(base64.b64decode(checksum, validate=True), "big")
        except (binascii.Error, ValueError):
            return _NOT_A_KEY
        if _crc24(blob) != expected:
            return _NOT_A_KEY
    packet = _pgp_packet(blob)
    if packet is None or not _pgp_packets_complete(blob):
        return _NOT_A_KEY
    tag, body, _size = packet
    if tag != 5 or len(body) < 12 or body[0] not in (3, 4, 5, 6):
        return _NOT_A_KEY
    encrypted = False
    if body[0] == 4:
        try:
            encrypted = _pgp_v4_encrypted(body)
        except ValueError:
            return _NOT_A_KEY
    return KeyCheck(True, encrypted=encrypted)


def check_pem_block(label: str, body: str) -> KeyCheck:
    """Judge one ``-----BEGIN <label>----- <body> -----END <label>-----`` block."""
    split = _split_body(body)
    if split is None:
        return _NOT_A_KEY
    headers, data = split
    if label == "OPENSSH PRIVATE KEY":
        return _check_openssh(label, headers, data)
    if label == "PGP PRIVATE KEY BLOCK":
        return _check_pgp(headers, data)
    if label.endswith("BLOCK"):
        return _NOT_A_KEY
    return _check_pem(label, headers, data)


def _family(label: str) -> Family:
    if label.startswith("OPENSSH"):
        return OPENSSH_PRIVATE_KEY
    if label.startswith("PGP"):
        return PGP_PRIVATE_KEY
    return PRIVATE_KEY


def scan_private_keys(text: str) -> list[Hit]:
    """Every private key block in ``text`` holding real key material, sorted by offset. The
    hit spans the block from ``-----BEGIN`` to the end of the ``-----END …-----`` line."""
    if "PRIVATE KEY" not in text:
        return []
    hits: list[Hit] = []
    for m in _BEGIN_RE.finditer(text):
        label = m.group("label")
        end_marker = f"-----END {label}-----"
        end = text.find(end_marker, m.end(), m.end() + _MAX_BODY)
        if end < 0:
            continue  # truncated block
        body = text[m.end() : end]
        if "-----BEGIN " in body:
            continue  # this BEGIN has no END of its own
        verdict = check_pem_block(label, body)
        if verdict.real:
            stop = end + len(end_marker)
            hits.append(
                Hit(_family(label), text[m.start() : stop], m.start(), stop, verdict.encrypted)
            )
    return hits
