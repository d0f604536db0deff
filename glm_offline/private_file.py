"""A file only this user can read, in a folder no one else can write to: the control token's
(control.py). As careful as Jupyter's `jupyter_core.paths.secure_write`:

  * the folder is created 0o700, and refused unless it is this user's and no one else may
    write to it (in a shared writable folder, anyone could plant the file, or a link where
    it will be written, and read or redirect the token);
  * the file is created with O_CREAT | O_EXCL (never follows a link, never reuses a file),
    mode 0o600, under a random temporary name, then renamed into place;
  * reading it refuses a link, a file of another user, or one in a folder others may write.

Through a descriptor of the folder where the system allows (os.supports_dir_fd), so the
folder checked is the folder written. On Windows (no owner or mode bits to check) the file
is still created exclusively; the user's profile folder is private there by default.
"""

import os
import secrets
import stat

POSIX = os.name == "posix"


def check_folder(info, folder):
    """Raise PermissionError unless the folder (os.stat result `info`) is this user's alone."""
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{folder} is not a folder")
    if POSIX and info.st_uid != os.geteuid():
        raise PermissionError(f"{folder} belongs to another user")
    if POSIX and info.st_mode & 0o022:
        raise PermissionError(f"{folder} is writable by other users (mode "
                              f"{stat.S_IMODE(info.st_mode):o}); use a folder only you can "
                              "write to")


def check_file(info, path):
    if not stat.S_ISREG(info.st_mode):
        raise PermissionError(f"{path} is not a plain file")
    if POSIX and info.st_uid != os.geteuid():
        raise PermissionError(f"{path} belongs to another user")


def _open_folder(folder):
    """(descriptor or None, dir_fd arguments) for work inside `folder`, after checking it."""
    if os.open in os.supports_dir_fd and hasattr(os, "O_DIRECTORY"):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            check_folder(os.fstat(fd), folder)
        except BaseException:
            os.close(fd)
            raise
        return fd
    check_folder(os.stat(folder), folder)
    return None


def _at(fd, folder, name):
    """(path, dir_fd) to name a file in the folder: relative to its descriptor if there is one."""
    return (name, fd) if fd is not None else (str(folder / name), None)


def write_private(path, text):
    """Write `text` to `path` (a pathlib.Path) as described above; OSError if it cannot be
    done safely (the reason in its message)."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = _open_folder(folder)
    try:
        temporary, dir_fd = _at(fd, folder, f".{path.name}.{secrets.token_hex(8)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        handle = os.open(temporary, flags, 0o600, dir_fd=dir_fd)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                if POSIX:
                    os.fchmod(file.fileno(), 0o600)
                file.write(text)
            os.replace(temporary, _at(fd, folder, path.name)[0], src_dir_fd=dir_fd,
                       dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(temporary, dir_fd=dir_fd)
            except OSError:
                pass
            raise
    finally:
        if fd is not None:
            os.close(fd)


def read_private(path):
    """The text of a file write_private wrote; OSError for a link, another user's file, or a
    file in a folder others may write to."""
    check_folder(os.stat(path.parent), path.parent)
    if os.path.islink(path):  # O_NOFOLLOW says so too, with a less telling error
        raise PermissionError(f"{path} is a link")
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(handle, encoding="utf-8") as file:
        check_file(os.fstat(file.fileno()), path)
        return file.read(64 * 1024)

