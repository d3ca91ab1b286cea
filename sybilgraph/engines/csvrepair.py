"""Byte-level help for files a strict reader would misread: CSV files' lone carriage
returns and quotes never closed on their line, and JSONL files' byte-order marks.

The engines read CSV in bulk; these functions prepare a copy for them to read again
when a file needs it (uncompressed, lone carriage returns masked, the rest of a line
whose quote never closes made unreadable), so that a usable row is used and an unusable
one is rejected on its own, never swallowed by its neighbours or split in two. They work
on the bytes and never parse a whole file in Python.
"""

from __future__ import annotations

import csv
import gzip
import mmap
import re
import shutil
from pathlib import Path
from typing import BinaryIO, cast

__all__ = [
    "BOM",
    "csv_delimiter",
    "lone_cr_copy",
    "long_row",
    "mask_range",
    "open_quote_line",
    "plain_copy",
    "quote_cut",
    "without_bom_copy",
]

#: bytes read or written at a time
_CHUNK = 16 << 20
#: Unicode noncharacters, which no text exchanged between systems should hold: the
#: first one a file lacks stands for its lone carriage returns while it is read
_TOKENS = tuple(chr(c).encode("utf-8") for c in range(0xFDD0, 0xFDD4))
_LONE_CR = re.compile(rb"\r(?!\n)")
BOM = b"\xef\xbb\xbf"


def long_row(path: Path) -> tuple[int, int, int] | None:
    """The first row of a small CSV file (labels, truth) with more fields than its
    header: (line, fields, the header's fields), or None. Read as a table, such a row
    took its first fields for an index and shifted the others, without a word."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        for fields in reader:
            if len(fields) > len(header):
                return reader.line_num, len(fields), len(header)
    return None


def csv_delimiter(path: Path) -> str:
    """The field separator of a CSV file: a tab for ``.tsv``, else a comma."""
    return "\t" if str(path).lower().endswith(".tsv") else ","


def _open(path: Path) -> BinaryIO:
    if str(path).lower().endswith(".gz"):
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


def plain_copy(path: Path, dest: Path) -> Path:
    """``path`` uncompressed at ``dest`` (a file that is not gzip is copied as it is)."""
    with _open(path) as src, dest.open("wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)
    return dest


def without_bom_copy(path: Path, dest: Path) -> bool:
    """Copy ``path`` (uncompressed) to ``dest`` without the UTF-8 byte-order mark it
    starts with; False (nothing written) when it starts with none."""
    with _open(path) as src:
        if src.read(len(BOM)) != BOM:
            return False
        with dest.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
    return True


def lone_cr_copy(path: Path, dest: Path) -> bytes | None:
    """Copy ``path`` (uncompressed) to ``dest`` with each lone carriage return replaced
    by a token the file does not hold; return the token, or None (nothing written).

    A carriage return not followed by a line feed, in a file whose lines end in line
    feeds, is part of a value: Python's csv writer leaves it unquoted when its line
    terminator is "\\n", and a reader that takes it for a line end splits the row. None
    when the file has no lone carriage return, its header line does not end in a line
    feed (lines ending in carriage returns alone), or it holds every token.
    """
    with _open(path) as src:
        head = src.read(_CHUNK)
    first_cr, first_lf = head.find(b"\r"), head.find(b"\n")
    if first_lf < 0 or (0 <= first_cr < first_lf - 1):
        return None
    found, absent = False, list(_TOKENS)
    tail = b""
    with _open(path) as src:
        while chunk := src.read(_CHUNK):
            window = tail + chunk
            found = found or _LONE_CR.search(window[:-1]) is not None
            absent = [t for t in absent if t not in window]
            tail = window[-3:]
    # a carriage return that ends the file ends its last line
    if not found or not absent:
        return None
    token = absent[0]
    with _open(path) as src, dest.open("wb") as out:
        carry = b""
        while chunk := src.read(_CHUNK):
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            out.write(_LONE_CR.sub(token, data[: len(data) - len(carry)]))
        out.write(carry)
    return token


def quote_cut(path: Path, quote: int) -> int | None:
    """The end of the line of a quote at byte ``quote`` of plain CSV file ``path`` that a
    strict reader found unterminated, when the quoted value would run on past that line
    (swallowing the lines after it into one bad value); None when it closes on its own
    line (the reader lost nothing) or the line is the file's last.
    """
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        if data[quote : quote + 1] != b'"':
            return None  # not where the reader said: better nothing repaired than a guess
        end = data.find(b"\n", quote)
        if end < 0 or end + 1 >= len(data):
            return None
        at = quote + 1
        while (close := data.find(b'"', at, end)) >= 0:
            if data[close + 1 : close + 2] != b'"':
                return None
            at = close + 2
        return end


def mask_range(path: Path, start: int, stop: int) -> None:
    """Overwrite bytes [start, stop) of ``path`` with bytes that are not UTF-8.

    A reader then rejects the row holding them as a row of its own: used on a value whose
    quote is never closed, it keeps the lines after it from being swallowed. Offsets and
    line numbers in the file stay as they were.
    """
    with path.open("r+b") as handle, mmap.mmap(handle.fileno(), 0) as data:
        data[start:stop] = b"\xff" * (stop - start)
        data.flush()


def open_quote_line(path: Path, sep: str = ",") -> int | None:
    """The line of CSV file ``path`` (fields separated by ``sep``) whose quote is still
    open at the end of the file, when rows follow that line; None when its quotes pair
    up, or the quote is open on the last row only.

    An escaped quote is two, so the quotes of a file whose values all close pair up; an
    odd count leaves the last quote open, and a reader that takes quoted values over
    lines reads every line after it as part of that value. A last quote inside a value
    (``5" screen``, which readers take as it is) opens nothing: only one that starts a
    value counts. Counted in bulk, not parsed.
    """
    separator = sep.encode()
    quotes, lines = 0, 1
    last: int | None = None
    # after the last quote so far: whether a line feed came, and then a row's text
    fed = text = False
    before = b"\n"  # the byte before the chunk
    with _open(path) as src:
        while chunk := src.read(_CHUNK):
            found = chunk.count(b'"')
            if found:
                quotes += found
                at = chunk.rfind(b'"')
                opens = (chunk[at - 1 : at] if at else before) in (separator, b"\n")
                last = lines + chunk.count(b"\n", 0, at) if opens else None
                fed, text, rest = False, False, chunk[at + 1 :]
            else:
                rest = chunk
            before = chunk[-1:]
            if not text:
                feed = 0 if fed else rest.find(b"\n")
                if feed >= 0:
                    fed = True
                    text = rest[feed:].strip(b"\r\n") != b""
            lines += chunk.count(b"\n")
    return last if quotes % 2 and text and last is not None else None
