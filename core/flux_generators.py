"""Flux 2.7's ArtifactGenerators (source-watcher, `source.extensions.fluxcd.io/v1beta1`), as the
source of the Kustomizations that read the ExternalArtifacts they generate.

An ArtifactGenerator names its sources by alias (`spec.sources`) and lists its artifacts
(`spec.artifacts`): each one an ExternalArtifact of that name, in the generator's namespace, built by
copy operations from the sources (`core.flux_artifact`). A Kustomization whose `sourceRef` is
`kind: ExternalArtifact` becomes an app reading the Git repository those copies read, at its revision,
with the copies in its options: the renderer builds the artifact from the repository's files, and the
Kustomization's `path` is inside the artifact.

One artifact is read from one Git repository: every alias its copies use must be a GitRepository
(the same one, or one at the same URL and revision). Other source kinds (OCIRepository, Bucket,
HelmChart, ExternalArtifact), `strategy: Extract` and `pathPattern` are app errors naming their field.
`revision` and `originRevision` only say how Flux names the artifact's revision; the app's revision
is the repository's commit either way.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.config_yaml import YamlField
from core.flux_artifact import ArtifactCopy, FluxArtifact
from core.flux_globs import GLOB_CHARACTERS, exclude_problem, glob_problem
from core.flux_sources import NOT_YET, GitSource, SourceIndex
from core.flux_values import unresolved

ARTIFACT_GROUP = "source.extensions.fluxcd.io"
GENERATOR_KIND = "ArtifactGenerator"
EXTERNAL_ARTIFACT = "ExternalArtifact"
_FROM = re.compile(r"@([a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)/(.*)", re.DOTALL)
"""source-watcher's CRD pattern for `from`: `@<alias>/<path or glob>`."""
_TO = re.compile(r"@artifact/(.*)", re.DOTALL)
_STRATEGIES = ("Overwrite", "Merge", "Extract")


@dataclass(frozen=True, slots=True)
class ArtifactSource:
    """An ExternalArtifact as kubedrift reads it: a Git repository, and the copies made from it."""

    repository: GitSource
    artifact: FluxArtifact


class ArtifactIndex:
    """The artifacts the ArtifactGenerators of an include generate, by (namespace, name).

    Indexing reads only the names; a generator is read in full, and strictly, when a Kustomization
    names one of its artifacts, so a generator that no one reads is never an error."""

    def __init__(self, generators: Iterable[YamlField], missing: str) -> None:
        self.missing = missing
        self._artifacts: dict[tuple[str, str], tuple[YamlField, int]] = {}
        self._by_pattern: dict[str, YamlField] = {}
        """A generator per namespace whose artifacts are named by pathPattern's captures."""
        for generator in generators:
            metadata = generator.value.get("metadata") or {}
            namespace = str(metadata.get("namespace") or "default")
            spec = generator.value.get("spec")
            if not isinstance(spec, dict):
                continue
            if spec.get("pathPattern"):
                self._by_pattern.setdefault(namespace, generator)
                continue
            artifacts = spec.get("artifacts")
            for index, entry in enumerate(artifacts if isinstance(artifacts, list) else ()):
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    self._artifacts.setdefault((namespace, entry["name"]), (generator, index))

    def resolve(self, reference: YamlField, namespace: str, sources: SourceIndex) -> ArtifactSource:
        """The ExternalArtifact `reference` (a sourceRef) names, from `namespace`. Raises Unresolved."""
        name = reference.required("name").string()
        where = reference.optional_string("namespace") or namespace
        found = self._artifacts.get((where, name))
        if found is None:
            patterned = self._by_pattern.get(where)
            if patterned is not None:
                spec = patterned.required("spec").mapping()
                raise unresolved(
                    spec.required("pathPattern"),
                    f"pathPattern (an artifact per matching folder) {NOT_YET}, so the ExternalArtifact "
                    f"{where}/{name} cannot be read; list the artifact under spec.artifacts by its name",
                )
            raise unresolved(
                reference,
                f"the {EXTERNAL_ARTIFACT} {where}/{name} {self.missing} (kubedrift builds it from "
                f"the {GENERATOR_KIND} that generates it)",
            )
        generator, index = found
        spec = generator.required("spec").mapping()
        entry = spec.required("artifacts").items()[index].mapping()
        aliases = _aliases(spec.required("sources"))
        copies = [_copy(item, aliases) for item in entry.required("copy").items()]
        if not copies:
            raise unresolved(entry.required("copy"), "an artifact needs at least one copy operation")
        repositories: dict[str, GitSource] = {}
        for copy, item in zip(copies, entry.required("copy").items(), strict=True):
            if copy.alias not in repositories:
                repositories[copy.alias] = sources.git(aliases[copy.alias], where)
            first_alias, first = next(iter(repositories.items()))
            repository = repositories[copy.alias]
            if (repository.url, repository.revision) != (first.url, first.revision):
                raise unresolved(
                    item.required("from"),
                    f"an artifact copied from several Git repositories {NOT_YET}: @{first_alias} is "
                    f"{first.url} at {first.revision}, @{copy.alias} {repository.url} at "
                    f"{repository.revision}",
                )
        repository = next(iter(repositories.values()))
        return ArtifactSource(repository, FluxArtifact(f"{where}/{name}", tuple(copies)))


