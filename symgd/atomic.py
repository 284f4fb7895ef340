"""Publishing a file atomically: readers see the old file or the new one, never half.

Used for ``--out`` results, generated kernel modules, checksums and the warm index.
"""
from __future__ import annotations

import os
import tempfile


def write_atomically(path, text: str, *, prefix: str = ".symgd_") -> None:
    """Write ``text`` to ``path`` so that a crash leaves either the old file or the new one
    (see :func:`publish`)."""
    def write(fh):
        fh.write(text.encode("utf-8"))

    publish(path, write, prefix=prefix)


def publish(path, write, *, prefix: str = ".symgd_", suffix: str = ".tmp") -> None:
    """Publish the bytes ``write(binary file)`` produces at ``path`` atomically.

    They go to a temporary file in the same folder, are flushed to disk, and replace
    ``path`` in one ``os.replace``; the folder is synced so that the rename itself
    survives a power cut. The new file keeps the old one's permissions (or gets the
    usual ones for a new file), not the temporary file's 0600.
    """
    target = os.path.abspath(path)
    folder = os.path.dirname(target)
    try:
        mode = os.stat(target).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
