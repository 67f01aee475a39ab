"""A chart archive unpacked as Helm's loader reads one, and the refusals of what is not a safe one.

Helm's LoadArchiveFiles rules, written to disk: the top folder is stripped, every entry must stay in the
chart, only regular files are written (a link or a device refuses the whole archive, where Helm would
write an empty file), and the sizes stay within Helm's loader limits.
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path

MAX_CHART_BYTES = 100 * 1024 * 1024
"""Helm's MaxDecompressedChartSize; also the most an archive may weigh as downloaded."""
MAX_FILE_BYTES = 5 * 1024 * 1024
"""Helm's MaxDecompressedFileSize."""
_DRIVE = re.compile(r"^[a-zA-Z]:/")


def pack(name: str, files: Mapping[str, str]) -> bytes:
    """A chart archive (`.tgz`) of `files` under the folder `name`, built in memory: the small charts
    kubedrift asks Helm's engine questions through (`semverCompare` on versions and kubeVersion)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Refused(Exception):
    """Why a download or an archive is refused, as the middle of the user's sentence."""

    def __init__(self, problem: str, todo: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.todo = todo


def one_line(text: str) -> str:
    return " ".join(text.split())


def extract(data: bytes, target: Path, what: str) -> None:
    """Helm's LoadArchiveFiles rules, written to disk: the top folder is stripped, every entry must stay in
    the chart, and only regular files are written (a link or a device refuses the whole archive)."""
    unsafe = "kubedrift refuses to unpack it; tell the repository's owner"
    try:
        with tarfile.open(fileobj=io.BytesIO(gunzip(data, what)), mode="r:") as archive:
            for member in archive:
                delimiter = "\\" if "\\" in member.name else "/"
                top, _, rest = member.name.partition(delimiter)
                if member.isdir():
                    continue
                if top == "Chart.yaml" and not rest:
                    raise Refused(f"{what} has its Chart.yaml outside a folder", unsafe)
                path = posixpath.normpath(rest.replace(delimiter, "/")) if rest else "."
                if rest.startswith(("/", "\\")) or path == "." or path.startswith("..") or _DRIVE.match(path):
                    raise Refused(f"{what} holds {member.name!r}, which leads outside the chart", unsafe)
                if not member.isfile():
                    raise Refused(f"{what} holds {member.name!r}, which is a link or a device", unsafe)
                if member.size > MAX_FILE_BYTES:
                    raise Refused(f"{what} holds {member.name!r}, larger than 5 MiB", unsafe)
                stream = archive.extractfile(member)
                assert stream is not None
                destination = target.joinpath(*path.split("/"))
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(stream.read())
    except (tarfile.TarError, EOFError, zlib.error, UnicodeError) as exc:
        raise Refused(f"{what} is not a chart archive ({one_line(str(exc))})", unsafe) from None
    if not (target / "Chart.yaml").is_file():
        raise Refused(f"{what} has no Chart.yaml in its folder", unsafe)


def gunzip(data: bytes, what: str, limit: int | None = None) -> bytes:
    """The tar stream inside a (multi-member) gzip archive, refused past `limit` bytes (a chart's
    MAX_CHART_BYTES by default; an OCI layer passes its own)."""
    limit = MAX_CHART_BYTES if limit is None else limit
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += inflater.decompress(data, limit + 1 - len(out))
        if len(out) > limit or inflater.unconsumed_tail:
            raise Refused(f"{what} unpacks to more than {_mib(limit)}", "kubedrift does not read it")
        if not inflater.eof:
            raise EOFError("the gzip stream ends early")
        data = inflater.unused_data.lstrip(b"\0")
    return bytes(out)


def _mib(size: int) -> str:
    """A size limit as people read it: `100 MiB`, or bytes below one MiB (tests lower the limits)."""
    return f"{size // (1024 * 1024)} MiB" if size >= 1024 * 1024 else f"{size} bytes"
