"""LoadAnticipationVideoFrames: the grid's exact frames from video files,
with each of mmaction's decoders; clear errors for bad videos."""
import importlib.util

import numpy as np
import pytest

from mmaction.registry import TRANSFORMS

from ..videos import frame_index, write_index_video

DECODERS = ['decord', 'opencv', pytest.param('pyav', marks=pytest.mark.skipif(
    importlib.util.find_spec('av') is None, reason='PyAV not installed'))]


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp('videos')
    write_index_video(root / 'V30.mp4', 40, fps=30)
    write_index_video(root / 'V60.mp4', 80, fps=60)
    (root / 'broken.mp4').write_bytes(b'not a video' * 100)
    return str(root)


def load(decoder, video, frames, root, clip_len=2, grid_fps=30):
    transform = TRANSFORMS.build(dict(
        type='LoadAnticipationVideoFrames', clip_len=clip_len,
        frame_interval=3, decoder=decoder))
    return transform(dict(videos_root=root, video_id=video, segment_id=7,
                          frame_inds=np.array(frames), grid_fps=grid_fps))


@pytest.mark.parametrize('decoder', DECODERS)
def test_exact_frames_at_the_grids_rate_and_another(decoder, videos):
    # grid frame n is video frame n - 1 at 30 fps; clips of 2 frames, 3
    # apart, clamped at frame 1
    out = load(decoder, 'V30', [1, 5, 40], videos)
    assert [frame_index(i) for i in out['imgs']] == [0, 0, 1, 4, 36, 39]
    assert out['num_clips'] == 3 and out['clip_len'] == 2
    assert out['img_shape'] == out['imgs'][0].shape[:2] == (48, 64)
    assert out['modality'] == 'RGB'
    # the same times in a 60 fps video: index 2 (n - 1)
    out = load(decoder, 'V60', [1, 5, 40], videos)
    assert [frame_index(i) for i in out['imgs']] == [0, 0, 2, 8, 72, 78]


@pytest.mark.parametrize('decoder', DECODERS)
def test_bad_videos_are_errors_naming_them(decoder, videos):
    with pytest.raises(FileNotFoundError,
                       match=r'video not found: .*/nope\.mp4 \(segment 7\)'):
        load(decoder, 'nope', [5], videos)
    with pytest.raises(ValueError, match=r'broken\.mp4 \(segment 7\)'):
        load(decoder, 'broken', [5], videos)
    with pytest.raises(ValueError, match=(
            r'V30\.mp4 \(segment 7\): frame 41 of the time grid \(30 fps\) '
            r'is video frame 40 \(counted from 0\), past the end of the '
            r'video \(40 frames at 30 fps\)')):
        load(decoder, 'V30', [5, 41], videos)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="decoder must be one of .*'ffmpeg'"):
        TRANSFORMS.build(dict(type='LoadAnticipationVideoFrames',
                              decoder='ffmpeg'))
    with pytest.raises(ValueError, match="must contain '\\{video\\}'"):
        TRANSFORMS.build(dict(type='LoadAnticipationVideoFrames',
                              filename_tmpl='{}.mp4'))
