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


def _signed_client(settings, engine, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from fastapi.testclient import TestClient

    from serve.app import create_app

    pem = tmp_path / "export.pem"
    pem.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    cfg = settings.model_copy(update={"export_signing_key": pem})
    return TestClient(create_app(cfg, engine=engine, start_workers=False)), pem


def _kept_head(client, keys, tmp_path):
    """What a regulator keeps from an export: the signed tree head."""
    export = client.get("/blacklist/export", headers=auth(keys["regulator"])).json()
    path = tmp_path / "head.json"
    path.write_text(json.dumps(export["tree_head"]))
    return export["tree_head"], path


def test_proofs_from_the_api_verify_offline(client, keys, sessions, settings, engine, tmp_path):
    from serve.transparency import leaf_hash, verify_consistency, verify_head_signature, verify_inclusion

    signed, _ = _signed_client(settings, engine, tmp_path)
    with signed as c:
        rec_ids, _ = _confirmed(c, keys, sessions, settings, n=2)
        reg = auth(keys["regulator"])
        old = c.get("/evidence/head", headers=reg).json()
        assert old["tree_size"] == 2 and verify_head_signature(old)
        rec_ids += _confirmed(c, keys, sessions, settings, n=3)[0][2:]  # a third record
        new = c.get("/evidence/head", headers=reg).json()
        for rid in rec_ids:
            p = c.get(f"/evidence/{rid}/proof", headers=reg).json()
            assert p["root_hash"] == new["root_hash"]
            assert verify_inclusion(leaf_hash(p["leaf"].encode()), p["leaf_index"], p["tree_size"],
                                    [bytes.fromhex(x) for x in p["audit_path"]], bytes.fromhex(new["root_hash"]))
        cp = c.get("/evidence/consistency", params={"first": old["tree_size"]}, headers=reg).json()
        assert verify_consistency(old["tree_size"], new["tree_size"], bytes.fromhex(old["root_hash"]),
                                  bytes.fromhex(new["root_hash"]), [bytes.fromhex(x) for x in cp["proof"]])
        assert c.get("/evidence/consistency", params={"first": 99}, headers=reg).status_code == 404


def _rewrite_last_record(sessions):
    """What someone with write access to the database could do: change the newest package and
    recompute its hashes, so the chain alone still checks out."""
    with sessions() as s:
        last = s.scalar(select(EvidenceRecord).order_by(EvidenceRecord.seq.desc()).limit(1))
        manifest = json.loads(last.manifest)
        manifest["decision"]["reason"] = "rewritten"
        last.manifest = json.dumps(manifest, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        last.package_sha256 = hashlib.sha256(last.manifest.encode()).hexdigest()
        last.record_hash = record_hash(last.seq, last.prev_hash, last.package_sha256)
        s.commit()


def test_a_rewritten_tail_passes_the_chain_but_fails_against_a_kept_head(keys, sessions, settings, engine, db_url,
                                                                        tmp_path, capsys, monkeypatch):
    signed, pem = _signed_client(settings, engine, tmp_path)
    with signed as c:
        _confirmed(c, keys, sessions, settings)
        head, head_file = _kept_head(c, keys, tmp_path)
    monkeypatch.chdir(tmp_path / "clips")  # verify from another directory: the clips are still found
    args = ["--db", db_url, "--evidence-dir", str(settings.evidence_dir), "--head", str(head_file)]
    assert cli(["evidence", "verify", *args]) == 0, capsys.readouterr().out
    assert "still holds the signed head" in capsys.readouterr().out
    _rewrite_last_record(sessions)
    assert cli(["evidence", "verify", *args[:4]]) == 0  # the chain alone cannot tell
    capsys.readouterr()
    assert cli(["evidence", "verify", *args]) == 1
    assert "history was rewritten" in capsys.readouterr().out
    # a forged head (the rewritten root, signed by someone else's key) fails with the service's public key
    from serve.signing import ExportSigner

    public = tmp_path / "service.pub"
    public.write_text(ExportSigner(pem).public_key_pem)
    (tmp_path / "other").mkdir()
    forged, _ = _signed_client(settings, engine, tmp_path / "other")
    with forged as c:
        forged_head = c.get("/evidence/head", headers=auth(keys["regulator"])).json()
    (tmp_path / "forged.json").write_text(json.dumps(forged_head))
    assert cli(["evidence", "verify", *args[:4], "--head", str(tmp_path / "forged.json"), "--public-key",
                str(public)]) == 1
    assert "signature does not verify" in capsys.readouterr().out


def test_edits_to_a_records_flag_id_or_the_flags_words_are_named(client, keys, sessions, settings, capsys):
    from serve.tables import Flag

    _confirmed(client, keys, sessions, settings)
    reg = auth(keys["regulator"])
    with sessions() as s:
        second = s.scalar(select(EvidenceRecord).where(EvidenceRecord.seq == 2))
        flag = s.get(Flag, second.flag_id)
        flag.evidence = "something milder"
        s.commit()
    v = client.get("/evidence/verify", headers=reg).json()
    assert not v["ok"] and v["first_broken"] == 2 and "evidence" in v["problem"] and "no longer matches" in v["problem"]
    with sessions() as s:
        s.get(Flag, second.flag_id).evidence = json.loads(second.manifest)["flag"]["evidence"]
        first = s.scalar(select(EvidenceRecord).where(EvidenceRecord.seq == 1))
        first.flag_id = second.flag_id  # the package now seems to belong to another flag
        s.commit()
    v = client.get("/evidence/verify", headers=reg).json()
    assert not v["ok"] and v["first_broken"] == 1 and "flag_id" in v["problem"]
    assert v["problem"].count("record 1:") == 1
