"""A chart from a Helm repository (`source.chart`): `repoURL` an HTTP(S) index or an `oci://` registry,
`targetRevision` the chart's version, and the chart unpacked to a folder `core.helm_chart` renders.

Versions are chosen as Argo CD and Helm choose them (Argo CD's reposerver `newHelmClientResolveRevision`
and `versions.MaxVersion`, Helm's `IndexFile.Get`):
- `targetRevision` is an exact version (`1.2.3`, `v1.2`) or a Masterminds/semver constraint (`1.2.*`,
  `>=1.0 <2.0`, `^1.2`, `~1.2`, `1.0 - 2.0`, `a || b`); the highest version that matches is taken, and a
  version written exactly as asked wins first. `*` is the newest stable version; an empty targetRevision
  reads as `*`, as `helm pull` reads a missing `--version` (Argo CD refuses it).
- Pre-releases match only a constraint that names one (`*-0`, `>=1.2.0-0`), as Argo CD documents.
- Index entries whose version is not semver are left out (Helm's loadIndex); the first of `urls` is
  downloaded, resolved against repoURL when relative, keeping repoURL's query (Helm's ResolveReferenceURL).
- A user and password in repoURL are sent as basic auth, and only to repoURL's own scheme, host and port
  (Helm's `passCredentialsAll: false`); they never reach a message, a log or a path.
Constraints are checked by Helm's own engine: sprig's `semverCompare` is the Masterminds/semver v3 Helm and
Argo CD resolve with, asked through a one-template chart held in memory (about 1 ms a fetch).

What kubedrift adds to Helm: the archive's sha256 must equal the index's `digest` when it gives one (Helm v4
uses it only as a cache key); the index is read up to 64 MiB; an archive is read up to Helm's own loader
limits (100 MiB unpacked, 5 MiB a file); one entry with an absolute path, `..`, a link or a device makes
the whole archive refused.

Cache: `<cache_dir>/<host>/<chart>/<version>-<sha256[:12]>/` holds the chart's files (its Chart.yaml at the
top), written once through a rename and never changed, so any thread may render it. A folder already there
is not downloaded again; the index (or an OCI tag list) is read again at most every `index_ttl` seconds,
which is when a newly published version that matches is picked up. `fetch` holds one lock per
repository: share one `ChartRepository` per repoURL between apps.
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import yaml

from core.chart_archive import MAX_CHART_BYTES, Refused, extract, one_line
from core.chart_versions import NEWEST_SHOWN, check_constraint, helm_module, newest_first, pick, version_key
from core.errors import GitSourceError
from core.git_remote import default_cache_dir
from core.redact import redact_url

if TYPE_CHECKING:
    import helm_python

__all__ = ["INDEX_TTL_SECONDS", "ChartRelease", "ChartRepository", "default_chart_cache_dir"]

INDEX_TTL_SECONDS = 60.0
"""How long a read index (or OCI tag list) answers before it is read again."""
MAX_INDEX_BYTES = 64 * 1024 * 1024
_USER_AGENT = "kubedrift"
_PATH_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def default_chart_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/kubedrift/charts` (`~/.cache` by default), beside the Git clones."""
    return default_cache_dir().parent / "charts"


@dataclass(frozen=True, slots=True)
class ChartRelease:
    """One chart version, unpacked."""

    name: str
    version: str
    """The version as the repository writes it, resolved from targetRevision."""
    folder: Path
    """The chart's own folder (its Chart.yaml at the top); never changed once written."""
    digest: str
    """The archive's sha256, in hex."""

    @property
    def revision(self) -> str:
        """How the revision reads to a person, and what tells two fetches apart: `1.2.3 (sha256:0a1b…)`."""
        return f"{self.version} (sha256:{self.digest[:12]})"


@dataclass(frozen=True, slots=True)
class _Entry:
    version: str
    urls: tuple[str, ...]
    digest: str


