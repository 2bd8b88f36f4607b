"""Writing a file whole, for the scripts in results/: the new contents go to PATH.tmp, which a rename then puts
in place, so a failed write (a full disk, a missing folder) leaves no partial file and an old one untouched."""
import os


def write_whole(path, write):
    """write(name) writes the contents under the name it is given; on any failure the temporary is removed and
    the error raised again. A path that exists but is no regular file (a link, a device such as /dev/null) is
    written in place: the rename would replace it."""
    in_place = os.path.islink(path) or (os.path.exists(path) and not os.path.isfile(path))
    tmp = path if in_place else path + ".tmp"
    try:
        write(tmp)
        if not in_place:
            os.replace(tmp, path)
    except BaseException:
        if not in_place and os.path.lexists(tmp) and not os.path.isdir(tmp):
            os.remove(tmp)
        raise
