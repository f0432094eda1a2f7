"""Build samples/live_room_en.mp4: the bundled demo recording.

Real human speech (a LibriVox clip from Debian's pocketsphinx-testdata) followed by a host
pitching a product in espeak-ng English, with claims a regulator would flag and a lawful
disclaimer that must not be flagged. Needs ffmpeg, espeak-ng and pocketsphinx-testdata
(scripts/setup.sh installs them). Run: .venv/bin/python scripts/make_sample.py
"""

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.utils.media import assemble, librivox, make_recording  # noqa: E402

SCRIPT = [
    0.5, librivox(), 1.0,
    "Welcome back to the live room, everyone.", 0.8,
    "This herbal tea cures diabetes and lowers your blood pressure.", 1.0,
    "It is the best tea in the world.", 1.0,
    "Normally one thousand nine hundred ninety nine, today only ninety nine.", 1.0,
    "Please consult your doctor before use.", 1.0,
]


def main(out: Path = Path("samples/live_room_en.mp4")) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        audio, placed = assemble(SCRIPT, Path(tmp))
    out.parent.mkdir(parents=True, exist_ok=True)
    make_recording(out, audio)
    script = [{"t0": round(p.t0, 2), "t1": round(p.t1, 2), "text": p.text} for p in placed]
    out.with_suffix(".script.json").write_text(json.dumps(script, indent=1, ensure_ascii=False) + "\n")
    print(out, f"{out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
