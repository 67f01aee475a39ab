"""A layer of an OCI artifact (a tar+gzip archive) unpacked as source-controller unpacks it: fluxcd/pkg's
`tar.Untar` with `WithSkipSymlinks`.

- An entry whose name is absolute, climbs out with `..`, holds a backslash or a drive letter fails the
  whole layer, as Untar's `validRelPath` does.
- Symlinks are skipped, so no link inside the artifact can lead anywhere.
- A hard link, a device, a FIFO or a sparse file fails the whole layer (Untar refuses what is neither
  a file nor a folder).
- The layer is read up to 100 MiB unpacked (Untar's default limit, which source-controller lifts).
"""

from __future__ import annotations

import io
import posixpath
import re
import tarfile
import zlib
from pathlib import Path

from core.chart_archive import Refused, gunzip, one_line

MAX_LAYER_BYTES = 100 * 1024 * 1024
"""The most a layer may weigh, as downloaded and as unpacked (fluxcd/pkg tar's default limit)."""
_DRIVE = re.compile(r"^[A-Za-z]:")


def unpack(data: bytes, target: Path, what: str) -> None:
    """A tar+gzip layer's files written under `target`, as fluxcd/pkg's Untar writes them (symlinks
    skipped); an entry that would leave `target`, a hard link or a device refuses the whole layer."""
    unsafe = "kubedrift refuses to unpack it; push the artifact again from a plain folder"
    try:
        with tarfile.open(fileobj=io.BytesIO(gunzip(data, what, MAX_LAYER_BYTES)), mode="r:") as archive:
            for member in archive:
                name = member.name
                path = posixpath.normpath(name)
                if (
                    not name
                    or "\\" in name
                    or name.startswith("/")
                    or path == ".."
                    or path.startswith("../")
                    or _DRIVE.match(name)
                ):
                    raise Refused(f"{what} holds {name!r}, which leads outside the artifact", unsafe)
                if member.issym():
                    continue
                destination = target.joinpath(*path.split("/")) if path != "." else target
                if member.isdir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile() or member.issparse():
                    raise Refused(f"{what} holds {name!r}, which is a hard link or a device", unsafe)
                stream = archive.extractfile(member)
                assert stream is not None
                destination.parent.mkdir(parents=True, exist_ok=True)
                destination.write_bytes(stream.read())
    except (tarfile.TarError, EOFError, zlib.error, UnicodeError) as exc:
        raise Refused(f"{what} is not a tar+gzip archive ({one_line(str(exc))})", unsafe) from None
    except OSError as exc:  # a file where a folder was (or the other way round), or a full disk
        raise Refused(f"{what} cannot be unpacked ({exc.strerror or exc})", unsafe) from None
