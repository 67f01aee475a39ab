"""Talking to remote Git repositories: which URLs are remote, where their clones live, how git is
kept from prompting or hanging, and how its stderr becomes one sentence a user can act on.

Pure functions over strings; the git calls themselves live in `core.git_repository`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import GitSourceError
from core.redact import redact_url

NETWORK_TIMEOUT_SECONDS = 120.0
"""A clone or fetch that takes longer is killed."""
SSH_CONNECT_TIMEOUT_SECONDS = 15

_URL_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
_REMOTE_SCHEMES = frozenset({"file", "http", "https", "ssh", "git", "git+ssh", "ssh+git"})
# git's own rule: `host:path` with no slash before the colon is ssh; one letter is a Windows drive.
_SCP_LIKE = re.compile(r"^(?:[^@/\s]+@)?[^:/\s]{2,}:(?!//)")
_TRANSPORT_HELPER = re.compile(r"^[A-Za-z0-9+.-]+::")
_SUPPORTED = "use a local path, file://, https://, ssh:// or git@host:org/repo.git"

_AUTH_MARKERS = (
    "authentication failed", "could not read username", "could not read password",
    "terminal prompts disabled", "permission denied", "access denied", "error: 401", "error: 403",
    "invalid username or password", "bad credentials",
)  # fmt: skip
_NOT_FOUND_MARKERS = ("does not appear to be a git repository", "repository not found", "error: 404")
_UNREACHABLE_MARKERS = (
    "could not resolve", "failed to connect", "couldn't connect", "connection refused", "timed out",
    "network is unreachable", "no route to host", "connection reset", "connection closed",
    "unable to access", "ssl", "could not read from remote repository",
)  # fmt: skip
_BOILERPLATE = ("could not read from remote repository", "please make sure you have", "and the repository")


def default_cache_dir() -> Path:
    """Where remote repositories are cloned: `$XDG_CACHE_HOME/kubedrift/repos` (`~/.cache` by default)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "kubedrift" / "repos"


def is_remote_url(repo_url: str) -> bool:
    """True for URLs that are cloned (file://, http(s), ssh, scp-like); False for a local path."""
    if _TRANSPORT_HELPER.match(repo_url):
        raise GitSourceError(
            f"repoURL {repo_url!r} names a git transport helper, which kubedrift never runs: {_SUPPORTED}"
        )
    scheme = _URL_SCHEME.match(repo_url)
    if scheme is None:
        return bool(_SCP_LIKE.match(repo_url))
    if scheme["scheme"].lower() not in _REMOTE_SCHEMES:
        raise GitSourceError(
            f"repoURL {redact_url(repo_url)!r} has the unsupported scheme {scheme['scheme']!r}: {_SUPPORTED}"
        )
    return True


def _credential_free(url: str) -> str:
    if not _URL_SCHEME.match(url):
        return url
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def clone_folder_name(repo_url: str) -> str:
    """A folder name a person can recognise, made unique by a hash of the credential-free URL,
    so that rotating a token in the URL keeps the same clone, and no token is written to disk as a
    folder name (a query token such as `?private_token=` included)."""
    plain = redact_url(_credential_free(repo_url))
    readable = _URL_SCHEME.sub("", plain).rpartition("@")[2].removesuffix(".git")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", readable).strip("._-")[:60]
    return f"{readable or 'repo'}-{hashlib.sha256(plain.encode()).hexdigest()[:12]}"


def non_interactive_env(ssh_command: str | None) -> dict[str, str]:
    """Environment for a clone or fetch that makes git fail at once instead of prompting or stalling.

    `ssh_command` is the user's own ssh command (GIT_SSH_COMMAND or core.sshCommand), kept so their
    keys and options still apply; None leaves git's choice alone (the user set GIT_SSH).
    """
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",  # set but empty: git then skips core.askPass and SSH_ASKPASS as well
        "SSH_ASKPASS": "",
        "GCM_INTERACTIVE": "never",
        "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
        "GIT_HTTP_LOW_SPEED_TIME": "30",
    }
    if ssh_command is not None:
        options = f"-o BatchMode=yes -o ConnectTimeout={SSH_CONNECT_TIMEOUT_SECONDS}"
        env["GIT_SSH_COMMAND"] = f"{ssh_command or 'ssh'} {options}"
    return env


def failure_detail(stderr: str, secrets: tuple[str, ...] = ()) -> str:
    """git's most telling stderr line, without its prefix, boilerplate or secrets."""
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line or line.lower().startswith(_BOILERPLATE):
            continue
        line = re.sub(r"^(fatal|error|remote|ssh):\s*", "", line)
        if line.startswith("unable to access '") and "': " in line:
            line = line.split("': ", 1)[1]
        for secret in secrets:
            line = line.replace(secret, "***")
        return line.rstrip(".")
    return "git printed no reason"


def network_failure(verb: str, repo_url: str, stderr: str, timeout: float) -> GitSourceError:
    """One sentence for a failed clone or fetch: what happened, where, and what to do."""
    url = redact_url(repo_url)
    parts = urlsplit(repo_url) if _URL_SCHEME.match(repo_url) else None
    # Short user names such as "git" are no secret, and replacing them would garble the detail.
    secrets = tuple(s for s in (parts.username, parts.password) if s and len(s) >= 6) if parts else ()
    detail = failure_detail(stderr, secrets)
    text = stderr.lower()
    if "did not complete in" in text:  # GitPython's words when kill_after_timeout fired
        return GitSourceError(f"git {verb} of {url} did not finish within {timeout:g} s: check the network")
    if "host key verification failed" in text:
        return GitSourceError(
            f"the SSH host key of {url} is not trusted ({detail}): connect once with ssh to accept it"
        )
    if any(marker in text for marker in _AUTH_MARKERS):
        return GitSourceError(
            f"authentication failed for {url} ({detail}): configure credentials for git "
            "(a credential helper for https, an SSH key or agent for ssh)"
        )
    if any(marker in text for marker in _NOT_FOUND_MARKERS):
        return GitSourceError(f"no Git repository found at {url} ({detail}): check the repoURL")
    if any(marker in text for marker in _UNREACHABLE_MARKERS):
        return GitSourceError(f"could not reach {url} ({detail}): check the URL and network")
    return GitSourceError(f"git {verb} of {url} failed ({detail}): run `git {verb}` by hand to see why")


_CLONE_LOCKS: dict[Path, threading.Lock] = {}
_CLONE_LOCKS_GUARD = threading.Lock()


def clone_lock(clone_dir: Path) -> threading.Lock:
    """One lock per clone folder, shared by every repository object on it, so fetches never race."""
    with _CLONE_LOCKS_GUARD:
        return _CLONE_LOCKS.setdefault(clone_dir, threading.Lock())
