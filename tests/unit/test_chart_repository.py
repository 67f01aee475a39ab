"""Charts from a Helm repository that the test serves itself (an HTTP index, and a small OCI registry):
versions chosen as Argo CD and Helm choose them, the archive checked and unpacked safely, the cache and
its index interval, and every failure as one sentence that never shows a credential."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from core import chart_archive as archive_module
from core import chart_repository
from core.chart_repository import INDEX_TTL_SECONDS, ChartRelease, ChartRepository
from core.errors import GitSourceError
from core.helm_chart import render_chart
from core.source_options import HelmOptions
from tests.oci_registry import Registry, serving

SECRET = "s3cr3t-t0ken"


# A chart, packaged as `helm package` would -----------------------------------------------------


def member(name: str, data: bytes = b"", **changes: Any) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in changes.items():
        setattr(info, key, value)
    return info, data


def archive(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A .tgz with fixed times, so the same chart always has the same sha256."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as writer:
        for info, data in members:
            writer.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return gzip.compress(tar.getvalue(), mtime=0)


def chart_archive(name: str, version: str) -> bytes:
    configmap = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\n"
        "data:\n  chartVersion: {{ .Chart.Version | quote }}\n  colour: {{ .Values.colour | quote }}\n"
    )
    return archive(
        member(f"{name}/Chart.yaml", f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode()),
        member(f"{name}/values.yaml", b"colour: teal\n"),
        member(f"{name}/templates/configmap.yaml", configmap.encode()),
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The repository server ---------------------------------------------------------------------------


class ChartServer:
    """A static HTTP server over `files`, with ETags, redirects and basic auth, that logs every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.redirects: dict[str, str] = {}
        """Path prefix -> the prefix it is redirected to."""
        self.password: str | None = None
        """When set, paths under /charts need basic auth `user:<password>`."""
        self.log: list[tuple[str, str, int, str | None]] = []
        """(Method, path, status, Authorization header) of every request."""
        self.lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True).start()

    def count(self, path: str, status: int | None = None) -> int:
        with self.lock:
            return sum(1 for _, p, s, _ in self.log if p == path and status in (None, s))

    def publish(
        self, name: str, *versions: str, digest: bool = True, absolute: bool = False, folder: str = "/charts"
    ) -> dict[str, bytes]:
        """Each version's archive beside index.yaml, listed in it (with its digest unless told not to)."""
        index: dict[str, Any] = {"apiVersion": "v1", "entries": {}}
        archives = {}
        for version in versions:
            data = archives[version] = chart_archive(name, version)
            self.files[f"{folder}/{name}-{version}.tgz"] = data
            url = f"{self.url}{folder}/{name}-{version}.tgz" if absolute else f"{name}-{version}.tgz"
            entry = {"apiVersion": "v2", "name": name, "version": version, "urls": [url]}
            if digest:
                entry["digest"] = sha256(data)
            index["entries"].setdefault(name, []).append(entry)
        self.write_index(index, folder)
        return archives

    def write_index(self, index: dict[str, Any], folder: str = "/charts") -> None:
        self.files[f"{folder}/index.yaml"] = yaml.safe_dump(index).encode()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, headers, body = server._answer(self.path, self.headers)
                with server.lock:
                    server.log.append(("GET", self.path, status, self.headers.get("Authorization")))
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _answer(self, path: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        for prefix, target in self.redirects.items():
            if path.startswith(prefix):
                return 302, {"Location": target + path[len(prefix) :]}, b""
        expected = "Basic " + base64.b64encode(f"user:{self.password}".encode()).decode()
        if self.password is not None and path.startswith("/charts") and headers["Authorization"] != expected:
            return 401, {"WWW-Authenticate": 'Basic realm="charts"'}, b"unauthorized"
        body = self.files.get(path.partition("?")[0])
        if body is None:
            return 404, {}, b"not found"
        etag = f'"{sha256(body)[:16]}"'
        if headers["If-None-Match"] == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"ETag": etag, "Content-Type": "application/octet-stream"}, body


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[ChartServer]:
    serving = ChartServer()
    yield serving
    serving.httpd.shutdown()
    serving.httpd.server_close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def repository(url: str, tmp_path: Path, clock: Clock | None = None, **options: Any) -> ChartRepository:
    return ChartRepository(url, cache_dir=tmp_path / "cache", timeout=5.0, clock=clock or Clock(), **options)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Choosing the version ----------------------------------------------------------------------------


