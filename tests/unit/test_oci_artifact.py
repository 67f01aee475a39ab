"""Flux artifacts pulled from an OCI registry the test serves itself: the tag, semver range or digest
chosen as source-controller chooses it, Flux's revision, auth (anonymous bearer tokens, credentials),
every manifest and blob checked against its digest, the layer chosen and unpacked safely, the cache,
and each failure as one sentence naming the OCIRepository's field."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core import oci_artifact as oci_artifact_module
from core import oci_layer
from core.errors import GitSourceError
from core.model import revision_label
from core.oci_artifact import ArtifactRelease, OciArtifactOptions, OciArtifacts, ReferenceKind
from core.oci_registry import RegistryCredentials
from tests.oci_registry import (
    FLUX_CONFIG,
    FLUX_LAYER,
    OCI_INDEX,
    Registry,
    flux_layer,
    serving,
    tar_gz,
    tar_member,
)

SECRET = "s3cr3t-registry-password"
REPOSITORY = "manifests/podinfo"
DECLARED = "clusters/production/podinfo.yaml:1: OCIRepository flux-system/podinfo"


def configmap(message: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: ui}}\ndata: {{message: {message!r}}}\n"


@pytest.fixture
def registry() -> Iterator[Registry]:
    yield from serving(Registry())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def artifacts(
    registry: Registry,
    tmp_path: Path,
    clock: Clock | None = None,
    *,
    repository: str = REPOSITORY,
    **options: Any,
) -> OciArtifacts:
    chosen = OciArtifactOptions(insecure=True, declared=DECLARED, **options)
    return OciArtifacts(
        f"oci://{registry.host}/{repository}",
        chosen,
        cache_dir=tmp_path / "cache",
        timeout=5.0,
        clock=clock or Clock(),
    )


def files_of(release: ArtifactRelease) -> dict[str, str]:
    return {
        path.relative_to(release.folder).as_posix(): path.read_text()
        for path in sorted(release.folder.rglob("*"))
        if path.is_file()
    }


def failure(store: OciArtifacts, reference: str, kind: ReferenceKind | None = None) -> str:
    with pytest.raises(GitSourceError) as caught:
        store.fetch(reference, kind)
    message = str(caught.value)
    assert "\n" not in message and SECRET not in message
    return message


# Choosing the reference ------------------------------------------------------------------------


def test_a_tag_is_resolved_by_head_and_its_layer_unpacked_under_flux_revision(
    registry: Registry, tmp_path: Path
) -> None:
    digest = registry.push_artifact(REPOSITORY, "6.7.0", {"deploy/ui.yaml": configmap("hello")})

    release = artifacts(registry, tmp_path).fetch("6.7.0")

    assert release.revision == f"6.7.0@{digest}"
    assert revision_label(release.revision, 7) == f"6.7.0@{digest.removeprefix('sha256:')[:7]}"
    assert files_of(release) == {"deploy/ui.yaml": configmap("hello")}
    assert release.folder == tmp_path / "cache" / registry.host.replace(":", "_") / REPOSITORY / digest[7:]
    assert registry.requests("manifests", "HEAD") == 1, "the tag's digest comes from a HEAD, as Flux asks"


def test_without_a_reference_flux_pulls_latest(registry: Registry, tmp_path: Path) -> None:
    digest = registry.push_artifact(REPOSITORY, "latest", {"a.yaml": configmap("newest")})

    assert artifacts(registry, tmp_path).fetch("").revision == f"latest@{digest}"


@pytest.mark.parametrize(
    ("semver", "expected"),
    [
        (">=1.0.0", "1.10.0"),  # numeric order, not the registry's lexical one
        ("~1.2", "1.2.3"),
        ("<1.2.0", "v1.1.0"),  # a leading v is a version too
        (">=1.0.0-0", "2.0.0-rc.1"),  # pre-releases only when the range names one
    ],
)
def test_a_semver_range_takes_the_highest_strict_version_tag_across_pages(
    tmp_path: Path, semver: str, expected: str
) -> None:
    registry = Registry(page_size=2)
    try:
        for tag in ("v1.1.0", "1.2.3", "1.10.0", "2.0.0-rc.1", "1.11", "latest", "3.0.0.1"):
            registry.push_artifact(REPOSITORY, tag, {"a.yaml": configmap(tag)})
        release = artifacts(registry, tmp_path, reference=ReferenceKind.SEMVER).fetch(semver)
    finally:
        registry.close()

    assert release.revision.partition("@")[0] == expected
    assert registry.requests("tags") == 4, "seven tags in pages of two"


def test_a_semver_filter_keeps_only_the_tags_it_matches(registry: Registry, tmp_path: Path) -> None:
    for tag in ("1.0.0", "1.1.0-rc.1", "1.2.0"):
        registry.push_artifact(REPOSITORY, tag, {"a.yaml": configmap(tag)})
    store = artifacts(registry, tmp_path, reference=ReferenceKind.SEMVER, semver_filter=".*-rc.*")

    assert store.fetch(">=1.0.0-0").revision.startswith("1.1.0-rc.1@")


def test_a_digest_is_pulled_as_it_is_and_is_its_own_revision(registry: Registry, tmp_path: Path) -> None:
    first = registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("first")})
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("moved")})

    release = artifacts(registry, tmp_path, reference=ReferenceKind.DIGEST).fetch(first)

    assert release.revision == first
    assert revision_label(release.revision, 7) == f"sha256:{first[7:14]}"
    assert files_of(release) == {"a.yaml": configmap("first")}
    assert registry.requests("tags") == 0 and registry.requests("manifests", "HEAD") == 0


def test_a_past_revision_pins_its_digest_though_the_tag_moved(registry: Registry, tmp_path: Path) -> None:
    first = registry.push_artifact(REPOSITORY, "latest", {"a.yaml": configmap("first")})
    second = registry.push_artifact(REPOSITORY, "latest", {"a.yaml": configmap("second")})
    store = artifacts(registry, tmp_path)

    assert store.fetch("latest").revision == f"latest@{second}"
    past = store.fetch(f"latest@{first}")

    assert past.revision == f"latest@{first}" and files_of(past) == {"a.yaml": configmap("first")}


def test_an_index_stands_for_its_linux_amd64_manifest(registry: Registry, tmp_path: Path) -> None:
    arm = registry.push_artifact(REPOSITORY, None, {"a.yaml": configmap("arm64")})
    amd = registry.push_artifact(REPOSITORY, None, {"a.yaml": configmap("amd64")})
    index = registry.put_manifest(
        REPOSITORY,
        "1.0.0",
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"digest": digest, "platform": {"os": "linux", "architecture": architecture}}
                for digest, architecture in ((arm, "arm64"), (amd, "amd64"))
            ],
        },
    )

    release = artifacts(registry, tmp_path).fetch("1.0.0")

    assert release.revision == f"1.0.0@{index}", "the revision is the tag's own digest"
    assert files_of(release) == {"a.yaml": configmap("amd64")}


# Auth ------------------------------------------------------------------------------------------


def test_an_anonymous_bearer_token_is_fetched_once_and_sent_with_every_request(tmp_path: Path) -> None:
    registry = Registry(token=True)
    try:
        digest = registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})
        release = artifacts(registry, tmp_path).fetch("1.0.0")
    finally:
        registry.close()

    assert release.revision == f"1.0.0@{digest}"
    assert registry.issued == ["token-1"]
    token_requests = [(path, auth) for _, path, auth in registry.log if path.startswith("/token")]
    assert token_requests == [
        ("/token?service=test-registry&scope=repository%3Amanifests%2Fpodinfo%3Apull", None)
    ]
    after = [auth for _, path, auth in registry.log if path.startswith("/v2/")][1:]
    assert after and all(auth == "Bearer token-1" for auth in after)


def test_a_blob_redirected_to_storage_is_fetched_without_the_registrys_token(tmp_path: Path) -> None:
    registry, storage = Registry(token=True), Registry()
    registry.mirror = storage
    try:
        registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})
        release = artifacts(registry, tmp_path).fetch("1.0.0")
    finally:
        registry.close()
        storage.close()

    assert files_of(release) == {"a.yaml": configmap("x")}
    assert [(method, auth) for method, path, auth in storage.log] == [("GET", None)]


def test_credentials_go_to_the_token_service_and_a_wrong_password_names_the_secret_ref(
    tmp_path: Path,
) -> None:
    registry = Registry(password=SECRET, token=True)
    try:
        registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})
        good = RegistryCredentials("user", SECRET)
        assert artifacts(registry, tmp_path, credentials=good).fetch("1.0.0").revision.startswith("1.0.0@")
        wrong = artifacts(registry, tmp_path / "other", credentials=RegistryCredentials("user", "nope"))
        message = failure(wrong, "1.0.0")
    finally:
        registry.close()

    assert message.startswith(f"{DECLARED}: spec.secretRef: a token for the tag 1.0.0 cannot be read")
    assert message.endswith("; check the credentials of spec.secretRef")
    assert "nope" not in message and "user" not in repr(wrong.options)


def test_basic_auth_is_answered_with_the_credentials_and_refused_without(tmp_path: Path) -> None:
    registry = Registry(password=SECRET)
    try:
        registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})
        good = RegistryCredentials("user", SECRET)
        assert artifacts(registry, tmp_path, credentials=good).fetch("1.0.0").revision.startswith("1.0.0@")
        message = failure(artifacts(registry, tmp_path / "anonymous"), "1.0.0")
    finally:
        registry.close()

    assert message == (
        f"{DECLARED}: spec.secretRef: the tag 1.0.0 cannot be read (the registry answered 401 Unauthorized); "
        "give the OCIRepository a spec.secretRef with credentials for it"
    )
    assert SECRET not in repr(good)


def test_without_insecure_the_registry_is_spoken_to_over_https_only(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})
    store = OciArtifacts(
        f"oci://{registry.host}/{REPOSITORY}",
        OciArtifactOptions(declared=DECLARED),
        cache_dir=tmp_path / "cache",
        timeout=5.0,
    )

    message = failure(store, "1.0.0")

    assert message.startswith(f"{DECLARED}: spec.url: the tag 1.0.0 cannot be read: the registry")
    assert "cannot be reached" in message and "spec.insecure" in message
    assert registry.log == [], "no plain HTTP request was made"


# Integrity and the layer ---------------------------------------------------------------------


def test_a_blob_that_does_not_match_its_digest_is_refused_and_not_cached(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("real")})
    manifest = json.loads(registry.manifests[f"{REPOSITORY}:1.0.0"])
    layer = manifest["layers"][0]["digest"]
    registry.served[layer] = flux_layer({"a.yaml": configmap("tampered")})

    message = failure(artifacts(registry, tmp_path), "1.0.0")

    assert message.startswith(f"{DECLARED}: spec.ref.tag: the layer of 1.0.0@sha256:")
    assert f"not the {layer[:19]}… its manifest gives; kubedrift refuses it" in message
    assert not [path for path in tmp_path.rglob("a.yaml")]


def test_a_manifest_that_does_not_match_the_digest_asked_for_is_refused(
    registry: Registry, tmp_path: Path
) -> None:
    digest = registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("real")})
    registry.manifests[f"{REPOSITORY}@{digest}"] = registry.manifests[f"{REPOSITORY}:1.0.0"] + b" "

    message = failure(artifacts(registry, tmp_path, reference=ReferenceKind.DIGEST), digest)

    assert message.startswith(f"{DECLARED}: spec.ref.digest: the manifest {digest} as downloaded has")
    assert f"not {digest[:19]}…" in message


def test_the_layer_selector_picks_a_media_type_and_names_what_is_there_when_none_matches(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_image(
        REPOSITORY,
        "1.0.0",
        config=(FLUX_CONFIG, b"{}"),
        layers=[
            ("application/vnd.example.docs.v1.tar+gzip", flux_layer({"README.md": "docs"})),
            (FLUX_LAYER, flux_layer({"a.yaml": configmap("manifests")})),
        ],
    )

    chosen = artifacts(registry, tmp_path, layer_media_type=FLUX_LAYER).fetch("1.0.0")
    first = artifacts(registry, tmp_path).fetch("1.0.0")
    missing = failure(artifacts(registry, tmp_path, layer_media_type="application/x-none"), "1.0.0")

    assert files_of(chosen) == {"a.yaml": configmap("manifests")}
    assert files_of(first) == {"README.md": "docs"}, "without a selector, the first layer"
    assert chosen.folder != first.folder, "the selector is part of the cache key"
    assert missing.startswith(f"{DECLARED}: spec.layerSelector.mediaType: the artifact 1.0.0@sha256:")
    assert missing.endswith(
        f"has no layer of media type application/x-none (it has application/vnd.example.docs.v1.tar+gzip, "
        f"{FLUX_LAYER}); fix spec.layerSelector.mediaType"
    )


def test_a_layer_that_is_no_tar_gzip_archive_is_refused_before_it_is_downloaded(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_image(
        REPOSITORY,
        "1.0.0",
        config=(FLUX_CONFIG, b"{}"),
        layers=[("application/vnd.oci.image.layer.v1.tar", b"plain tar")],
    )

    message = failure(artifacts(registry, tmp_path), "1.0.0")

    assert "has media type application/vnd.oci.image.layer.v1.tar, which is not a tar+gzip archive" in message
    assert message.endswith("select the manifests' layer with spec.layerSelector.mediaType")
    assert registry.requests("blobs") == 0


def test_a_too_large_layer_is_refused_from_its_size_or_as_it_downloads(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})
    manifest = json.loads(registry.manifests[f"{REPOSITORY}:1.0.0"])
    manifest["layers"][0]["size"] = 200 * 1024 * 1024
    registry.put_manifest(REPOSITORY, "declared-big", manifest)
    manifest["layers"][0]["size"] = 10
    registry.put_manifest(REPOSITORY, "declared-small", manifest)

    declared = failure(artifacts(registry, tmp_path), "declared-big")
    assert registry.requests("blobs") == 0, "the declared size alone refuses it"
    monkeypatch.setattr(oci_artifact_module, "MAX_LAYER_BYTES", 100)
    downloaded = failure(artifacts(registry, tmp_path), "declared-small")

    assert "weighs 200 MiB, more than the 100 MiB kubedrift reads; make the artifact smaller" in declared
    assert "the layer of declared-small@sha256:" in downloaded
    assert "is larger than 100 bytes; kubedrift does not read it" in downloaded


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (tar_member("../escape.yaml", b"x"), "leads outside the artifact"),
        (tar_member("/etc/passwd", b"x"), "leads outside the artifact"),
        (tar_member("deploy/../../escape.yaml", b"x"), "leads outside the artifact"),
        (tar_member("deploy\\escape.yaml", b"x"), "leads outside the artifact"),
        (
            tar_member("hard.yaml", type=tarfile.LNKTYPE, linkname="deploy/a.yaml"),
            "is a hard link or a device",
        ),
        (tar_member("device", type=tarfile.CHRTYPE), "is a hard link or a device"),
    ],
)
def test_an_unsafe_entry_refuses_the_whole_layer(
    registry: Registry, tmp_path: Path, entry: tuple[tarfile.TarInfo, bytes], problem: str
) -> None:
    layer = tar_gz(tar_member("deploy/a.yaml", configmap("a").encode()), entry)
    registry.push_image(REPOSITORY, "1.0.0", config=(FLUX_CONFIG, b"{}"), layers=[(FLUX_LAYER, layer)])

    message = failure(artifacts(registry, tmp_path), "1.0.0")

    assert f"holds {entry[0].name!r}, which {problem}; kubedrift refuses to unpack it" in message
    assert not (tmp_path / "escape.yaml").exists()
    assert not list((tmp_path / "cache").rglob("a.yaml")), "nothing of a refused layer is kept"


def test_symlinks_are_skipped_as_flux_skips_them(registry: Registry, tmp_path: Path) -> None:
    layer = tar_gz(
        tar_member("deploy/a.yaml", configmap("a").encode()),
        tar_member("deploy/passwd.yaml", type=tarfile.SYMTYPE, linkname="/etc/passwd"),
        tar_member("deploy/b.yaml", type=tarfile.SYMTYPE, linkname="a.yaml"),
    )
    registry.push_image(REPOSITORY, "1.0.0", config=(FLUX_CONFIG, b"{}"), layers=[(FLUX_LAYER, layer)])

    release = artifacts(registry, tmp_path).fetch("1.0.0")

    assert files_of(release) == {"deploy/a.yaml": configmap("a")}
    assert not any(path.is_symlink() for path in release.folder.rglob("*"))


def test_a_layer_that_unpacks_past_the_limit_is_refused(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": "x" * 200_000})
    monkeypatch.setattr(oci_layer, "MAX_LAYER_BYTES", 100_000)

    message = failure(artifacts(registry, tmp_path), "1.0.0")

    assert "unpacks to more than 100000 bytes; kubedrift does not read it" in message


# The cache and polling ---------------------------------------------------------------------------


def test_a_tag_is_asked_again_only_after_the_interval_or_a_refresh_and_blobs_never_twice(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("one")})
    clock = Clock()
    store = artifacts(registry, tmp_path, clock, reference=ReferenceKind.SEMVER)

    first = store.fetch("1.*")
    asked = len(registry.log)
    assert store.fetch("1.*") == first
    assert len(registry.log) == asked, "within the interval, nothing is asked"

    store.refresh()  # a poll
    assert store.fetch("1.*") == first
    assert registry.requests("blobs") == 1 and registry.requests("tags") == 2

    newer = registry.push_artifact(REPOSITORY, "1.1.0", {"a.yaml": configmap("two")})
    assert store.fetch("1.*") == first, "the tag list answers until the interval is over"
    clock.now += oci_artifact_module.TAG_TTL_SECONDS
    second = store.fetch("1.*")
    assert second.revision == f"1.1.0@{newer}" and files_of(second) == {"a.yaml": configmap("two")}

    restarted = artifacts(registry, tmp_path, reference=ReferenceKind.SEMVER)
    blobs = registry.requests("blobs")
    assert restarted.fetch("1.*") == second
    assert registry.requests("blobs") == blobs, "a digest in the cache is never downloaded again"


# Failures ----------------------------------------------------------------------------------------


def test_an_unknown_tag_and_an_unknown_repository_name_their_fields(
    registry: Registry, tmp_path: Path
) -> None:
    registry.push_artifact(REPOSITORY, "1.0.0", {"a.yaml": configmap("x")})

    tag = failure(artifacts(registry, tmp_path), "9.9.9")
    repository = failure(artifacts(registry, tmp_path, repository="manifests/nothing"), "1.0.0")

    assert tag == (
        f"{DECLARED}: spec.ref.tag: the tag 9.9.9 is not in oci://{registry.host}/{REPOSITORY}; push it, "
        "or fix spec.url or spec.ref"
    )
    assert repository == (
        f"{DECLARED}: spec.url: oci://{registry.host}/manifests/nothing does not exist (the tag 1.0.0 was "
        "asked for); fix spec.url"
    )


def test_no_matching_tag_and_a_bad_range_are_one_sentence(registry: Registry, tmp_path: Path) -> None:
    for tag in ("1.0.0", "1.1.0"):
        registry.push_artifact(REPOSITORY, tag, {"a.yaml": configmap(tag)})
    store = artifacts(registry, tmp_path, reference=ReferenceKind.SEMVER)

    assert failure(store, ">=2.0.0") == (
        f"{DECLARED}: spec.ref.semver: no tag of oci://{registry.host}/{REPOSITORY} matches '>=2.0.0' "
        "(newest: 1.1.0, 1.0.0); push a matching tag, or change spec.ref.semver"
    )
    assert failure(store, "not a range").startswith(
        f"{DECLARED}: spec.ref.semver 'not a range' is not a semver range ("
    )


def test_an_unreachable_registry_names_spec_url(tmp_path: Path) -> None:
    registry = Registry()
    registry.close()
    store = artifacts(registry, tmp_path)

    message = failure(store, "1.0.0")

    assert message.startswith(
        f"{DECLARED}: spec.url: the tag 1.0.0 cannot be read: the registry {registry.host} cannot be "
        "reached ("
    )
    assert message.endswith(
        "; check spec.url, spec.insecure and the network; kubedrift tries again on the next poll"
    )
