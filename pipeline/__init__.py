"""Pipeline: wiring of the stages (ingest -> asr -> claims) into scans, and the findings they yield.

Live monitoring: `live` (per-stream ingest with bounded buffers, results, clips) and `ray_monitor`
(the actors and the driver loop). Ray is imported only in `ray_monitor`.
"""

from pipeline.findings import Finding, find_claims
from pipeline.live import LiveProcessor, MonitorOptions, StreamIngest
from pipeline.scan import MEDIA_EXTENSIONS, FileScan, collect_inputs, scan_file, scan_files

# pipeline.ray_monitor (the Ray shell) is imported on demand: Ray is heavy and only `monitor` needs it.
__all__ = ["MEDIA_EXTENSIONS", "FileScan", "Finding", "LiveProcessor", "MonitorOptions", "StreamIngest",
           "collect_inputs", "find_claims", "scan_file", "scan_files"]