def test_an_exact_version_is_downloaded_checked_and_unpacked(server: ChartServer, tmp_path: Path) -> None:
    archives = server.publish("demo", "1.2.3", "1.3.0")

    release = repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.2.3")

    digest = sha256(archives["1.2.3"])
    host = f"127.0.0.1_{server.httpd.server_port}"
    assert release == ChartRelease(
        "demo", "1.2.3", tmp_path / "cache" / host / "demo" / f"1.2.3-{digest[:12]}", digest
    )
    assert release.revision == f"1.2.3 (sha256:{digest[:12]})"
    assert "version: 1.2.3" in (release.folder / "Chart.yaml").read_text()
    assert sorted(p.relative_to(release.folder).as_posix() for p in release.folder.rglob("*.yaml")) == [
        "Chart.yaml",
        "templates/configmap.yaml",
        "values.yaml",
    ]


@pytest.mark.parametrize(
    ("target_revision", "expected"),
    [
        ("1.2.*", "1.2.10"),
        (">=1.0 <2.0", "1.3.0"),
        (">=1.0.0, <1.3.0", "1.2.10"),
        ("~1.2", "1.2.10"),
        ("^1", "1.3.0"),
        ("1.2", "1.2.10"),  # Masterminds reads a partial version as a range, as `helm pull --version` does
        ("1.2.3", "1.2.3"),
        ("1.2.3 || 2.0.0", "2.0.0"),
        ("*", "2.0.0"),
        ("", "2.0.0"),
    ],
)
def test_a_constraint_takes_the_highest_version_it_admits(
    server: ChartServer, tmp_path: Path, target_revision: str, expected: str
) -> None:
    server.publish("demo", "1.2.3", "1.2.10", "1.3.0", "2.0.0", "1.9.0-beta.1")

    assert repository(f"{server.url}/charts", tmp_path).fetch("demo", target_revision).version == expected


@pytest.mark.parametrize(
    ("target_revision", "expected"),
    [
        ("*", "1.0.0"),
        (">=1.0.0", "1.0.0"),
        ("*-0", "1.1.0-rc.10"),  # rc.10 is above rc.2: numeric identifiers compare as numbers
        (">=1.1.0-0", "1.1.0-rc.10"),
        ("1.1.0-rc.2", "1.1.0-rc.2"),
    ],
)
def test_pre_releases_match_only_a_constraint_that_names_one(
    server: ChartServer, tmp_path: Path, target_revision: str, expected: str
) -> None:
    server.publish("demo", "1.0.0", "1.1.0-rc.2", "1.1.0-rc.10")

    assert repository(f"{server.url}/charts", tmp_path).fetch("demo", target_revision).version == expected


def test_no_matching_version_names_the_newest_and_leaves_out_what_is_not_semver(
    server: ChartServer, tmp_path: Path
) -> None:
    server.publish("demo", "0.9.0", "1.0.0", "1.1.0-rc.1", "1.10.0", "1.9.0", "1.8.0", "1.7.0")
    index = yaml.safe_load(server.files["/charts/index.yaml"])
    index["entries"]["demo"] += [
        {"version": "latest", "urls": ["x.tgz"]},
        {"version": "2.0.0-01", "urls": []},
    ]
    server.write_index(index)

    with pytest.raises(GitSourceError) as caught:
        repository(f"{server.url}/charts", tmp_path).fetch("demo", ">=3.0")

    assert str(caught.value) == (
        f"chart demo >=3.0 from {server.url}/charts: no version matches "
        "(newest: 1.10.0, 1.9.0, 1.8.0, 1.7.0, 1.1.0-rc.1); change targetRevision"
    )


