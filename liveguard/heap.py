"""glibc malloc settings for a process that runs Whisper on the CPU (CTranslate2).

CTranslate2 takes a fresh buffer for every layer's output (one encoder row's attention scores
alone are 72 MB: 8 heads x 1500 x 1500 floats) and frees it after. By default glibc hands such
buffers back to the kernel at once (mmap over its threshold, trimming of the heap top, and 64 MB
heaps per thread arena, too small for them), so every layer paid page faults on new memory:
8 x 30 s in int8 took 2.9 s, 2.3 s of it in the kernel (1.26 M page faults). With a heap that
keeps its memory: 1.45 s and 1,500 faults, the same encoder output. The cost is that the heap
keeps its high-water mark.

The settings must come before other threads allocate: a thread keeps the arena it first got, so
`keep_heap()` is called first thing by the CLI, and again (best effort) by the CPU engine.
"""

from __future__ import annotations

__all__ = ["HEAP_SETTINGS", "keep_heap"]

HEAP_SETTINGS = (  # (mallopt parameter, value)
    (-1, 1 << 30),  # M_TRIM_THRESHOLD: free memory at the heap top is kept up to 1 GiB
    (-2, 256 << 20),  # M_TOP_PAD: the heap grows 256 MiB at a time (two encoder rows' buffers fit)
    (-3, 32 << 20),  # M_MMAP_THRESHOLD: buffers up to 32 MiB (glibc's most) come from the heap
    (-8, 1),  # M_ARENA_MAX: every thread uses the main heap, which has no size cap
)
_kept = False


def keep_heap() -> bool:
    """Apply HEAP_SETTINGS once per process; True when they hold (glibc), False elsewhere."""
    global _kept
    if _kept:
        return True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to set
        return False
    _kept = all([mallopt(param, value) == 1 for param, value in HEAP_SETTINGS])
    return _kept
