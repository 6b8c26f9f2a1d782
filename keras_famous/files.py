"""Writing files so that nothing is lost: one atomic write for every writer in the package and tools.

A writer gets a temporary path beside the target (same directory, so the final rename stays on one
file system); when it finishes without an error the result takes the umask's mode and replaces the
target in one rename, else the temporary file or directory is removed and the target is untouched.
A directory (SavedModel) cannot be renamed over a non-empty one, so it is exchanged with it in one
step (Linux `renameat2(RENAME_EXCHANGE)`) and the old one removed; where the system cannot exchange,
the old entry is renamed aside, the new one renamed in (the old one renamed back if that fails), and
the old one removed.
"""

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile

from .arguments import setting


def file_mode():
    """0o666 less the umask: the mode open() gives a new file, where mkstemp gives 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def check_writable_target(path, overwrite, *, saved_model=False):
    """FileExistsError naming the argument that allows it (`overwrite=True`, or the command's flag) when `path`
    exists. With it, an existing `path` is replaced only by what it already is: a file by a file, a SavedModel
    folder (`saved_model`) by a SavedModel folder; any other folder is refused, never deleted."""
    path = os.fspath(path)
    flag = setting("overwrite", True)
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise FileExistsError(f"{path} exists; pass {flag} to replace it.")
    if saved_model:
        if not (_is_directory(path) and os.path.isfile(os.path.join(path, "saved_model.pb"))):
            raise FileExistsError(
                f"{path} exists and is not a SavedModel folder: {flag} replaces a previous SavedModel only. "
                "Remove it yourself or choose another path."
            )
    elif _is_directory(path):
        raise FileExistsError(
            f"{path} is a folder: {flag} replaces a file, never a folder. Remove it yourself or choose another path."
        )


@contextlib.contextmanager
def atomic_path(path, *, directory=False, prefix=None, suffix="", durable=False):
    """A temporary path beside `path` for a writer that takes a file name (h5py, a SavedModel directory
    with `directory=True`, which the writer creates). When the block ends without an error it replaces
    `path`; on any error it is removed and `path` is untouched. `prefix` (default ".NAME.tmp-") and
    `suffix` name the temporary entry (a suffix keeps writers that check the extension happy). `durable` (a file):
    its data and then the rename reach the disk before the block returns (fsync of the file and its directory),
    so a machine that loses power keeps the old file or the new one, whole."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if prefix is None:
        prefix = f".{os.path.basename(path)}.tmp-"
    if directory:
        tmp = tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=suffix)
        os.rmdir(tmp)
    else:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=prefix, suffix=suffix)
        os.close(fd)
    try:
        yield tmp
        if not directory:
            os.chmod(tmp, file_mode())
            if durable:
                _fsync(tmp)
        _install(tmp, path)
        if durable:
            _fsync(parent, directory=True)
    except BaseException:
        _remove(tmp)
        raise


def _fsync(path, directory=False):
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_file(path, mode="wb", *, prefix=None, suffix="", durable=False):
    """A file object ("wb" or "w", UTF-8) on a temporary file beside `path`; see atomic_path."""
    if mode not in ("wb", "w"):
        raise ValueError(f"`mode` must be 'wb' or 'w'; received mode={mode!r}.")
    with atomic_path(path, prefix=prefix, suffix=suffix, durable=durable) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as out:
            yield out


def _is_directory(path):
    return os.path.isdir(path) and not os.path.islink(path)


def _remove(path):
    with contextlib.suppress(OSError):
        if _is_directory(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


def _install(new, path):
    """Puts `new` at `path`; what was at `path` is gone once this returns, and still there if it raises. A file
    never replaces a folder (check_writable_target says why to the user first)."""
    if _is_directory(path) and not _is_directory(new):
        raise IsADirectoryError(f"{path} is a folder; a file does not replace it.")
    if not (_is_directory(new) or _is_directory(path)) or not os.path.lexists(path):
        os.replace(new, path)
    elif _exchange(new, path):
        _remove(new)  # now the old entry
    else:
        _swap(new, path)


def _swap(new, path):
    aside = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)), prefix=f".{os.path.basename(path)}.old-")
    os.rmdir(aside)
    os.replace(path, aside)
    try:
        os.replace(new, path)
    except BaseException:
        os.replace(aside, path)
        raise
    _remove(aside)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = []  # [libc's renameat2 or None], looked up once


def _exchange(a, b):
    """Swaps the entries `a` and `b` in one step; False where the system or file system cannot."""
    if not _renameat2:
        function = None
        if sys.platform.startswith("linux"):
            with contextlib.suppress(OSError, AttributeError):
                function = ctypes.CDLL(None, use_errno=True).renameat2
                function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
                function.restype = ctypes.c_int
        _renameat2.append(function)
    if _renameat2[0] is None:
        return False
    if _renameat2[0](_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(error, os.strerror(error), a, None, b)
