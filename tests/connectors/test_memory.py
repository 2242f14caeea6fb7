"""connectors/memory.system_arrow_pool: during a sync Arrow allocates from the system pool.

Why it matters (issue #15, bounded memory): pyarrow's default mimalloc pool keeps the segments
it frees, so a sync's peak RSS followed what its staged batches had freed, not only what they
held (docs/benchmarks.md, "Giving freed memory back during a sync").
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from connectors.memory import system_arrow_pool
from connectors.run import bounded_memory


def test_during_a_sync_arrow_uses_the_system_pool_and_gets_its_pool_back_after():
    before = pa.default_memory_pool().backend_name
    with system_arrow_pool():
        assert pa.default_memory_pool().backend_name == "system"
        staged = pa.array(range(1000))  # allocated from it, and usable after the switch back
    assert pa.default_memory_pool().backend_name == before
    assert staged.nbytes == 8000 and staged[999].as_py() == 999


def test_the_pool_comes_back_when_the_sync_fails():
    before = pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError, match="source failed"), system_arrow_pool():
        raise RuntimeError("source failed")
    assert pa.default_memory_pool().backend_name == before


def test_every_sync_runs_inside_it(tmp_path):
    """bounded_memory (both connectors' syncs run inside it) sets it for the sync's length."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    seen = []
    with bounded_memory(con):
        seen.append(pa.default_memory_pool().backend_name)
    con.close()
    assert seen == ["system"]
