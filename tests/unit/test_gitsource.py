"""The Git and folder sources against real temporary repositories built with the git CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import GitSourceError
from core.git_remote import clone_folder_name, is_remote_url, network_failure, non_interactive_env
from core.gitsource import AppSource, FolderSource, GitRepository, SourceSnapshot
from core.model import Source

SHA = re.compile(r"^[0-9a-f]{40}$")


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """git with no user or system config, a fixed identity, and a cache under tmp."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_SSH", "GIT_SSH_COMMAND"):
        monkeypatch.delenv(name, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Ada Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "ada@example.com")


class Upstream:
    """A real repository driven through the git CLI."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, date: str | None = None) -> str:
        env = dict(os.environ)
        if date is not None:
            env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def write(self, relative: str, text: str) -> None:
        file = self.path / relative
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)

    def commit(self, message: str, date: str = "2024-03-01T12:00:00+02:00") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message, date=date)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    """main: c1 (apps/shop, apps/blog), c2 (shop changed, tagged), c3 (blog changed); branch `feature`."""
    repo = Upstream(tmp_path / "gitops")
    repo.write("apps/shop/deploy.yaml", "kind: Deployment\nname: web\nreplicas: 1\n")
    repo.write("apps/shop/nested/svc.yaml", "kind: Service\n")
    repo.write("apps/blog/cm.yaml", "kind: ConfigMap\n")
    repo.write("README.md", "# gitops\n")
    repo.commit("Add shop and blog", date="2024-03-01T12:00:00+02:00")
    repo.git("tag", "v0.1")  # lightweight
    repo.write("apps/shop/deploy.yaml", "kind: Deployment\nname: web\nreplicas: 3\n")
    repo.commit("Scale shop to 3", date="2024-03-02T08:30:00+00:00")
    repo.git("tag", "-a", "v1.0", "-m", "release 1.0")  # annotated
    repo.write("apps/blog/cm.yaml", "kind: ConfigMap\ndata: {a: b}\n")
    repo.commit("Tune blog", date="2024-03-03T09:00:00-05:00")
    repo.git("branch", "feature", "HEAD~2")
    return repo


@pytest.fixture
def repository(upstream: Upstream) -> Iterator[GitRepository]:
    repo = GitRepository(str(upstream.path))
    yield repo
    repo.close()


def shas(upstream: Upstream) -> list[str]:
    """Commit SHAs of main, oldest first."""
    return upstream.git("rev-list", "--reverse", "main").split()


# -- resolving revisions ---------------------------------------------------------------------------


def test_resolves_branches_tags_shas_and_head(upstream: Upstream, repository: GitRepository) -> None:
    c1, c2, c3 = shas(upstream)
    assert repository.resolve("main") == c3
    assert repository.resolve("HEAD") == c3
    assert repository.resolve("") == c3
    assert repository.resolve("feature") == c1
    assert repository.resolve("v0.1") == c1
    assert repository.resolve("v1.0") == c2  # annotated tag peeled to its commit
    assert repository.resolve(c2) == c2
    assert repository.resolve(c2[:8]) == c2
    assert repository.resolve("refs/heads/feature") == c1


def test_resolve_sees_new_commits_without_reopening(upstream: Upstream, repository: GitRepository) -> None:
    before = repository.resolve("main")
    upstream.write("apps/shop/extra.yaml", "kind: Secret\n")
    after = upstream.commit("Add a secret")
    upstream.git("pack-refs", "--all")
    assert repository.resolve("main") == after != before


def test_unknown_revision_names_revision_and_repository(
    upstream: Upstream, repository: GitRepository
) -> None:
    with pytest.raises(GitSourceError) as raised:
        repository.resolve("no-such-branch")
    message = str(raised.value)
    assert "'no-such-branch' not found" in message
    assert str(upstream.path) in message
    assert "targetRevision" in message
    with pytest.raises(GitSourceError, match="deadbeef"):
        repository.resolve("deadbeef")
    with pytest.raises(GitSourceError, match="not a valid Git revision"):
        repository.resolve("main\nHEAD")


# -- reading trees ---------------------------------------------------------------------------------


def test_read_tree_of_a_subfolder_at_each_revision(upstream: Upstream, repository: GitRepository) -> None:
    c1, _, c3 = shas(upstream)
    files = repository.read_tree(c3, "apps/shop")
    assert files == {
        "deploy.yaml": b"kind: Deployment\nname: web\nreplicas: 3\n",
        "nested/svc.yaml": b"kind: Service\n",
    }
    assert repository.read_tree(c1, "./apps/shop/")["deploy.yaml"].endswith(b"replicas: 1\n")
    assert repository.read_tree("v0.1", "apps/shop")["deploy.yaml"].endswith(b"replicas: 1\n")


def test_read_tree_of_the_top(upstream: Upstream, repository: GitRepository) -> None:
    files = repository.read_tree("main", ".")
    assert set(files) == {
        "README.md",
        "apps/shop/deploy.yaml",
        "apps/shop/nested/svc.yaml",
        "apps/blog/cm.yaml",
    }


def test_unchanged_files_are_the_same_objects(upstream: Upstream, repository: GitRepository) -> None:
    c1, c2, _ = shas(upstream)
    first, second = repository.read_tree(c1, "apps/shop"), repository.read_tree(c2, "apps/shop")
    assert second["nested/svc.yaml"] is first["nested/svc.yaml"]
    assert second["deploy.yaml"] != first["deploy.yaml"]


def test_missing_path_and_file_path_errors(upstream: Upstream, repository: GitRepository) -> None:
    with pytest.raises(GitSourceError) as raised:
        repository.read_tree("main", "apps/missing")
    assert "'apps/missing' does not exist" in str(raised.value)
    assert shas(upstream)[-1][:12] in str(raised.value)
    with pytest.raises(GitSourceError, match="is a file, not a folder"):
        repository.read_tree("main", "README.md")
    with pytest.raises(GitSourceError, match="leaves the repository"):
        repository.read_tree("main", "../elsewhere")


def test_symlinks_inside_the_repository_read_as_their_target(upstream: Upstream) -> None:
    upstream.write("base/shared.yaml", "kind: Namespace\n")
    (upstream.path / "apps/shop/shared.yaml").symlink_to("../../base/shared.yaml")
    (upstream.path / "apps/shop/outside.yaml").symlink_to("/etc/passwd")
    old = upstream.commit("Link shared")
    repository = GitRepository(str(upstream.path))
    files = repository.read_tree("main", "apps/shop")
    assert files["shared.yaml"] == b"kind: Namespace\n"
    # Not skipped: an UnreadableFile that the renderer reports as that file's error.
    assert "outside the repository" in getattr(files["outside.yaml"], "problem", "")
    upstream.write("base/shared.yaml", "kind: Namespace\nname: shop\n")
    new = upstream.commit("Change the shared file")
    assert repository.changed_files(old, new, "apps/shop") == {"shared.yaml"}
    repository.close()


def test_the_working_tree_is_never_touched(upstream: Upstream, repository: GitRepository) -> None:
    upstream.git("checkout", "-q", "feature")
    upstream.write("apps/shop/deploy.yaml", "dirty edit\n")
    upstream.write("untracked.yaml", "new\n")
    status_before = upstream.git("status", "--porcelain")
    head_before = upstream.git("symbolic-ref", "HEAD"), upstream.git("rev-parse", "HEAD")

    assert repository.read_tree("main", "apps/shop")["deploy.yaml"].endswith(b"replicas: 3\n")
    repository.history("apps", "main")
    repository.changed_files("feature", "main", ".")
    repository.export("main", upstream.path.parent / "export")

    assert (upstream.path / "apps/shop/deploy.yaml").read_text() == "dirty edit\n"
    assert upstream.git("status", "--porcelain") == status_before
    assert (upstream.git("symbolic-ref", "HEAD"), upstream.git("rev-parse", "HEAD")) == head_before


def test_export_writes_the_whole_tree(upstream: Upstream, tmp_path: Path) -> None:
    (upstream.path / "tools").mkdir()
    upstream.write("tools/run.sh", "#!/bin/sh\n")
    (upstream.path / "tools/run.sh").chmod(0o755)
    upstream.commit("Add a script")
    repository = GitRepository(str(upstream.path))
    dest = tmp_path / "export"
    repository.export("feature", dest)
    assert (dest / "apps/shop/deploy.yaml").read_text().endswith("replicas: 1\n")
    assert not (dest / "tools").exists()
    repository.export("main", dest)
    assert (dest / "apps/shop/deploy.yaml").read_text().endswith("replicas: 3\n")
    assert os.access(dest / "tools/run.sh", os.X_OK)
    assert not (dest / ".git").exists()
    repository.close()


# -- history and changes ---------------------------------------------------------------------------


def test_history_lists_commits_touching_the_path(upstream: Upstream, repository: GitRepository) -> None:
    c1, c2, c3 = shas(upstream)
    shop = repository.history("apps/shop")
    assert [commit.sha for commit in shop] == [c2, c1]
    assert shop[0].subject == "Scale shop to 3"
    assert shop[0].author == "Ada Author"
    assert shop[0].date == "2024-03-02T08:30:00Z"
    assert shop[1].date == "2024-03-01T10:00:00Z"  # +02:00 converted to UTC
    assert [commit.sha for commit in repository.history(".", "main")] == [c3, c2, c1]
    assert [commit.sha for commit in repository.history("apps/blog", "feature")] == [c1]
    assert [commit.sha for commit in repository.history(".", max_count=1)] == [c3]
    assert repository.history("apps/never") == []


def test_changed_files_between_commits(upstream: Upstream, repository: GitRepository) -> None:
    c1, c2, c3 = shas(upstream)
    assert repository.changed_files(c1, c2, "apps/shop") == {"deploy.yaml"}
    assert repository.changed_files(c2, c3, "apps/shop") == set()
    assert repository.changed_files(c3, c3, "apps/shop") == set()
    assert repository.changed_files(c1, c3, ".") == {"apps/shop/deploy.yaml", "apps/blog/cm.yaml"}

    upstream.git("mv", "apps/shop/nested/svc.yaml", "apps/shop/service.yaml")
    (upstream.path / "apps/shop/deploy.yaml").unlink()
    upstream.write("apps/shop/new/ingress.yaml", "kind: Ingress\n")
    c4 = upstream.commit("Rename, delete and add")
    assert repository.changed_files(c3, c4, "apps/shop") == {
        "nested/svc.yaml",
        "service.yaml",
        "deploy.yaml",
        "new/ingress.yaml",
    }
    assert repository.changed_files(c4, c3, "apps/shop") == repository.changed_files(c3, c4, "apps/shop")


def test_changed_files_when_the_path_appears(upstream: Upstream, repository: GitRepository) -> None:
    before = shas(upstream)[-1]
    upstream.write("apps/new/a.yaml", "a: 1\n")
    after = upstream.commit("New app")
    assert repository.changed_files(before, after, "apps/new") == {"a.yaml"}


# -- remote clones ---------------------------------------------------------------------------------


def test_file_url_is_cloned_into_the_cache_and_fetched(upstream: Upstream, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    url = upstream.path.as_uri()
    remote = GitRepository(url, cache_dir=cache)
    assert remote.is_remote
    assert remote.path.parent == cache
    c3 = shas(upstream)[-1]
    assert remote.resolve("main") == c3  # clones on first use
    assert remote.resolve("HEAD") == c3
    assert remote.resolve("v1.0") == shas(upstream)[1]
    assert (remote.path / "HEAD").is_file()
    assert url not in (remote.path / "config").read_text()

    upstream.write("apps/shop/deploy.yaml", "kind: Deployment\nname: web\nreplicas: 5\n")
    c4 = upstream.commit("Scale shop to 5")
    upstream.git("tag", "v2.0")
    upstream.git("branch", "-D", "feature")
    assert remote.resolve("main") == c3  # nothing new until fetched
    remote.fetch()
    assert remote.resolve("main") == c4
    assert remote.resolve("v2.0") == c4
    assert remote.read_tree("main", "apps/shop")["deploy.yaml"].endswith(b"replicas: 5\n")
    assert remote.changed_files(c3, c4, "apps/shop") == {"deploy.yaml"}
    with pytest.raises(GitSourceError, match=r"'feature' not found.*fetch the repository"):
        remote.resolve("feature")  # pruned
    remote.close()

    again = GitRepository(url, cache_dir=cache)
    assert again.path == remote.path
    assert again.resolve("main") == c4  # the existing clone is reused
    again.close()


def test_a_missing_file_url_fails_with_a_clear_error(tmp_path: Path) -> None:
    missing = GitRepository((tmp_path / "nowhere").as_uri(), cache_dir=tmp_path / "cache")
    with pytest.raises(GitSourceError) as raised:
        missing.fetch()
    assert str(raised.value).startswith(f"no Git repository found at {(tmp_path / 'nowhere').as_uri()}")
    assert "check the repoURL" in str(raised.value)
    assert not missing.path.exists()
    assert list((tmp_path / "cache").iterdir()) == []  # no half-made clone left behind


def test_an_unreachable_remote_fails_fast_with_a_clear_error(tmp_path: Path) -> None:
    url = "https://kubedrift:s3cret-token@127.0.0.1:9/x.git"
    remote = GitRepository(url, cache_dir=tmp_path, network_timeout=30)
    with pytest.raises(GitSourceError) as raised:
        remote.fetch()
    message = str(raised.value)
    assert message.startswith("could not reach https://127.0.0.1:9/x.git (")
    assert message.endswith("check the URL and network")
    assert "s3cret-token" not in message
    assert "stderr" not in message and "fatal:" not in message and "\n" not in message
    with pytest.raises(GitSourceError, match="could not reach"):
        remote.resolve("main")  # reading a never-cloned remote clones first, and says why it cannot


def test_a_stalled_remote_is_killed_after_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stalled_ssh = tmp_path / "stalled-ssh"
    stalled_ssh.write_text("#!/bin/sh\nsleep 60\n")
    stalled_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(stalled_ssh))
    remote = GitRepository("ssh://git@example.com/x.git", cache_dir=tmp_path / "cache", network_timeout=1)
    with pytest.raises(
        GitSourceError, match=r"^git clone of ssh://git@example.com/x.git did not finish within 1 s"
    ):
        remote.fetch()
    assert list((tmp_path / "cache").iterdir()) == []


AUTH = "authentication failed for"
UNREACHABLE = "could not reach"
GIT_STDERR_SENTENCES = [
    ("fatal: could not read Username for 'https://h': terminal prompts disabled", AUTH),
    ("git@h: Permission denied (publickey).\nfatal: Could not read from remote repository.", AUTH),
    ("remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://h/x.git/'", AUTH),
    ("fatal: unable to access 'https://h/x.git/': Could not resolve host: h", UNREACHABLE),
    ("ssh: connect to host h port 22: Connection timed out\nfatal: Could not read from remote", UNREACHABLE),
    ("remote: Repository not found.\nfatal: repository 'https://h/x.git/' not found", "no Git repository"),
    ("Host key verification failed.\nfatal: Could not read from remote repository.", "the SSH host key"),
    ('Timeout: the command "git fetch" did not complete in 120 secs.', "git fetch of"),
]


@pytest.mark.parametrize(("stderr", "start"), GIT_STDERR_SENTENCES)
def test_git_stderr_becomes_one_sentence(stderr: str, start: str) -> None:
    message = str(network_failure("fetch", "https://h/x.git", stderr, 120))
    assert message.startswith(start)
    assert "\n" not in message
    assert "h/x.git" in message
    assert "authentication failed" not in message or "configure credentials for git" in message


def test_network_git_never_prompts() -> None:
    env = non_interactive_env("ssh -i ~/.ssh/deploy")
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_ASKPASS"] == ""
    assert env["GIT_SSH_COMMAND"].startswith("ssh -i ~/.ssh/deploy -o BatchMode=yes -o ConnectTimeout=")
    assert "GIT_SSH_COMMAND" not in non_interactive_env(None)


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("./gitops", False),
        ("/srv/gitops", False),
        ("gitops", False),
        ("C:/gitops", False),
        ("file:///srv/gitops", True),
        ("https://github.com/org/repo.git", True),
        ("ssh://git@github.com/org/repo.git", True),
        ("git@github.com:org/repo.git", True),
    ],
)
def test_repo_url_kinds(url: str, remote: bool) -> None:
    assert is_remote_url(url) is remote


@pytest.mark.parametrize("url", ["ext::sh -c touch% /tmp/pwned", "ftp://host/repo.git"])
def test_unsupported_repo_urls_are_refused(url: str) -> None:
    with pytest.raises(GitSourceError, match="use a local path, file://"):
        GitRepository(url)


def test_clone_folder_does_not_depend_on_credentials() -> None:
    plain = clone_folder_name("https://github.com/org/repo.git")
    assert plain == clone_folder_name("https://x-token:abc@github.com/org/repo.git")
    assert plain.startswith("github.com_org_repo-")
    assert plain != clone_folder_name("https://github.com/org/other.git")


# -- app sources -----------------------------------------------------------------------------------


def test_app_source_loads_and_keeps_the_last_good_snapshot(upstream: Upstream) -> None:
    source = Source(repo_url="gitops", target_revision="feature", path="apps/shop")
    app = AppSource(source, base_dir=upstream.path.parent)
    assert not app.is_folder
    good = app.load()
    assert isinstance(good, SourceSnapshot)
    assert SHA.match(good.revision) and good.revision == shas(upstream)[0]
    assert good.root == "apps/shop"
    assert good.files["deploy.yaml"].endswith(b"replicas: 1\n")
    assert app.last_good is good
    assert app.load() is good  # same revision: no re-read

    preview = app.load("main")
    assert preview.files["deploy.yaml"].endswith(b"replicas: 3\n")
    assert app.last_good is good  # previews never become the fallback

    upstream.git("branch", "-D", "feature")
    with pytest.raises(GitSourceError, match="'feature' not found"):
        app.load()
    assert app.last_good is good
    assert [commit.subject for commit in app.history("main")] == ["Scale shop to 3", "Add shop and blog"]
    assert app.changed_files(shas(upstream)[0], "main") == {"deploy.yaml"}
    app.close()


def test_app_source_inside_a_repository_subfolder(upstream: Upstream) -> None:
    app = AppSource(Source(repo_url=str(upstream.path / "apps"), target_revision="main", path="shop"))
    snapshot = app.load()
    assert snapshot.root == "apps/shop"
    assert set(snapshot.files) == {"deploy.yaml", "nested/svc.yaml"}
    app.close()


def test_app_source_with_a_missing_path_keeps_nothing(upstream: Upstream) -> None:
    app = AppSource(Source(repo_url=str(upstream.path), target_revision="main", path="apps/gone"))
    with pytest.raises(GitSourceError, match="'apps/gone' does not exist"):
        app.load()
    assert app.last_good is None
    app.close()


def test_app_source_over_a_file_url_clone(upstream: Upstream, tmp_path: Path) -> None:
    source = Source(repo_url=upstream.path.as_uri(), target_revision="main", path="apps/blog")
    app = AppSource(source, cache_dir=tmp_path / "cache")
    assert app.load().files == {"cm.yaml": b"kind: ConfigMap\ndata: {a: b}\n"}
    upstream.write("apps/blog/cm.yaml", "kind: ConfigMap\n")
    new = upstream.commit("Revert blog")
    app.refresh()
    assert app.load().revision == new
    app.close()


def test_plain_folders_are_folder_sources(tmp_path: Path, upstream: Upstream) -> None:
    plain = tmp_path / "manifests"
    plain.mkdir()
    assert AppSource(Source(repo_url=str(plain))).is_folder
    assert AppSource(Source(repo_url=str(upstream.path), target_revision="")).is_folder
    assert not AppSource(Source(repo_url=str(upstream.path))).is_folder
    assert AppSource(Source(repo_url=str(plain))).history() == []
    with pytest.raises(GitSourceError, match="plain folder"):
        AppSource(Source(repo_url=str(plain))).changed_files("a", "b")


# -- plain folders ---------------------------------------------------------------------------------


def make_folder(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "app.yaml").write_text("kind: ConfigMap\n")
    (root / "sub" / "svc.yml").write_text("kind: Service\n")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".hidden.yaml").write_text("x\n")
    (root / "app.yaml~").write_text("backup\n")
    (root / ".app.yaml.swp").write_text("swap\n")
    return root


def test_folder_source_reads_files_and_skips_hidden_ones(tmp_path: Path) -> None:
    folder = FolderSource(make_folder(tmp_path / "manifests"))
    snapshot = folder.load()
    assert dict(snapshot.files) == {"app.yaml": b"kind: ConfigMap\n", "sub/svc.yml": b"kind: Service\n"}
    assert snapshot.root == "."
    assert snapshot.revision.startswith("folder:")
    assert folder.load().revision == snapshot.revision
    (tmp_path / "manifests" / "sub" / "svc.yml").write_text("kind: Service\nspec: {}\n")
    assert folder.load().revision != snapshot.revision


def test_folder_source_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GitSourceError, match="does not exist or is not a folder"):
        FolderSource(tmp_path / "nope").load()


def test_app_source_folder_keeps_last_good(tmp_path: Path) -> None:
    root = make_folder(tmp_path / "manifests")
    app = AppSource(Source(repo_url="manifests", target_revision="", path="sub"), base_dir=tmp_path)
    good = app.load()
    assert good.root == "sub" and set(good.files) == {"svc.yml"}
    assert app.load() is good
    (root / "sub" / "svc.yml").rename(root / "svc.yml")
    (root / "sub").rmdir()
    with pytest.raises(GitSourceError):
        app.load()
    assert app.last_good is good


@pytest.mark.parametrize("event_type", [asyncio.Event, threading.Event])
async def test_folder_changes_report_saved_files(tmp_path: Path, event_type: type) -> None:
    root = make_folder(tmp_path / "manifests")
    folder = FolderSource(root)
    stop = event_type()
    received: asyncio.Queue[set[str]] = asyncio.Queue()

    async def watch() -> None:
        async for changed in folder.changes(stop):
            await received.put(changed)

    watcher = asyncio.create_task(watch())
    changed: set[str] | None = None
    try:
        # The watcher starts inside the task, so save until it has seen one; generous, and no timing
        # assertion.
        for attempt in range(40):
            (root / "sub" / "svc.yml").write_text(f"kind: Service\n# save {attempt}\n")
            (root / ".svc.yml.swp").write_text(f"swap {attempt}\n")
            with contextlib.suppress(TimeoutError):
                changed = await asyncio.wait_for(received.get(), timeout=0.5)
                break
        assert changed == {"sub/svc.yml"}
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)
    assert watcher.done() and watcher.exception() is None
