"""connectors/memory.sync_heap: a sync gives what it frees back to the system as it runs.

Why it matters (issue #15, bounded memory): glibc keeps freed chunks in the middle of its heaps
resident and Arrow's default mimalloc pool keeps freed segments, so a sync's peak RSS grew with
what it had freed, not only with what it held. Measured in docs/benchmarks.md.
"""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from connectors.memory import _malloc_trim, release_free_heap, sync_heap
from connectors.run import bounded_memory

glibc_only = pytest.mark.skipif(_malloc_trim() is None, reason="no glibc malloc_trim here")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@glibc_only
def test_freed_chunks_in_the_middle_of_the_heap_go_back_to_the_system():
    # 2,000 blocks of 64 KiB (128 MiB, each under glibc's mmap threshold once it has grown, so
    # on the heap); the last one stays allocated, so the freed ones sit below the heap's top,
    # where glibc's free() alone never returns them
    release_free_heap()
    blocks = [bytearray(65536) for _ in range(2000)]
    keep = blocks[-1]
    del blocks
    held = _rss_mib()
    assert release_free_heap() is True
    # whole free pages go back: at least half of the 128 MiB freed
    assert held - _rss_mib() > 64
    assert len(keep) == 65536


def test_during_a_sync_arrow_uses_the_system_pool_and_gets_its_pool_back_after():
    before = pa.default_memory_pool().backend_name
    with sync_heap(interval_s=0.01):
        assert pa.default_memory_pool().backend_name == "system"
        assert pa.array(range(1000)).nbytes == 8000  # allocations work from it
        trimmers = [t for t in threading.enumerate() if t.name == "heap-trim"]
        assert len(trimmers) == (1 if _malloc_trim() is not None else 0)
    assert pa.default_memory_pool().backend_name == before
    assert [t for t in threading.enumerate() if t.name == "heap-trim"] == []


def test_the_pool_comes_back_when_the_sync_fails():
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError, match="source failed"), sync_heap(interval_s=0.01):
        raise RuntimeError("source failed")
    assert pa.default_memory_pool().backend_name == before
    assert [t for t in threading.enumerate() if t.name == "heap-trim"] == []


def test_every_sync_runs_inside_it(tmp_path):
    """bounded_memory (used by both connectors' syncs) sets it up for the sync's length."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    seen = []
    with bounded_memory(con):
        seen.append(pa.default_memory_pool().backend_name)
    con.close()
    assert seen == ["system"]
