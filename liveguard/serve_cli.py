"""`liveguard serve`, `liveguard evidence verify` and `liveguard keys create`.

`add_serve_parsers(subparsers)` adds them to the main parser (liveguard/cli.py); each sets
func=(args -> exit code). Heavy imports (FastAPI, uvicorn) happen inside the commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path

__all__ = ["add_serve_parsers"]


def _settings(args: argparse.Namespace):
    from serve.settings import Settings

    overrides = {"db_url": args.db} if getattr(args, "db", None) else {}
    if getattr(args, "evidence_dir", None):
        overrides["evidence_dir"] = args.evidence_dir
    try:
        return Settings(**overrides)
    except ValueError as exc:
        from liveguard.errors import ConfigError

        raise ConfigError(str(exc)) from exc


@contextmanager
def _open_db(settings):
    """A session on the migrated database; the engine's connections are closed afterwards."""
    from serve.db import make_engine, make_sessionmaker
    from serve.migrate import upgrade

    engine = make_engine(settings.db_url, create_tables=False)
    try:
        upgrade(engine)
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from serve.app import create_app

    settings = _settings(args)
    app = create_app(settings)
    print(f"LiveGuard on http://{args.host}:{args.port} (docs: /docs, review page: /ui) db={settings.db_url}",
          file=sys.stderr)
    from serve.settings import DEFAULT_SECRET

    if settings.webhook_secret == DEFAULT_SECRET:  # allowed only in development, never silently
        print(f"warning: webhooks are signed with the default secret {DEFAULT_SECRET!r} (development only); "
              "set LIVEGUARD_WEBHOOK_SECRET", file=sys.stderr)
    if settings.export_signing_key is None:
        print("warning: no LIVEGUARD_EXPORT_SIGNING_KEY: exports and evidence heads are not signed, so "
              "regulators cannot pin the evidence log", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if getattr(args, "verbose", False) else "warning")
    return 0


def _cmd_evidence_verify(args: argparse.Namespace) -> int:
    import json

    from serve.evidence import verify_against_head, verify_chain, verify_record
    from serve.tables import EvidenceRecord

    settings = _settings(args)
    head = None
    if args.head:
        try:
            head = json.loads(Path(args.head).read_text(encoding="utf-8"))
            head = head.get("tree_head", head)  # a whole JSON export, or the head alone
        except (OSError, ValueError, AttributeError) as exc:
            print(f"error: cannot read the head {args.head}: {exc}", file=sys.stderr)
            return 1
    try:
        public_key = Path(args.public_key).read_text(encoding="utf-8") if args.public_key else None
    except OSError as exc:
        print(f"error: cannot read the public key {args.public_key}: {exc}", file=sys.stderr)
        return 1
    with _open_db(settings) as session:
        if args.package is not None:
            rec = session.get(EvidenceRecord, args.package)
            if rec is None:
                print(f"error: evidence record {args.package} not found", file=sys.stderr)
                return 1
            res = verify_record(session, rec, settings.evidence_dir)
        else:
            res = verify_chain(session, settings.evidence_dir)
        against = verify_against_head(session, head, public_key) if head is not None else None
    if not res.ok:
        print(f"BROKEN: {res.problem}")
        return 1
    if against is not None:
        print(f"BROKEN against the head of {head.get('timestamp')} ({head.get('tree_size')} records): {against}")
        return 1
    print(f"ok: {res.checked} record(s) verified; head {res.head}"
          + (f"; the log still holds the signed head of {head['timestamp']} ({head['tree_size']} records)"
             if head is not None else ""))
    return 0


def _cmd_evidence_head(args: argparse.Namespace) -> int:
    """Print (or write) the signed head of the evidence log now, for a regulator to keep."""
    import json

    from serve.evidence import signed_head

    settings = _settings(args)
    signer = None
    if settings.export_signing_key:
        from serve.signing import ExportSigner

        signer = ExportSigner(settings.export_signing_key)
    with _open_db(settings) as session:
        head = signed_head(session, signer)
    text = json.dumps(head, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    if signer is None:
        print("warning: unsigned (no LIVEGUARD_EXPORT_SIGNING_KEY): verify --head will not accept it", file=sys.stderr)
    return 0


def _cmd_keys_create(args: argparse.Namespace) -> int:
    from serve.auth import create_key

    settings = _settings(args)
    with _open_db(settings) as session:
        row, token = create_key(session, name=args.name, role=args.role)
        from serve.crud import audit

        audit(session, who=None, action="key.create", entity="api_key", entity_id=row.id,
              details={"name": row.name, "role": row.role, "via": "cli"})
        session.commit()
    print(f"created {args.role} key {row.id} for {args.name!r}; it is shown only this once:", file=sys.stderr)
    print(token)
    return 0


def add_serve_parsers(subparsers) -> None:
    db_help = "SQLAlchemy URL (default: LIVEGUARD_DB_URL or sqlite:///liveguard.sqlite)"
    s = subparsers.add_parser("serve", help="run the review / blacklist API and review page")
    s.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s, this machine only)")
    s.add_argument("--port", type=int, default=int(os.environ.get("LIVEGUARD_PORT", 8000)))
    s.add_argument("--db", help=db_help)
    s.add_argument("--evidence-dir", help="where evidence packages are kept (default: LIVEGUARD_EVIDENCE_DIR)")
    s.set_defaults(func=_cmd_serve)

    e = subparsers.add_parser("evidence", help="evidence packages and their hash chain")
    esub = e.add_subparsers(dest="evidence_cmd", required=True)
    v = esub.add_parser("verify", help="re-check the whole chain, or one package; names the first broken record")
    v.add_argument("--package", type=int, help="evidence record id (default: the whole chain)")
    v.add_argument("--db", help=db_help)
    v.add_argument("--evidence-dir", help="where evidence packages are kept (default: LIVEGUARD_EVIDENCE_DIR, or "
                   "'evidence' beside a SQLite database)")
    v.add_argument("--head", help="a signed tree head kept from an earlier export (GET /blacklist/export, "
                   "/evidence/head or `evidence head`): the log must still hold it unchanged")
    v.add_argument("--public-key", help="the service's Ed25519 public key (PEM) to check the head's signature "
                   "with (default: the key the head names)")
    v.set_defaults(func=_cmd_evidence_verify)
    h = esub.add_parser("head", help="the signed head of the evidence log now (keep it; verify --head later)")
    h.add_argument("--db", help=db_help)
    h.add_argument("--out", help="write it here (default: stdout)")
    h.set_defaults(func=_cmd_evidence_head)

    k = subparsers.add_parser("keys", help="API keys")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    c = ksub.add_parser("create", help="create a key and print it once (only its hash is stored)")
    c.add_argument("--role", required=True, choices=["moderator", "regulator", "admin", "ingest"])
    c.add_argument("--name", required=True, help="the person or system the key belongs to")
    c.add_argument("--db", help=db_help)
    c.set_defaults(func=_cmd_keys_create)