@pytest.mark.parametrize("target_revision", ["HEAD", "main", ">=>1"])
def test_a_target_revision_that_is_no_version_or_range_is_refused_before_any_request(
    server: ChartServer, tmp_path: Path, target_revision: str
) -> None:
    server.publish("demo", "1.0.0")

    with pytest.raises(GitSourceError, match="is not a chart version or range") as caught:
        repository(f"{server.url}/charts", tmp_path).fetch("demo", target_revision)

    assert f"targetRevision {target_revision!r}" in str(caught.value)
    assert "or * for the newest" in str(caught.value)
    assert server.log == []


# Where archives come from ----------------------------------------------------------------------


def test_relative_urls_resolve_under_repo_url_with_its_query_and_absolute_ones_are_used_as_written(
    server: ChartServer, tmp_path: Path
) -> None:
    archives = {version: chart_archive("demo", version) for version in ("1.0.0", "2.0.0", "3.0.0")}
    server.files["/charts/sub/demo-1.0.0.tgz"] = archives["1.0.0"]
    server.files["/elsewhere/demo-2.0.0.tgz"] = archives["2.0.0"]
    server.files["/mirror/demo-3.0.0.tgz"] = archives["3.0.0"]
    urls = {"1.0.0": "sub/demo-1.0.0.tgz", "2.0.0": "../elsewhere/demo-2.0.0.tgz"}
    urls["3.0.0"] = f"{server.url}/mirror/demo-3.0.0.tgz"
    entries = [{"version": v, "urls": [urls[v]], "digest": sha256(archives[v])} for v in archives]
    server.write_index({"apiVersion": "v1", "entries": {"demo": entries}})
    charts = repository(f"{server.url}/charts/?team=a", tmp_path)

    for version in archives:
        assert charts.fetch("demo", version).digest == sha256(archives[version])

    requested = [path for _, path, status, _ in server.log if status == 200]
    assert requested == [
        "/charts/index.yaml?team=a",
        "/charts/sub/demo-1.0.0.tgz?team=a",  # Helm's ResolveReferenceURL keeps repoURL's query
        "/elsewhere/demo-2.0.0.tgz?team=a",
        "/mirror/demo-3.0.0.tgz",
    ]


def test_redirects_are_followed(server: ChartServer, tmp_path: Path) -> None:
    server.publish("demo", "1.0.0")
    server.redirects["/old/"] = f"{server.url}/charts/"

    release = repository(f"{server.url}/old", tmp_path).fetch("demo", "1.0.0")

    assert release.version == "1.0.0"
    assert server.count("/charts/index.yaml") == server.count("/charts/demo-1.0.0.tgz") == 1


def test_a_redirect_away_from_http_is_not_followed(server: ChartServer, tmp_path: Path) -> None:
    server.redirects["/charts/"] = "ftp://127.0.0.1/pub/"

    with pytest.raises(GitSourceError) as caught:
        repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.0.0")

    assert (
        "index.yaml cannot be read (the server answered 302 redirected to ftp://127.0.0.1/pub/index.yaml)"
        in str(caught.value)
    )


def test_an_index_written_as_json_is_read_as_helm_reads_it(server: ChartServer, tmp_path: Path) -> None:
    server.publish("demo", "1.0.0", "1.10.0")
    index = yaml.safe_load(server.files["/charts/index.yaml"])
    server.files["/charts/index.yaml"] = json.dumps(index).encode()

    assert repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.*").version == "1.10.0"


# The cache ---------------------------------------------------------------------------------------


def test_a_version_already_unpacked_is_not_downloaded_again(
    server: ChartServer, tmp_path: Path, clock: Clock
) -> None:
    server.publish("demo", "1.0.0")
    charts = repository(f"{server.url}/charts", tmp_path, clock)
    first = charts.fetch("demo", "1.*")

    clock.now += INDEX_TTL_SECONDS
    again = charts.fetch("demo", "1.*")
    restarted = repository(f"{server.url}/charts", tmp_path, clock).fetch("demo", "1.*")

    assert first == again == restarted
    assert server.count("/charts/demo-1.0.0.tgz") == 1
    assert server.count("/charts/index.yaml") == 3
    assert server.count("/charts/index.yaml", 304) == 1  # the same index is not sent twice to one reader


