"""`liveguard bench scan` end to end on a short recording: both paths run as whole processes."""

import pytest

from liveguard.cli import main


@pytest.mark.slow
def test_bench_scan_runs_scan_and_faster_whisper_and_prints_the_table(tmp_path, capsys):
    pytest.importorskip("faster_whisper")
    code = main(["bench", "scan", "--seconds", "12", "--short", "0", "--repeat", "1",
                 "--recordings", str(tmp_path), "--scan-args", "--claims rules"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("recording"))
    for column in ("path", "runs", "wall s", "audio-s/s", "x fw", "CPU s", "WER", "peak RSS MiB"):
        assert column in header
    rows = [line for line in out[out.index(header) + 1:] if line.strip()]
    assert len(rows) == 4  # scan and faster-whisper, on the recording with music and the clean one
    assert sum("liveguard scan" in r for r in rows) == 2 and sum("faster-whisper" in r for r in rows) == 2
    for row in rows:
        wer = float(row.split("%")[0].split()[-1])
        assert wer <= 40.0, row  # 12 s of real speech: both transcribe it
    assert len(list(tmp_path.glob("*.mp4"))) == 2
