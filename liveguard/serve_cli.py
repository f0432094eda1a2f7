"""`liveguard serve`, `liveguard evidence verify` and `liveguard keys create`.

`add_serve_parsers(subparsers)` adds them to the main parser (liveguard/cli.py); each sets
func=(args -> exit code). Heavy imports (FastAPI, uvicorn) happen inside the commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager

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
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if getattr(args, "verbose", False) else "warning")
    return 0


def _cmd_evidence_verify(args: argparse.Namespace) -> int:
    from serve.evidence import verify_chain, verify_record
    from serve.tables import EvidenceRecord

    settings = _settings(args)
    with _open_db(settings) as session:
        if args.package is not None:
            rec = session.get(EvidenceRecord, args.package)
            if rec is None:
                print(f"error: evidence record {args.package} not found", file=sys.stderr)
                return 1
            res = verify_record(session, rec, settings.evidence_dir)
        else:
            res = verify_chain(session, settings.evidence_dir)
    if res.ok:
        print(f"ok: {res.checked} record(s) verified; head {res.head}")
        return 0
    print(f"BROKEN: record {res.first_broken}: {res.problem}")
    return 1


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
    v.add_argument("--evidence-dir", help="where evidence packages are kept")
    v.set_defaults(func=_cmd_evidence_verify)

    k = subparsers.add_parser("keys", help="API keys")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    c = ksub.add_parser("create", help="create a key and print it once (only its hash is stored)")
    c.add_argument("--role", required=True, choices=["moderator", "regulator", "admin", "ingest"])
    c.add_argument("--name", required=True, help="the person or system the key belongs to")
    c.add_argument("--db", help=db_help)
    c.set_defaults(func=_cmd_keys_create)
