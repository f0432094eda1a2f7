"""Who a re-scanned recording belongs to: a streamer, a platform account and a stream row, so its
flags reach the sanctions ladder exactly as a live stream's do.

`liveguard scan --streamer NAME --platform P [--account A]` gives one attribution for all files;
`--manifest FILE.csv|json` gives one per file (path, streamer, platform, account, listing,
recorded_at). The streamer is found by its platform account when one is given (the account is
what the platform knows), else by its exact name when exactly one streamer has it, else created.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from liveguard.errors import ConfigError
from serve.tables import PlatformAccount, Stream, Streamer

__all__ = ["Attribution", "read_manifest", "resolve_stream"]

FIELDS = ("path", "streamer", "platform", "account", "listing", "recorded_at")


@dataclass(frozen=True)
class Attribution:
    streamer: str
    platform: str
    account: str | None = None
    listing: str | None = None  # a listing JSON file for this recording
    recorded_at: str | None = None  # ISO 8601, when the stream was broadcast

    def __post_init__(self):
        for name, value, limit in (("streamer", self.streamer, 200), ("platform", self.platform, 64),
                                   ("account", self.account, 200)):
            if name != "account" and not (value or "").strip():
                raise ConfigError(f"attribution needs a {name}")
            if value is not None and len(value) > limit:
                raise ConfigError(f"{name} longer than {limit} characters: {value[:40]}…")
        if self.recorded_at:
            try:
                datetime.fromisoformat(self.recorded_at)
            except ValueError:
                raise ConfigError(f"recorded_at {self.recorded_at!r} is not an ISO 8601 time") from None


def read_manifest(path: str | Path) -> dict[Path, Attribution]:
    """Resolved media path -> attribution, from a CSV (a header row naming the columns) or a JSON
    list of objects. Relative paths are relative to the manifest. Raises ConfigError naming the
    row at fault: a batch is checked whole before any file is scanned."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read manifest {path}: {exc}") from exc
    if path.suffix.lower() == ".json":
        try:
            rows = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"manifest {path}: not JSON ({exc})") from exc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ConfigError(f"manifest {path}: expected a JSON list of objects")
    else:
        rows = list(csv.DictReader(text.splitlines()))
    out: dict[Path, Attribution] = {}
    for n, row in enumerate(rows, start=1):
        unknown = set(row) - set(FIELDS)
        if unknown:
            raise ConfigError(f"manifest {path}, row {n}: unknown column(s) {sorted(unknown)}; known: {', '.join(FIELDS)}")
        clean = {k: (str(v).strip() or None) if v is not None else None for k, v in row.items()}
        if not clean.get("path"):
            raise ConfigError(f"manifest {path}, row {n}: no path")
        media = (path.parent / clean.pop("path")).resolve()
        if not media.exists():
            raise ConfigError(f"manifest {path}, row {n}: {media} does not exist")
        if clean.get("listing"):
            clean["listing"] = str((path.parent / clean["listing"]).resolve())
        try:
            out[media] = Attribution(**{k: clean.get(k) for k in FIELDS if k != "path"})
        except (ConfigError, TypeError) as exc:
            raise ConfigError(f"manifest {path}, row {n}: {exc}") from exc
    if not out:
        raise ConfigError(f"manifest {path} lists no files")
    return out


def resolve_stream(session: Session, attr: Attribution, url: str) -> Stream:
    """The stream row for recording `url` of this streamer on this platform (found or made; the
    caller commits)."""
    streamer = None
    if attr.account:
        acct = session.scalar(select(PlatformAccount).where(PlatformAccount.platform == attr.platform,
                                                            PlatformAccount.account_id == attr.account))
        streamer = session.get(Streamer, acct.streamer_id) if acct is not None else None
    if streamer is None:
        named = list(session.scalars(select(Streamer).where(Streamer.display_name == attr.streamer).limit(2)))
        streamer = named[0] if len(named) == 1 else None
    if streamer is None:
        streamer = Streamer(display_name=attr.streamer)
        session.add(streamer)
        session.flush()
    if attr.account and session.scalar(select(PlatformAccount.id).where(
            PlatformAccount.platform == attr.platform, PlatformAccount.account_id == attr.account)) is None:
        session.add(PlatformAccount(streamer_id=streamer.id, platform=attr.platform, account_id=attr.account))
    stream = session.scalar(select(Stream).where(Stream.url == url, Stream.platform == attr.platform,
                                                 Stream.streamer_id == streamer.id))
    if stream is None:
        stream = Stream(url=url, platform=attr.platform, streamer_id=streamer.id, monitoring="stopped")
        session.add(stream)
        session.flush()
    return stream
