"""Evidence packages, the hash chain, and tamper detection (API and `liveguard evidence verify`)."""

import argparse
import hashlib
import json

from sqlalchemy import select

from liveguard.serve_cli import add_serve_parsers
from serve.evidence import GENESIS, record_hash, verify_chain
from serve.tables import EvidenceRecord
from tests.serve.builders import scanned_recording, streamer_with_stream, write_clip
from tests.serve.conftest import auth


def cli(argv):
    p = argparse.ArgumentParser()
    add_serve_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.func(args)


def _confirmed(client, keys, sessions, settings, n=3):
    rec = scanned_recording(sessions)
    _, stream_id = streamer_with_stream(sessions)
    clip = write_clip(settings)
    ids = client.post("/flags/ingest", json={"recording_id": rec.id, "stream_id": stream_id, "clip_path": str(clip)},
                      headers=auth(keys["ingest"])).json()["created"]
    out = [client.post(f"/flags/{f}/decision", json={"decision": "confirm", "reason": f"confirmed {f}"},
                       headers=auth(keys["moderator"])).json()["evidence_record_id"] for f in sorted(ids)[:n]]
    return out, clip


def test_package_contents_and_chain(client, keys, sessions, settings):
    rec_ids, clip = _confirmed(client, keys, sessions, settings)
    reg = auth(keys["regulator"])
    pkg = client.get(f"/evidence/{rec_ids[0]}", headers=reg).json()
    m = pkg["manifest"]
    assert m["clip"]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert m["listing"] == {"title": "Herbal tea", "material": "tea leaves"}
    assert m["model_ids"]["asr"] == "whisper-base@test" and m["model_ids"]["detector"].startswith("rule:")
    assert m["decision"]["decision"] == "confirm" and m["decision"]["reviewer"] == "moderator-1"
    assert any("diabetes" in seg["text"] for seg in m["transcript"])
    canonical = json.dumps(m, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    assert hashlib.sha256(canonical).hexdigest() == pkg["package_sha256"]  # a third party can recompute it
    assert pkg["prev_hash"] == GENESIS and pkg["record_hash"] == record_hash(1, GENESIS, pkg["package_sha256"])
    second = client.get(f"/evidence/{rec_ids[1]}", headers=reg).json()
    assert second["prev_hash"] == pkg["record_hash"]
    assert client.get(f"/evidence/{rec_ids[0]}/clip", headers=reg).content == clip.read_bytes()
    v = client.get("/evidence/verify", headers=reg).json()
    assert v["ok"] and v["checked"] == 3 and v["first_broken"] is None
    assert client.get(f"/evidence/{rec_ids[2]}/verify", headers=reg).json()["ok"]
    assert client.get("/evidence/999999", headers=reg).status_code == 404


def test_one_tampered_clip_byte_is_named(client, keys, sessions, settings, db_url, capsys):
    rec_ids, clip = _confirmed(client, keys, sessions, settings)
    args = ["--db", db_url, "--evidence-dir", str(settings.evidence_dir)]
    assert cli(["evidence", "verify", *args]) == 0
    assert "ok: 3 record(s)" in capsys.readouterr().out
    with sessions() as s:
        second = s.scalar(select(EvidenceRecord).where(EvidenceRecord.seq == 2))
    stored = settings.evidence_dir / second.clip_file
    data = bytearray(stored.read_bytes())
    data[100] ^= 0x01  # one byte
    stored.write_bytes(bytes(data))

    v = client.get("/evidence/verify", headers=auth(keys["regulator"])).json()
    assert not v["ok"] and v["first_broken"] == 2 and "altered" in v["problem"]
    assert client.get(f"/evidence/{second.id}/verify", headers=auth(keys["regulator"])).json()["first_broken"] == 2
    assert client.get(f"/evidence/{rec_ids[0]}/verify", headers=auth(keys["regulator"])).json()["ok"]
    assert cli(["evidence", "verify", *args]) == 1
    out = capsys.readouterr().out
    assert "BROKEN: record 2" in out and second.clip_file in out
    assert cli(["evidence", "verify", "--package", str(rec_ids[0]), *args]) == 0
    assert cli(["evidence", "verify", "--package", str(second.id), *args]) == 1


def test_edited_record_or_missing_record_breaks_the_chain(client, keys, sessions, settings):
    _confirmed(client, keys, sessions, settings)
    with sessions() as s:
        rec = s.scalar(select(EvidenceRecord).where(EvidenceRecord.seq == 1))
        rec.manifest = rec.manifest.replace("confirmed", "c0nfirmed")
        s.commit()
        res = verify_chain(s, settings.evidence_dir)
    assert not res.ok and res.first_broken == 1 and "manifest" in res.problem
    with sessions() as s:
        s.delete(s.scalar(select(EvidenceRecord).where(EvidenceRecord.seq == 1)))
        s.commit()
        res = verify_chain(s, settings.evidence_dir)
    assert not res.ok and res.first_broken == 2


def test_keys_create_cli_prints_the_token_once(db_url, tmp_path, capsys, client):
    assert cli(["keys", "create", "--role", "regulator", "--name", "SAMR", "--db", db_url]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("lg_")
    assert client.get("/blacklist", headers=auth(token)).status_code == 200


def test_concurrent_confirms_keep_one_chain(client, keys, sessions, settings):
    import threading

    rec = scanned_recording(sessions)
    ids = client.post("/flags/ingest", json={"recording_id": rec.id}, headers=auth(keys["ingest"])).json()["created"]
    barrier, codes = threading.Barrier(len(ids)), []

    def confirm(fid):
        barrier.wait()
        codes.append(client.post(f"/flags/{fid}/decision", json={"decision": "confirm", "reason": "r"},
                                 headers=auth(keys["moderator"])).status_code)

    threads = [threading.Thread(target=confirm, args=(f,)) for f in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert codes == [200] * len(ids)
    with sessions() as s:
        res = verify_chain(s, settings.evidence_dir)
    assert res.ok and res.checked == len(ids)