def test_an_index_without_digests_does_not_download_a_version_again(
    server: ChartServer, tmp_path: Path, clock: Clock
) -> None:
    archives = server.publish("demo", "1.0.0", digest=False)
    charts = repository(f"{server.url}/charts", tmp_path, clock)

    first = charts.fetch("demo", "1.0.0")
    clock.now += INDEX_TTL_SECONDS
    again = charts.fetch("demo", "1.0.0")

    assert first == again
    assert first.digest == sha256(archives["1.0.0"])
    assert server.count("/charts/demo-1.0.0.tgz") == 1


def test_the_index_is_read_again_only_after_the_interval_and_then_finds_a_new_version(
    server: ChartServer, tmp_path: Path, clock: Clock
) -> None:
    server.publish("demo", "1.2.3")
    charts = repository(f"{server.url}/charts", tmp_path, clock)
    assert charts.fetch("demo", "1.2.*").version == "1.2.3"

    server.publish("demo", "1.2.3", "1.2.4")
    seen = []
    for elapsed in (1.0, 30.0, INDEX_TTL_SECONDS - 0.1):
        clock.now = 1000.0 + elapsed
        seen.append(charts.fetch("demo", "1.2.*").version)
    assert seen == ["1.2.3", "1.2.3", "1.2.3"]
    assert server.count("/charts/index.yaml") == 1

    clock.now = 1000.0 + INDEX_TTL_SECONDS
    assert charts.fetch("demo", "1.2.*").version == "1.2.4"
    assert server.count("/charts/index.yaml") == 2

    server.publish("demo", "1.2.3", "1.2.4", "1.2.5")
    charts.refresh()
    assert charts.fetch("demo", "1.2.*").version == "1.2.5"


