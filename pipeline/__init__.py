"""Pipeline: wiring of the stages (ingest -> asr -> claims) into scans, and the findings they yield.

Ray wiring for live monitoring will live here too; nothing below this package imports it.
"""

from pipeline.findings import Finding, find_claims
from pipeline.scan import MEDIA_EXTENSIONS, FileScan, collect_inputs, scan_file, scan_files

__all__ = ["MEDIA_EXTENSIONS", "FileScan", "Finding", "collect_inputs", "find_claims", "scan_file", "scan_files"]
