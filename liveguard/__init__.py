"""LiveGuard: monitoring of live-commerce streams.

This package holds what every stage shares (`errors`) and the outermost shell (`cli`, `report`).
The stages themselves are the top-level packages `ingest`, `asr`, `vision`, `claims`,
`pipeline` and `serve`, with `models` beside them; see README.md for the data flow.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
