"""Which text encoding a CSV export is in, and where a UTF-8 export holds bytes that are not UTF-8.

A file is UTF-8 unless it says otherwise: a byte-order mark, or bytes no UTF-8 text holds. One stray byte in an
otherwise UTF-8 file (a value pasted from a legacy system) must not make the whole file be read in a legacy encoding,
which would turn every `Señal` into `SeÃ±al`: such a file is read as UTF-8, the stray bytes become U+FFFD and a note
names their lines. Only a file with no UTF-8 text beyond ASCII at all is handed to charset-normalizer to name its
legacy encoding.

The whole file is checked once per run, a chunk at a time (ASCII chunks cost a scan; others one C-level decode), so
that a stray byte anywhere is found, not only in the first megabytes.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

UTF8 = "utf-8"
_CHUNK = 1 << 20
_SAMPLE = 4 * 1024 * 1024
_SHOWN = 3  # stray bytes located in a note (the rest are counted)
# A file with this many stray bytes and not one UTF-8 character beyond ASCII so far is not UTF-8 with strays.
_LEGACY_AFTER = 100
# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# How a note names an encoding (Python's codec names otherwise).
_NAMES = {
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1",
    "iso8859_1": "Latin-1",
    "utf_16": "UTF-16",
    "utf_16_le": "UTF-16LE",
    "utf_16_be": "UTF-16BE",
    "utf_32": "UTF-32",
    "utf_32_le": "UTF-32LE",
    "utf_32_be": "UTF-32BE",
}


@dataclass(frozen=True)
class Stray:
    """One run of bytes that is not UTF-8, where an editor would show it."""

    line: int  # 1-based physical line of the file
    column: int  # 1-based byte of that line
    raw: bytes
    offset: int = 0  # in the file (decompressed)

    def __str__(self) -> str:
        shown = " ".join(f"0x{byte:02X}" for byte in self.raw)
        return f"{shown} on line {self.line}, byte {self.column}"


@dataclass(frozen=True)
class Decoding:
    """How a file is read: its encoding, whether it was detected (not certain from a mark), and the stray bytes of
    a UTF-8 file (the first few located, all counted)."""

    encoding: str
    detected: bool = False
    strays: tuple[Stray, ...] = field(default=())
    stray_count: int = 0

    @property
    def name(self) -> str:
        return encoding_name(self.encoding)


def encoding_name(encoding: str) -> str:
    normal = codecs.lookup(encoding).name.replace("-", "_")
    return _NAMES.get(normal, "UTF-8" if normal == "utf_8" else encoding)


def decoding(path: Path, declared: str = "auto") -> Decoding:
    """How to read a CSV file: as the catalog declares (`auto`: as found), its stray bytes found when it is UTF-8."""
    stat = path.stat()
    return _decoding(path, stat.st_mtime_ns, stat.st_size, declared)


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else path.open("rb")


@functools.lru_cache(maxsize=4096)
def _decoding(path: Path, _mtime: int, _size: int, declared: str) -> Decoding:
    if declared not in ("auto", UTF8):
        return Decoding(declared)
    with _open(path) as handle:
        head = handle.read(_SAMPLE)
    for bom, encoding in _BOMS:
        if head.startswith(bom) and (encoding == UTF8 or declared == "auto"):
            return _checked(path, legacy=False) if encoding == UTF8 else Decoding(encoding)
    if declared == "auto" and b"\x00" in head:
        # Text with NUL bytes is UTF-16 or UTF-32 without a mark, or not text (left to the caller to refuse).
        found = _detected(head)
        if found is not None and found.startswith(("utf_16", "utf_32")):
            return Decoding(found, detected=True)
        return Decoding(UTF8)
    checked = _checked(path, legacy=declared == "auto")
    if checked.encoding == UTF8:
        return checked
    # No UTF-8 text beyond ASCII: a legacy encoding. Detect it on the sample with the strays in it.
    sample = head if not head.isascii() else _window(path, checked.strays[0])
    return Decoding(_legacy(sample), detected=True)


def _checked(path: Path, legacy: bool) -> Decoding:
    """The file read as UTF-8, a chunk at a time: its stray bytes, located. With `legacy` (the file may be in a
    legacy encoding), `encoding` is left empty when the strays are all the non-ASCII bytes there are: then the file
    is not UTF-8. An ASCII chunk costs one scan; lines are counted only when there are strays to locate."""
    first: list[tuple[int, bytes]] = []  # the first strays: offset in the file and bytes
    count, offset, multibyte = 0, 0, False
    pending = b""
    found: list[tuple[int, int]] = []
    with _open(path) as handle:
        while True:
            chunk = handle.read(_CHUNK)
            data = pending + chunk
            final = not chunk
            if data.isascii():
                pending, used = b"", len(data)
            else:
                found.clear()
                _errors.append(found)
                try:
                    text, used = codecs.utf_8_decode(data, "civic_kpi.stray", final)
                finally:
                    _errors.pop()
                pending = data[used:]
                count += len(found)
                first += [(offset + start, data[start:end]) for start, end in found[: _SHOWN - len(first)]]
                # Beyond ASCII, and not only the replacement characters of the strays just found (a U+FFFD the
                # file itself holds, from an earlier lossy conversion, is UTF-8 text).
                beyond = (text.replace("\ufffd", "") if found else text).isascii() is False
                multibyte = multibyte or beyond or (bool(found) and text.count("\ufffd") > len(found))
            offset += used
            if final:
                break
            if legacy and count >= _LEGACY_AFTER and not multibyte:
                # So many strays and no UTF-8 character yet: a legacy file, unless UTF-8 text comes later; a fast
                # search for one, and a full count from the start only then, never re-decodes valid UTF-8.
                if _utf8_later(handle, pending):
                    return _checked(path, legacy=False)
                break
    strays = _located(path, first) if first else ()
    return Decoding(UTF8 if multibyte or not count or not legacy else "", strays=strays, stray_count=count)


# A well-formed UTF-8 sequence of two to four bytes, as the decoder accepts them (no overlong forms or surrogates).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _utf8_later(handle: IO[bytes], pending: bytes) -> bool:
    """Whether the rest of the file holds a UTF-8 character beyond ASCII (chunks overlap by 3 bytes, so a
    character split between two is found)."""
    tail = pending
    while chunk := handle.read(_CHUNK):
        data = tail + chunk
        if not data.isascii() and _UTF8_SEQUENCE.search(data):
            return True
        tail = data[-3:]
    return bool(tail) and not tail.isascii() and _UTF8_SEQUENCE.search(tail) is not None


def _located(path: Path, strays: list[tuple[int, bytes]]) -> tuple[Stray, ...]:
    """Line and byte in the line of each stray (offsets in the file, ascending), reading up to the last one."""
    located = []
    lines, line_start, offset = 0, 0, 0
    with _open(path) as handle:
        for at, raw in strays:
            data = handle.read(at - offset)
            lines += data.count(b"\n")
            newline = data.rfind(b"\n")
            if newline >= 0:
                line_start = offset + newline + 1
            offset = at
            located.append(Stray(lines + 1, at - line_start + 1, raw, at))
    return tuple(located)


_errors: list[list[tuple[int, int]]] = []


def _record_stray(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    _errors[-1].append((exc.start, exc.end))
    return "\ufffd", exc.end


codecs.register_error("civic_kpi.stray", _record_stray)


def _window(path: Path, stray: Stray, size: int = _CHUNK) -> bytes:
    """Bytes from the first stray on, for a file whose first megabytes are ASCII."""
    with _open(path) as handle:
        handle.seek(stray.offset)  # a gzip file decompresses up to it
        return handle.read(size)


def _detected(sample: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    return None if best is None else codecs.lookup(best.encoding).name.replace("-", "_")


def _legacy(sample: bytes) -> str:
    """The single-byte encoding of a file that is not UTF-8. On a short sample charset-normalizer cannot tell
    Windows-1252 from its neighbours (it names cp1250, which reads ñ as ń, or even cp1006): where Windows-1252
    reads the sample without a character out of place (by charset-normalizer's own mess measure, no worse than its
    pick's), Windows-1252 is taken, as the encoding US exports are in. Text that is clearly Cyrillic or Greek reads
    as a mess in Windows-1252, and keeps the detector's pick."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    best = from_bytes(sample).best()
    try:
        as_1252 = sample.decode("cp1252")
    except UnicodeDecodeError:
        return "cp1252" if best is None else best.encoding
    if best is None or mess_ratio(as_1252, maximum_threshold=1.0) <= best.chaos:
        return "cp1252"
    return best.encoding
