"""scan's visual check in its own threads (pipeline.scan._VisualThread)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from ingest.windows import Window
from pipeline.scan import _VisualThread


class _Checker:
    parts = 2

    def __init__(self):
        self.nice: list[int] = []

    def _record(self, window):
        self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return []

    feed_faces = feed_text = _record

    def finish(self):
        return []


@pytest.mark.skipif(not hasattr(os, "setpriority"), reason="per-thread nice is Linux/POSIX only")
def test_the_visual_workers_run_below_the_scan_s_priority_and_leave_it_alone():
    checker = _Checker()
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = _VisualThread(checker)
    thread.feed(Window("s", 0, 0.0, np.zeros(16000, np.float32)))
    assert thread.finish() == []
    assert len(checker.nice) == 2 and all(n >= min(19, own + _VisualThread.NICE) for n in checker.nice)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # ASR's thread keeps its priority
