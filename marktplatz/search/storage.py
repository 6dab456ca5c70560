"""Read compound index segments straight from their memory map, without a copy per reader.

Whoosh writes each segment as one compound file and maps it with mmap. Its ``BufferFile``
then wraps every sub-file (postings, term index, columns) in ``io.BytesIO(memoryview)``,
and BytesIO copies what it is given. So every segment reader holds a private copy of the
whole segment: with one searcher per request thread and four threads, a web worker held
the index four times over (1.9 GB RSS at 100,000 listings, `make bench`).

``MappedFile`` reads the same bytes from the memory map itself. The pages are the file's
own, shared by every thread and every process on the machine, and the kernel may drop
them under memory pressure. ``install()`` makes ``CompoundStorage`` hand them out; the
package calls it once on import. Writers never see a ``MappedFile`` (compound storage is
read-only).
"""

from __future__ import annotations

import os
from typing import Any

from whoosh.filedb import compound
from whoosh.filedb.structfile import StructFile


class MappedFile(StructFile):
    """A read-only StructFile over a memoryview: no copy, a position of its own."""

    def __init__(self, buf: memoryview, name: str | None = None) -> None:
        self._buf = buf
        self._name = name
        self._pos = 0
        self._len = len(buf)
        self.file = self  # StructFile's few direct uses of .file (raw_file, __iter__) land here
        self.onclose = None
        self.is_real = False
        self.is_closed = False

    # ------------------------------------------------------------ file protocol

    def read(self, n: int = -1) -> bytes:  # noqa: D102
        start = self._pos
        end = self._len if n is None or n < 0 else min(start + n, self._len)
        self._pos = end
        return bytes(self._buf[start:end])

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:  # noqa: D102
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += self._len
        if offset < 0:
            raise ValueError("negative seek position")
        self._pos = offset
        return offset

    def tell(self) -> int:  # noqa: D102
        return self._pos

    def readline(self, limit: int = -1) -> bytes:  # noqa: D102
        end = self._len if limit is None or limit < 0 else min(self._pos + limit, self._len)
        start = pos = self._pos
        buf = self._buf
        while pos < end and buf[pos] != 10:
            pos += 1
        self._pos = min(pos + 1, end)
        return bytes(buf[start:self._pos])

    def __iter__(self) -> Any:
        while self._pos < self._len:
            yield self.readline()

    def write(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102
        raise OSError("a mapped index file is read-only")

    truncate = write

    def flush(self) -> None:  # noqa: D102
        pass

    def close(self) -> None:
        """Release the view, so that the segment's mmap can be closed."""
        if self.is_closed:
            raise Exception("This file is already closed")
        buf, self._buf = self._buf, None
        try:
            buf.release()
        except (ValueError, BufferError):  # still exported by a subset's view
            pass
        self.is_closed = True

    # ------------------------------------------------------------ random access

    def get(self, position: int, length: int) -> bytes:  # noqa: D102
        return bytes(self._buf[position:position + length])

    def subset(self, position: int, length: int, name: str | None = None) -> MappedFile:  # noqa: D102
        return MappedFile(self._buf[position:position + length], name=name or self._name)


def _open_file(self: compound.CompoundStorage, name: str, *args: Any, **kwargs: Any) -> StructFile:
    if not self._source:  # not mapped (no fileno, or no address space): Whoosh's own ways
        return _original_open_file(self, name, *args, **kwargs)
    if self.is_closed:
        raise compound.StorageError("Storage was closed")
    offset, length = self.range(name)
    return MappedFile(memoryview(self._source)[offset:offset + length], name=name)


_original_open_file = compound.CompoundStorage.open_file


def install() -> None:
    """Make compound segments hand out MappedFiles (idempotent)."""
    compound.CompoundStorage.open_file = _open_file
