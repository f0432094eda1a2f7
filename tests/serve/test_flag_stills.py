"""A face flag's page shows the frames the face was matched in and the face itself, cut from the
evidence clip at the clip's own resolution (real dlib detection on a real photo)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.serve.builders import streamer_with_stream
from tests.serve.conftest import auth

skimage_data = pytest.importorskip("skimage.data")


def _room_with_a_face(tmp_path: Path) -> Path:
    """12 s of a 1280x720 room: grey, with the astronaut photo's face 100 px high from 5 s on."""
    face = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    still = tmp_path / "room.png"
    frame = np.full((720, 1280, 3), 90, np.uint8)
    small = cv2.resize(face, (200, 200), interpolation=cv2.INTER_AREA)  # the face is about half the photo
    frame[300:500, 900:1100] = small
    cv2.imwrite(str(still), frame)
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((720, 1280, 3), 90, np.uint8))
    out = tmp_path / "room.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-loop", "1", "-t", "5", "-r", "25", "-i", str(grey),
                    "-loop", "1", "-t", "7", "-r", "25", "-i", str(still), "-f", "lavfi", "-i", "sine=f=300:d=12",
                    "-filter_complex", "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]", "-map", "[v]", "-map", "2:a",
                    "-c:v", "libx264", "-g", "25", "-c:a", "aac", "-shortest", str(out)], check=True, timeout=60)
    return out


def test_face_flag_shows_the_matched_frames_and_the_face(client, keys, sessions, settings, tmp_path):
    from ingest.recorder import Segment, clip_span, cut_clip
    from vision.faces import FaceDetector

    clip = cut_clip([Segment(str(_room_with_a_face(tmp_path)), 1, 0.0, 12.0, "file")], 4.0, 11.0,
                    Path(settings.clip_roots[0]) / "face.mp4")
    t0 = clip_span(clip)[0]
    _, stream_id = streamer_with_stream(sessions)
    evidence = ("protected person 'Anchor Li' on an account they did not authorise: distance 0.310 <= 0.6; "
                "frames at t=6.0, 9.5 s")
    fid = client.post("/flags", json={"label": "ai_impersonation", "t0": 5.0, "t1": 11.0, "score": 0.74,
                                      "evidence": evidence, "decided_by": "face:dlib-resnet-v1@0.3.0",
                                      "stream_id": stream_id, "clip_path": str(clip)},
                      headers=auth(keys["ingest"])).json()["id"]
    h = auth(keys["moderator"])
    page = client.get(f"/ui/flags/{fid}", headers=h).text
    assert f"{6.0 - t0:.1f} s into the clip" in page and f"{9.5 - t0:.1f} s into the clip" in page
    assert "crop=true" in page
    detector = FaceDetector()
    for i in (0, 1):
        whole = client.get(f"/ui/flags/{fid}/still/{i}.jpg", headers=h)
        crop = client.get(f"/ui/flags/{fid}/still/{i}.jpg", params={"crop": "true"}, headers=h)
        assert whole.status_code == 200 and crop.status_code == 200, crop.text
        img = cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape[0] == 160 and img.shape[1] < 300  # the face, not the room
        assert len(detector.detect(img[:, :, ::-1])) == 1
    assert client.get(f"/ui/flags/{fid}/still/2.jpg", headers=h).status_code == 404


def test_a_crop_where_no_face_is_shown_is_a_404_not_a_picture(client, keys, sessions, settings, tmp_path):
    from ingest.recorder import Segment, cut_clip

    clip = cut_clip([Segment(str(_room_with_a_face(tmp_path)), 1, 0.0, 12.0, "file")], 0.0, 4.0,
                    Path(settings.clip_roots[0]) / "grey.mp4")
    fid = client.post("/flags", json={"label": "ai_impersonation", "t0": 1.0, "t1": 3.0, "score": 0.6,
                                      "evidence": "frames at t=2.0 s", "decided_by": "face:dlib-resnet-v1@0.3.0",
                                      "clip_path": str(clip)}, headers=auth(keys["ingest"])).json()["id"]
    r = client.get(f"/ui/flags/{fid}/still/0.jpg", params={"crop": "true"}, headers=auth(keys["moderator"]))
    assert r.status_code == 404 and "no face" in r.text
