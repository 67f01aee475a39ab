"""A file that is listed but cannot be read, carried in place of its content so that it is an error of
that file (and the app's render is not OK), while every other file still renders.

Sources hand the renderer a mapping of path to bytes. A symlink loop or a link out of the repository
has no bytes to give, yet leaving it out would make its objects vanish from the desired state, and a
vanished object is one that prune deletes. So the source puts an `UnreadableFile` there instead: it
is bytes (every consumer of the mapping keeps working, digests included), and the manifest parser
turns it into one `RenderError` with its `problem`.
"""

from __future__ import annotations


class UnreadableFile(bytes):
    """Stands for a file's content; `problem` says why there is none, as the rest of a sentence that
    begins with the file's path ("is a symlink loop (a.yaml); fix or remove the link")."""

    problem: str

    def __new__(cls, problem: str) -> UnreadableFile:
        # The bytes are the problem too, so that a digest of the files changes when the problem does.
        content = super().__new__(cls, b"\0kubedrift: unreadable file: " + problem.encode())
        content.problem = problem
        return content

    def __eq__(self, other: object) -> bool:
        # Never equal to a real file with the same bytes: a cache keyed by content must not mix them.
        return isinstance(other, UnreadableFile) and self.problem == other.problem

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = bytes.__hash__
