"""The HLS playlist parser: sequence numbers, discontinuities, program date-time, master playlists."""

import pytest

from ingest.hls import is_hls, parse_playlist

MEDIA = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-PROGRAM-DATE-TIME:2026-11-30T08:00:00.000Z
#EXTINF:2.000,
seg41.ts
#EXTINF:2.000,
seg42.ts
#EXT-X-DISCONTINUITY
#EXTINF:1.5,
https://cdn.example/other/seg43.ts
"""


def test_media_playlist_numbers_segments_from_the_media_sequence():
    pl = parse_playlist(MEDIA, "http://127.0.0.1:8080/live/index.m3u8")
    assert [s.seq for s in pl.segments] == [41, 42, 43]
    assert pl.segments[0].uri == "http://127.0.0.1:8080/live/seg41.ts"
    assert pl.segments[2].uri == "https://cdn.example/other/seg43.ts"
    assert [s.discontinuity for s in pl.segments] == [False, False, True]
    assert pl.segments[1].program_date_time - pl.segments[0].program_date_time == pytest.approx(2.0)
    assert not pl.endlist and pl.target_duration == 2


def test_endlist_and_master_playlists():
    assert parse_playlist(MEDIA + "#EXT-X-ENDLIST\n", "http://h/x.m3u8").endlist
    master = ('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.4d401f,mp4a.40.2"\nlow/index.m3u8\n'
              '#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720\nhigh/index.m3u8\n')
    pl = parse_playlist(master, "http://h/live/master.m3u8")
    assert max(pl.variants) == (2500000, "http://h/live/high/index.m3u8") and not pl.segments


def test_not_a_playlist_is_refused():
    with pytest.raises(ValueError, match="not an HLS playlist"):
        parse_playlist("<html>404</html>", "http://h/x.m3u8")
    assert is_hls("http://127.0.0.1:1/a/live.m3u8?token=1") and not is_hls("rtmp://h/live.m3u8")
