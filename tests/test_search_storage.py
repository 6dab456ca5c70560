"""Index segments are read from their memory map: readers share the file's pages, none copies them.

Whoosh's own BufferFile copied every sub-file of a compound segment into a BytesIO, once
per segment reader. With one searcher per request thread, a web worker held the index once
per thread (1.9 GB RSS at 100,000 listings in `make bench`; see BENCHMARKS.md).
"""

from __future__ import annotations

import io
import os
import threading
import tracemalloc

import pytest
from whoosh import index as windex
from whoosh import query as Q
from whoosh.system import pack_int

from marktplatz import search
from marktplatz.search.index import current_generation
from marktplatz.search.storage import MappedFile
from tests import factories as f


def _segment_bytes(gen: str) -> int:
    return sum(os.path.getsize(os.path.join(gen, name)) for name in os.listdir(gen) if name.endswith(".seg"))


def test_four_thread_searchers_allocate_a_fraction_of_the_index(app, session):
    """Four searchers (one per request thread) over ~20 MB of segments allocate under 1/4 of one copy."""
    officer = f.user(session, "officer")
    f.listing(session, officer, title="Hundesteuer online anmelden", publish_by=f.user(session, "admin", ags=None))
    session.commit()
    search.catch_up()
    gen = current_generation(app.config["INDEX_DIR"])
    size = _segment_bytes(gen)
    assert size > 5_000_000  # the reference data: 11,000 municipalities, the OZG catalogue
    hits: list[int] = []
    searchers: list = []

    def open_and_search() -> None:
        searcher = windex.open_dir(gen).searcher()
        hits.append(len(searcher.search(Q.Term("doc_type", "listing"), limit=5)))
        # Walk the term dictionary of the biggest field once (the term index is read).
        for _term in searcher.reader().lexicon("codes"):
            pass
        searchers.append(searcher)

    tracemalloc.start()
    try:
        threads = [threading.Thread(target=open_and_search) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert hits == [1, 1, 1, 1]
    assert held < size / 4, f"4 searchers hold {held:,} bytes of Python objects for {size:,} bytes of segments"
    for s in searchers:
        s.close()


def test_mapped_file_reads_like_the_bytes_it_maps():
    """read, seek (all three whences), tell, readline, iteration, get and subset match BytesIO."""
    data = b"erste Zeile\nzweite\n\nletzte ohne Umbruch"
    mapped, plain = MappedFile(memoryview(data)), io.BytesIO(data)
    for step in [("read", 5), ("tell",), ("seek", 3, 1), ("read", 2), ("readline",), ("readline",),
                 ("readline",), ("readline",), ("readline",), ("seek", -6, 2), ("read", -1), ("read", 4),
                 ("seek", 0), ("readline", 3), ("read", 100)]:
        name, *args = step
        assert getattr(mapped, name)(*args) == getattr(plain, name)(*args), step
    mapped.seek(0)
    assert list(mapped) == data.splitlines(keepends=True)
    assert mapped.get(6, 5) == b"Zeile"
    sub = mapped.subset(12, 6)
    assert sub.read() == b"zweite" and sub.tell() == 6
    assert MappedFile(memoryview(pack_int(4711) + pack_int(-3))).get_int(4) == -3


def test_mapped_file_is_read_only():
    mapped = MappedFile(memoryview(b"abc"))
    with pytest.raises(OSError):
        mapped.write(b"x")
    mapped.close()
    assert mapped.is_closed