def _aliases(sources: YamlField) -> dict[str, YamlField]:
    """`spec.sources` by alias; each entry names its source as a sourceRef does."""
    aliases: dict[str, YamlField] = {}
    for item in sources.items():
        alias_field = item.mapping().required("alias")
        alias = alias_field.string()
        if alias in aliases:
            raise unresolved(alias_field, f"the alias {alias!r} is given twice; source-watcher refuses that")
        aliases[alias] = item
    return aliases


def _copy(item: YamlField, aliases: dict[str, YamlField]) -> ArtifactCopy:
    """One `copy` entry, checked as source-watcher checks it before a build."""
    item.mapping()
    from_field = item.required("from")
    written = from_field.string()
    matched = _FROM.fullmatch(written)
    if matched is None:
        raise unresolved(from_field, f"expected @<alias>/<path or glob>, got {written!r}")
    alias, pattern = matched[1], matched[2]
    if alias not in aliases:
        known = ", ".join(f"@{name}" for name in aliases) or "none"
        raise unresolved(from_field, f"no source has the alias {alias!r} (spec.sources has {known})")
    if any(character in pattern for character in GLOB_CHARACTERS):
        problem = glob_problem(pattern)
        if problem is not None:
            raise unresolved(from_field, f"the glob cannot be read: {problem}")
    elif _leaves(pattern):
        raise unresolved(from_field, "the path leads out of the source; name a path inside it")
    to_field = item.required("to")
    destination = _TO.fullmatch(to_field.string())
    if destination is None:
        raise unresolved(to_field, f"expected @artifact/<path>, got {to_field.value!r}")
    if _leaves(destination[1]):
        raise unresolved(to_field, "the path leads out of the artifact; name a path inside it")
    excludes = item.optional("exclude")
    exclude = []
    for entry in excludes.items() if excludes is not None else ():
        glob = entry.string()
        problem = exclude_problem(glob)
        if problem is not None:
            raise unresolved(entry, f"the glob cannot be read: {problem}")
        exclude.append(glob)
    strategy_field = item.optional("strategy")
    strategy = strategy_field.string() if strategy_field is not None else "Overwrite"
    if strategy_field is not None and strategy not in _STRATEGIES:
        raise unresolved(strategy_field, f"expected one of {', '.join(_STRATEGIES)}, got {strategy!r}")
    if strategy_field is not None and strategy == "Extract":
        raise unresolved(strategy_field, f"strategy Extract (unpacking tarballs) {NOT_YET}")
    return ArtifactCopy(
        alias=alias,
        pattern=pattern,
        to=destination[1],
        exclude=tuple(exclude),
        merge=strategy == "Merge",
        file=item.file,
        line=item.line,
        field=item.path,
    )


def _leaves(path: str) -> bool:
    """Whether a relative path climbs out of its root (`../x`, `a/../../x`)."""
    cleaned = posixpath.normpath(path) if path else "."
    return cleaned == ".." or cleaned.startswith("../") or cleaned.startswith("/")