def test_two_readers_of_one_cache_unpack_a_version_once_between_them(
    server: ChartServer, tmp_path: Path
) -> None:
    server.publish("demo", "1.0.0")
    readers = [repository(f"{server.url}/charts", tmp_path) for _ in range(4)]
    releases: list[ChartRelease] = []

    threads = [
        threading.Thread(target=lambda r=r: releases.append(r.fetch("demo", "1.0.0"))) for r in readers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(releases) == 4 and len(set(releases)) == 1
    assert [p.name for p in releases[0].folder.parent.iterdir()] == [releases[0].folder.name]


# Refused downloads -------------------------------------------------------------------------------


def test_an_archive_that_does_not_match_the_index_digest_is_refused(
    server: ChartServer, tmp_path: Path
) -> None:
    archives = server.publish("demo", "1.0.0")
    index = yaml.safe_load(server.files["/charts/index.yaml"])
    index["entries"]["demo"][0]["digest"] = sha256(b"what the owner published")
    server.write_index(index)

    with pytest.raises(GitSourceError) as caught:
        repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.0.0")

    assert str(caught.value).startswith(
        f"chart demo 1.0.0 from {server.url}/charts: the archive of version 1.0.0 has sha256 "
        f"{sha256(archives['1.0.0'])[:12]}…, not the {sha256(b'what the owner published')[:12]}… "
        "index.yaml gives it; kubedrift refuses it"
    )
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (member("demo/../../escaped.yaml", b"x"), "'demo/../../escaped.yaml', which leads outside the chart"),
        (member("demo/templates/../../../escaped.yaml", b"x"), "which leads outside the chart"),
        (member("demo/C:/escaped.yaml", b"x"), "which leads outside the chart"),
        (member("demo\\..\\..\\escaped.yaml", b"x"), "which leads outside the chart"),
        (
            member("demo/templates/link.yaml", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
            "a link or a device",
        ),
        (member("demo/templates/hard.yaml", type=tarfile.LNKTYPE, linkname="../../x"), "a link or a device"),
        (member("demo/templates/fifo", type=tarfile.FIFOTYPE), "a link or a device"),
        (member("Chart.yaml", b"name: top\n"), "has its Chart.yaml outside a folder"),
        (member("demo/big.bin", bytes(5 * 1024 * 1024 + 1)), "'demo/big.bin', larger than 5 MiB"),
    ],
)
def test_an_unsafe_archive_is_refused_whole(
    server: ChartServer, tmp_path: Path, entry: tuple[tarfile.TarInfo, bytes], problem: str
) -> None:
    data = archive(member("demo/Chart.yaml", b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"), entry)
    server.files["/charts/demo-1.0.0.tgz"] = data
    entries = [{"version": "1.0.0", "urls": ["demo-1.0.0.tgz"], "digest": sha256(data)}]
    server.write_index({"apiVersion": "v1", "entries": {"demo": entries}})

    with pytest.raises(GitSourceError) as caught:
        repository(f"{server.url}/charts", tmp_path / "deep" / "er").fetch("demo", "1.0.0")

    assert problem in str(caught.value)
    assert "kubedrift refuses to unpack it; tell the repository's owner" in str(caught.value)
    assert not list(tmp_path.rglob("escaped.yaml"))
    assert not [p for p in (tmp_path / "deep").rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not gzip at all", "is not a chart archive"),
        (gzip.compress(b"not a tar stream" * 64, mtime=0), "is not a chart archive"),
        (chart_archive("demo", "1.0.0")[:-40], "is not a chart archive"),
        (archive(member("demo/values.yaml", b"a: 1\n")), "has no Chart.yaml in its folder"),
    ],
)
def test_a_download_that_is_not_a_chart_is_refused(
    server: ChartServer, tmp_path: Path, body: bytes, problem: str
) -> None:
    server.files["/charts/demo-1.0.0.tgz"] = body
    server.write_index(
        {"apiVersion": "v1", "entries": {"demo": [{"version": "1.0.0", "urls": ["demo-1.0.0.tgz"]}]}}
    )

    with pytest.raises(GitSourceError, match=problem):
        repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.0.0")


def test_an_archive_that_unpacks_past_the_limit_is_refused(
    server: ChartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive_module, "MAX_CHART_BYTES", 64 * 1024)
    server.files["/charts/demo-1.0.0.tgz"] = archive(
        member("demo/Chart.yaml", b"apiVersion: v2\nname: demo\nversion: 1.0.0\n"),
        *(member(f"demo/files/{n}.txt", bytes(16 * 1024)) for n in range(8)),
    )
    server.write_index(
        {"apiVersion": "v1", "entries": {"demo": [{"version": "1.0.0", "urls": ["demo-1.0.0.tgz"]}]}}
    )

    with pytest.raises(GitSourceError, match="unpacks to more than"):
        repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.0.0")


# Failures as one sentence ------------------------------------------------------------------------


def test_an_unreachable_repository_is_one_sentence_without_its_credentials(tmp_path: Path) -> None:
    port = closed_port()

    with pytest.raises(GitSourceError) as caught:
        repository(f"http://user:{SECRET}@127.0.0.1:{port}/charts", tmp_path).fetch("demo", "1.2.*")

    assert str(caught.value) == (
        f"chart demo 1.2.* from http://127.0.0.1:{port}/charts: "
        "index.yaml cannot be read (Connection refused); "
        "check repoURL and the network (kubedrift tries again on the next poll)"
    )


@pytest.mark.parametrize(
    ("index", "problem"),
    [
        (b"apiVersion: v1\nentries: [unclosed\n", "index.yaml is not YAML ("),
        (b"<html>Not a repository</html>\n", "index.yaml has no apiVersion"),
        (b"apiVersion: v1\nentries: [a, b]\n", "the entries of index.yaml are not a map"),
        (None, "index.yaml cannot be read (the server answered 404 Not Found); check repoURL"),
        (b"apiVersion: v1\nentries: {}\n" + b"#" * 4096, "index.yaml is larger than 0 MiB"),
        (
            b"apiVersion: v1\nentries:\n  demo-app: []\n  other: []\n",
            "no chart demo (did you mean demo-app?)",
        ),
        (b"apiVersion: v1\nentries:\n  a: []\n  b: []\n", "no chart demo (it has a, b); fix source.chart"),
        (
            b"apiVersion: v1\nentries:\n  demo: []\n",
            "the repository lists no version of it; fix source.chart",
        ),
    ],
)
def test_an_index_that_cannot_be_used_is_one_sentence(
    server: ChartServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, index: bytes | None, problem: str
) -> None:
    monkeypatch.setattr(chart_repository, "MAX_INDEX_BYTES", 1024)
    if index is not None:
        server.files["/charts/index.yaml"] = index

    with pytest.raises(GitSourceError) as caught:
        repository(f"{server.url}/charts", tmp_path).fetch("demo", "1.0.0")

    assert str(caught.value).startswith(f"chart demo 1.0.0 from {server.url}/charts: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    "repo_url", ["git@github.com:org/charts.git", "ftp://example.com/charts", "/srv/charts"]
)
def test_a_repo_url_that_is_no_helm_repository_is_refused(tmp_path: Path, repo_url: str) -> None:
    with pytest.raises(GitSourceError, match=r"use https://host/path \(its index.yaml\) or oci://host/path"):
        repository(repo_url, tmp_path)


def test_credentials_go_only_to_the_repository_and_never_into_a_message_or_path(
    server: ChartServer, tmp_path: Path
) -> None:
    server.password = SECRET
    mirrored = chart_archive("demo", "1.0.0")
    server.files["/mirror/demo-1.0.0.tgz"] = mirrored
    local = chart_archive("demo", "2.0.0")
    server.files["/charts/demo-2.0.0.tgz"] = local
    mirror = f"http://localhost:{server.httpd.server_port}/mirror/demo-1.0.0.tgz"  # another origin
    entries = [
        {"version": "1.0.0", "urls": [mirror], "digest": sha256(mirrored)},
        {"version": "2.0.0", "urls": ["demo-2.0.0.tgz"], "digest": sha256(local)},
    ]
    server.write_index({"apiVersion": "v1", "entries": {"demo": entries}})
    charts = repository(
        f"http://user:{SECRET}@127.0.0.1:{server.httpd.server_port}/charts?token=abc", tmp_path
    )

    releases = [charts.fetch("demo", "2.0.0"), charts.fetch("demo", "1.0.0")]
    with pytest.raises(GitSourceError) as missing:
        charts.fetch("other", "1.0.0")
    with pytest.raises(GitSourceError) as refused:
        repository(f"http://user:wrong-{SECRET}@127.0.0.1:{server.httpd.server_port}/charts", tmp_path).fetch(
            "demo", "2.0.0"
        )

    authorizations = {path.partition("?")[0]: auth for _, path, _, auth in server.log}
    assert authorizations["/charts/demo-2.0.0.tgz"] is not None
    assert authorizations["/mirror/demo-1.0.0.tgz"] is None  # Helm's passCredentialsAll: false
    assert all(SECRET not in str(release.folder) for release in releases)
    assert not [p for p in tmp_path.rglob("*") if SECRET in p.name]
    assert str(missing.value).startswith(
        f"chart other 1.0.0 from http://127.0.0.1:{server.httpd.server_port}/charts: "
    )
    assert "token" not in str(missing.value) and SECRET not in str(missing.value)
    assert str(refused.value) == (
        f"chart demo 2.0.0 from http://127.0.0.1:{server.httpd.server_port}/charts: "
        "index.yaml cannot be read "
        "(the server answered 401 Unauthorized); put user:token@ before the host in repoURL"
    )
    assert SECRET not in str(refused.value)


# Rendering what was fetched ----------------------------------------------------------------------


def test_the_fetched_chart_renders_with_helms_engine(server: ChartServer, tmp_path: Path) -> None:
    server.publish("demo", "1.4.2")
    release = repository(f"{server.url}/charts", tmp_path).fetch("demo", "~1.4")

    stream = render_chart(
        release.folder, HelmOptions(values="colour: amber\n"), release_name="shop", namespace="x"
    )

    documents = [document for document in yaml.safe_load_all(stream) if document]
    assert [(d["kind"], d["metadata"]["name"], d["data"]) for d in documents] == [
        ("ConfigMap", "shop-settings", {"chartVersion": "1.4.2", "colour": "amber"})
    ]


# OCI registries ----------------------------------------------------------------------------------


@pytest.fixture
def registry() -> Iterator[Registry]:
    yield from serving(Registry())


def push_chart(registry: Registry, name: str, version: str) -> bytes:
    """A chart as `helm push` writes it into the registry; its archive."""
    return registry.push(name, version, chart_archive(name, version))


def test_an_oci_chart_resolves_a_constraint_against_its_tags_and_is_cached(
    registry: Registry, tmp_path: Path, clock: Clock
) -> None:
    layers = {version: push_chart(registry, "demo", version) for version in ("1.0.0", "1.1.0", "2.0.0-rc.1")}
    charts = repository(f"oci://{registry.host}/charts", tmp_path, clock, plain_http=True)

    release = charts.fetch("demo", "1.*")
    assert (release.version, release.digest) == ("1.1.0", sha256(layers["1.1.0"]))
    assert "version: 1.1.0" in (release.folder / "Chart.yaml").read_text()
    assert charts.fetch("demo", "*-0").version == "2.0.0-rc.1"
    assert registry.requests("blobs") == 4  # a config and a layer for each version pulled

    asked = len(registry.log)
    assert charts.fetch("demo", "1.*") == release
    assert len(registry.log) == asked  # within the interval, nothing is asked again

    clock.now += INDEX_TTL_SECONDS
    assert charts.fetch("demo", "1.*") == release
    restarted = repository(f"oci://{registry.host}/charts", tmp_path, clock, plain_http=True)
    assert restarted.fetch("demo", "1.1.0") == release
    assert registry.requests("blobs") == 4  # tags and a manifest were read again; no archive


def test_an_oci_chart_with_credentials_in_repo_url_logs_in_without_showing_them(tmp_path: Path) -> None:
    registry = Registry(password=SECRET)
    try:
        layer = push_chart(registry, "demo", "1.0.0")
        charts = repository(f"oci://user:{SECRET}@{registry.host}/charts", tmp_path, plain_http=True)
        assert charts.fetch("demo", "1.0.0").digest == sha256(layer)

        with pytest.raises(GitSourceError) as caught:
            repository(f"oci://user:wrong@{registry.host}/charts", tmp_path, plain_http=True).fetch(
                "demo", "1.0.0"
            )
    finally:
        registry.httpd.shutdown()
        registry.httpd.server_close()

    assert str(caught.value).startswith(
        f"chart demo 1.0.0 from oci://{registry.host}/charts: the registry answered"
    )
    assert "wrong" not in str(caught.value)
    assert not [p for p in tmp_path.rglob("*") if SECRET in p.name]


def test_an_unreachable_registry_is_one_sentence_without_its_credentials(tmp_path: Path) -> None:
    port = closed_port()

    with pytest.raises(GitSourceError) as caught:
        repository(f"oci://user:{SECRET}@127.0.0.1:{port}/charts", tmp_path, plain_http=True).fetch(
            "demo", "1.*"
        )

    message = str(caught.value)
    assert message.startswith(f"chart demo 1.* from oci://127.0.0.1:{port}/charts: the registry answered")
    assert "connection refused" in message
    assert message.endswith(
        "check repoURL, source.chart and the network; kubedrift tries again on the next poll"
    )
    assert SECRET not in message and "\n" not in message


def test_an_oci_chart_without_a_matching_tag_names_the_newest(registry: Registry, tmp_path: Path) -> None:
    push_chart(registry, "demo", "1.0.0")
    push_chart(registry, "demo", "1.1.0+build.7")

    with pytest.raises(GitSourceError) as caught:
        repository(f"oci://{registry.host}/charts", tmp_path, plain_http=True).fetch("demo", "^2")

    assert str(caught.value) == (
        f"chart demo ^2 from oci://{registry.host}/charts: "
        "no version matches (newest: 1.1.0+build.7, 1.0.0); "
        "change targetRevision"
    )