class ChartRepository:
    """One Helm repository (`https://...` index or `oci://...` registry), its charts cached on disk."""

    def __init__(
        self,
        repo_url: str,
        *,
        cache_dir: Path,
        timeout: float = 20.0,
        index_ttl: float = INDEX_TTL_SECONDS,
        plain_http: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`timeout` bounds each HTTP(S) request, start to last byte (an OCI registry is read by Helm's
        own client, with Helm's timeouts); `plain_http` lets an `oci://` registry be spoken to over HTTP
        (Argo CD's `insecureOCIForceHttp`); `clock` is injected by tests."""
        self.display = redact_url(repo_url)
        """repoURL as it may be shown: without user, password or token."""
        parts = urlsplit(repo_url)
        self._scheme = parts.scheme.lower()
        if self._scheme not in ("http", "https", "oci") or not parts.hostname:
            raise GitSourceError(
                f"repoURL {self.display} is not a Helm repository kubedrift can read: "
                "use https://host/path (its index.yaml) or oci://host/path (a registry)"
            )
        self._username = unquote(parts.username or "")
        self._password = unquote(parts.password or "")
        netloc = parts.netloc.rpartition("@")[2]
        self._base = urlunsplit((self._scheme, netloc, parts.path, parts.query, ""))
        self._folder = cache_dir / _path_part(netloc.lower().replace(":", "_"))
        self._timeout = timeout
        self._ttl = index_ttl
        self._plain_http = plain_http
        self._clock = clock
        self._lock = threading.Lock()
        self._index: tuple[float, str, dict[str, Any]] | None = None
        """An HTTP repository's index: (when read, its ETag, its `entries` as read)."""
        self._charts: dict[str, tuple[dict[str, Any], tuple[str, ...], dict[str, _Entry]]] = {}
        """Chart -> (the `entries` it was read from, versions newest first, entries by version)."""
        self._unpacked: dict[tuple[str, str], ChartRelease] = {}
        """(Archive URL, index digest) -> its release: an index without digests is not downloaded again."""
        self._tags: dict[str, tuple[float, tuple[str, ...]]] = {}
        """An OCI chart -> (when its tags were listed, versions newest first)."""
        self._pulled: dict[tuple[str, str], tuple[float, ChartRelease]] = {}
        """An OCI (chart, version) -> (when its manifest was resolved, the release)."""
        self._opener = urllib.request.OpenerDirector()
        for handler in (
            urllib.request.ProxyHandler(),
            urllib.request.HTTPHandler(),
            urllib.request.HTTPSHandler(),
            _RedirectHandler(self._base, self._authorization()),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
        ):
            self._opener.add_handler(handler)

    def fetch(self, chart: str, version: str) -> ChartRelease:
        """The chart's version that `version` (a targetRevision) names, unpacked; GitSourceError if not."""
        wanted = version.strip() or "*"
        asked = f"chart {chart} {wanted} from {self.display}"
        if not chart or _path_part(chart) != chart:
            raise GitSourceError(f"{asked}: {chart!r} is not a chart name; fix source.chart")
        check_constraint(wanted, asked)
        with self._lock:
            try:
                if self._scheme == "oci":
                    return self._fetch_oci(chart, wanted, asked)
                return self._fetch_http(chart, wanted, asked)
            except Refused as refused:
                raise GitSourceError(f"{asked}: {refused.problem}; {refused.todo}") from None

    def refresh(self) -> None:
        """Forget the index and tag lists read, so the next fetch reads them again (a user's refresh)."""
        with self._lock:
            self._index = None
            self._unpacked.clear()
            self._tags.clear()
            self._pulled.clear()

    # HTTP(S) repositories ------------------------------------------------------------------------

    def _fetch_http(self, chart: str, wanted: str, asked: str) -> ChartRelease:
        versions, entries = self._versions_http(chart)
        entry = entries[pick(versions, wanted, asked)]
        if not entry.urls:
            raise Refused(f"index.yaml gives version {entry.version} no urls", "ask the repository's owner")
        url = _resolve_reference(self._base, entry.urls[0])
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise Refused(f"index.yaml points version {entry.version} at {redact_url(url)}", "use http(s)")
        known = self._unpacked.get((url, entry.digest))
        if known is not None and known.folder.is_dir():
            return known
        if entry.digest:
            folder = self._release_folder(chart, entry.version, entry.digest)
            if folder.is_dir():
                return ChartRelease(chart, entry.version, folder, entry.digest)
        data = self._get(url, f"the archive of version {entry.version}", MAX_CHART_BYTES)[0]
        assert data is not None  # only an index read sends an ETag
        digest = hashlib.sha256(data).hexdigest()
        if entry.digest and digest != entry.digest:
            raise Refused(
                f"the archive of version {entry.version} has sha256 {digest[:12]}…, "
                f"not the {entry.digest[:12]}… index.yaml gives it",
                "kubedrift refuses it and tries again on the next poll; if it persists, the repository's "
                "owner should re-index it",
            )
        release = self._unpack(chart, entry.version, digest, data)
        self._unpacked[(url, entry.digest)] = release
        return release

    def _versions_http(self, chart: str) -> tuple[tuple[str, ...], dict[str, _Entry]]:
        now = self._clock()
        if self._index is None or now - self._index[0] >= self._ttl:
            self._read_index(now)
        assert self._index is not None
        index = self._index[2]
        known = self._charts.get(chart)
        if known is not None and known[0] is index:
            return known[1], known[2]
        raw = index.get(chart)
        if not isinstance(raw, list):
            names = [name for name in index if isinstance(name, str)]
            close = difflib.get_close_matches(chart, names, n=3)
            some = ", ".join(sorted(names)[:NEWEST_SHOWN]) + (", …" if len(names) > NEWEST_SHOWN else "")
            hint = f"did you mean {', '.join(close)}?" if close else f"it has {some or 'none'}"
            raise Refused(f"index.yaml has no chart {chart} ({hint})", "fix source.chart or repoURL")
        entries: dict[str, _Entry] = {}
        for item in raw:
            entry = _entry(item)
            if entry is not None:
                entries.setdefault(entry.version, entry)
        versions = newest_first(entries)
        self._charts[chart] = (index, versions, entries)
        return versions, entries

    def _read_index(self, now: float) -> None:
        etag = self._index[1] if self._index is not None else ""
        url = _resolve_reference(self._base, "index.yaml")
        data, etag = self._get(url, "index.yaml", MAX_INDEX_BYTES, etag=etag)
        if data is None and self._index is not None:  # 304 Not Modified: the same index, as of now
            self._index = (now, etag, self._index[2])
            return
        try:
            document = yaml.load(data or b"", Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or "not valid YAML"
            raise Refused(
                f"index.yaml is not YAML ({problem})", "check that repoURL is a Helm repository"
            ) from None
        if not isinstance(document, dict) or not document.get("apiVersion"):
            raise Refused("index.yaml has no apiVersion", "check that repoURL is a Helm repository")
        entries = document.get("entries") or {}
        if not isinstance(entries, dict):
            raise Refused(
                "the entries of index.yaml are not a map", "check that repoURL is a Helm repository"
            )
        self._index = (now, etag, entries)

    def _authorization(self) -> str:
        if not (self._username or self._password):
            return ""
        return "Basic " + b64encode(f"{self._username}:{self._password}".encode()).decode()

    def _get(self, url: str, what: str, limit: int, *, etag: str = "") -> tuple[bytes | None, str]:
        """The body at `url` (None when the server answers 304 to `etag`), at most `limit` bytes."""
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        if etag:
            request.add_header("If-None-Match", etag)
        if _same_origin(url, self._base) and self._authorization():
            request.add_unredirected_header("Authorization", self._authorization())
        deadline = time.monotonic() + self._timeout
        too_big = Refused(f"{what} is larger than {limit // 2**20} MiB", "kubedrift does not read it")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > limit:
                    raise too_big
                body = bytearray()
                while chunk := response.read(65536):
                    body += chunk
                    if len(body) > limit:
                        raise too_big
                    if time.monotonic() > deadline:
                        raise TimeoutError("timed out")
                return bytes(body), str(response.headers.get("ETag", ""))
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304 and etag:
                return None, etag
            todo = {
                401: "put user:token@ before the host in repoURL",
                403: "check the credentials in repoURL",
                404: "check repoURL and that the repository still publishes it",
            }.get(exc.code, "kubedrift tries again on the next poll")
            raise Refused(
                f"{what} cannot be read (the server answered {exc.code} {exc.reason})", todo
            ) from None
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            shown = reason.strerror if isinstance(reason, OSError) and reason.strerror else str(reason)
            raise Refused(
                f"{what} cannot be read ({one_line(shown)})",
                "check repoURL and the network (kubedrift tries again on the next poll)",
            ) from None

    # OCI registries ------------------------------------------------------------------------------

    def _fetch_oci(self, chart: str, wanted: str, asked: str) -> ChartRelease:
        helm = helm_module(asked)
        ref = f"{self._base.rstrip('/')}/{chart}"
        now = self._clock()
        listed = self._tags.get(chart)
        if listed is None or now - listed[0] >= self._ttl:
            with self._registry(helm) as client:
                tags = client.tags(ref)
            listed = self._tags[chart] = (now, newest_first(tag for tag in tags if version_key(tag)))
        version = pick(listed[1], wanted, asked)
        pulled = self._pulled.get((chart, version))
        if pulled is not None and now - pulled[0] < self._ttl:
            return pulled[1]
        with self._registry(helm) as client:
            manifest = str(client.resolve(f"{ref}:{version.replace('+', '_')}")["digest"])
            marker = self._folder / _path_part(chart) / ".oci" / _path_part(manifest)
            digest = marker.read_text().strip() if marker.is_file() else ""
            folder = self._release_folder(chart, version, digest) if digest else None
            if folder is None or not folder.is_dir():
                release = self._unpack(chart, version, *self._pull(helm, client, ref, version))
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(release.digest)
            else:
                release = ChartRelease(chart, version, folder, digest)
        self._pulled[(chart, version)] = (now, release)
        return release

    def _pull(
        self, helm: Any, client: helm_python.RegistryClient, ref: str, version: str
    ) -> tuple[str, bytes]:
        self._folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".pull-", dir=self._folder) as destination:
            helm.pull(
                ref, client=client, destination=destination, version=version, plain_http=self._plain_http
            )
            archives = list(Path(destination).glob("*.tgz"))
            if len(archives) != 1 or archives[0].stat().st_size > MAX_CHART_BYTES:
                raise Refused(
                    "the registry's archive is missing or too large", "check the chart in the registry"
                )
            data = archives[0].read_bytes()
        return hashlib.sha256(data).hexdigest(), data

    @contextmanager
    def _registry(self, helm: Any) -> Iterator[helm_python.RegistryClient]:
        """A registry client; with repoURL's credentials logged in to a private, throwaway file."""
        with tempfile.TemporaryDirectory(prefix="kubedrift-oci-") as private:
            credentials = Path(private, "config.json") if self._username else None
            try:
                with helm.RegistryClient(plain_http=self._plain_http, credentials_file=credentials) as client:
                    if self._username:
                        host = urlsplit(self._base).netloc
                        client.login(host, self._username, self._password, plain_http=self._plain_http)
                    yield client
            except helm.HelmError as exc:
                raise Refused(
                    f"the registry answered: {one_line(exc.detail)}",
                    "check repoURL, source.chart and the network; kubedrift tries again on the next poll",
                ) from None

    # The cache -----------------------------------------------------------------------------------

    def _release_folder(self, chart: str, version: str, digest: str) -> Path:
        return self._folder / _path_part(chart) / f"{_path_part(version)}-{digest[:12]}"

    def _unpack(self, chart: str, version: str, digest: str, data: bytes) -> ChartRelease:
        """The archive unpacked into its cache folder through a rename, so no reader sees half a chart."""
        folder = self._release_folder(chart, version, digest)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=folder.parent))
        except OSError as exc:
            raise Refused(
                f"the cache {folder.parent} cannot be written ({exc.strerror})", "free it"
            ) from None
        try:
            extract(data, staging, f"the archive of version {version}")
            try:
                staging.rename(folder)
            except OSError:
                if not folder.is_dir():  # else another fetch unpacked the same archive first
                    raise
        except OSError as exc:
            raise Refused(
                f"the cache {folder} cannot be written ({exc.strerror})", "check its disk"
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return ChartRelease(chart, version, folder, digest)


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Redirects within http(s) only; repoURL's credentials follow only to repoURL's own origin."""

    def __init__(self, base: str, authorization: str) -> None:
        self._base = base
        self._authorization = authorization

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(
                req.full_url, code, f"redirected to {redact_url(newurl)}", headers, fp
            )
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and self._authorization and _same_origin(newurl, self._base):
            new.add_unredirected_header("Authorization", self._authorization)
        return new


# Index entries and URLs -----------------------------------------------------------------------


def _entry(item: object) -> _Entry | None:
    """An index entry with a semver version, as Helm's loadIndex keeps them (BaseLoader: all strings)."""
    if not isinstance(item, dict):
        return None
    version, urls, digest = item.get("version"), item.get("urls") or [], item.get("digest") or ""
    if not isinstance(version, str) or version_key(version) is None:
        return None
    kept = tuple(url for url in urls if isinstance(url, str)) if isinstance(urls, list) else ()
    digest = digest.lower().removeprefix("sha256:") if isinstance(digest, str) else ""
    return _Entry(version, kept, digest)


def _resolve_reference(base: str, reference: str) -> str:
    """Helm's ResolveReferenceURL: an absolute URL as it is; else under repoURL's path, with its query."""
    if urlsplit(reference).scheme:
        return reference
    parts = urlsplit(base)
    joined = urlsplit(
        urljoin(urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/", query="")), reference)
    )
    return urlunsplit(joined._replace(query=parts.query, fragment=""))


def _same_origin(url: str, base: str) -> bool:
    one, other = urlsplit(url), urlsplit(base)
    return (one.scheme.lower(), one.hostname, one.port) == (other.scheme.lower(), other.hostname, other.port)


def _path_part(text: str) -> str:
    """`text` as one folder name: no separator, no `..`, nothing a shell or Windows would trip on."""
    safe = _PATH_UNSAFE.sub("_", text)
    return "_" if safe in ("", ".", "..") else safe
