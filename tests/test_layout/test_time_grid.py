from fractions import Fraction

import numpy as np
import pytest

from lsant_mmaction.layout import TimeGrid, read_segments

GRID = TimeGrid()
anticipation_times = GRID.anticipation_times
frame_indices = GRID.frame_indices
time_stamps = GRID.time_stamps


def test_time_stamps_and_horizons():
    np.testing.assert_allclose(time_stamps(), np.arange(14, 0, -1) * 0.25)
    assert anticipation_times().tolist() == [
        2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25
    ]
    assert time_stamps()[-4] == 1.0


@pytest.mark.parametrize('grid,stamps', [
    # AVT on EK100 (10 frames at 1 fps, tau_a 1 s) and AFFT (18 frames)
    (TimeGrid(time_step=1.0, num_steps=10, num_anticipation_steps=1),
     np.arange(10, 0, -1.0)),
    (TimeGrid(time_step=1.0, num_steps=18, num_anticipation_steps=1),
     np.arange(18, 0, -1.0)),
    # AVT on EK55 (10 frames at 2 fps, tau_a 1 s) and EGTEA (1 fps, 0.5 s)
    (TimeGrid(time_step=0.5, num_steps=10, num_anticipation_steps=1,
              tau_a=1.0), 1.0 + 0.5 * np.arange(9, -1, -1)),
    (TimeGrid(time_step=1.0, num_steps=10, num_anticipation_steps=1,
              tau_a=0.5), 0.5 + np.arange(9, -1, -1.0)),
])
def test_official_protocols_of_the_transformer_heads(grid, stamps):
    np.testing.assert_allclose(grid.time_stamps(), stamps)
    assert grid.anticipation_times().tolist() == [stamps[-1]]
    assert TimeGrid.from_dict(grid.to_dict()) == grid
    # frames at 30 fps: one per time_step, the last tau_a before the start
    frames = grid.frame_indices(30 * 60)
    assert frames[-1] == 30 * 60 - round(30 * stamps[-1])
    assert np.diff(frames).tolist() == [round(30 * grid.time_step)] * (
        len(frames) - 1)


def test_tau_a_is_checked():
    with pytest.raises(ValueError, match='tau_a must be positive'):
        TimeGrid(tau_a=0)


def test_frames_far_from_video_start():
    # start at 10 s: frames 300 - 30 * ts, floored (hand-computed)
    expected = [195, 202, 210, 217, 225, 232, 240, 247, 255, 262, 270, 277,
                285, 292]
    assert frame_indices(300).tolist() == expected


def test_frames_padded_with_first_valid_frame():
    # start at 2 s: steps 3.5 s .. 2.0 s before fall on frames < 1
    # (-45, -38, -30, -23, -15, -8, 0) and take the first valid one, 7.
    expected = [7] * 8 + [15, 22, 30, 37, 45, 52]
    assert frame_indices(60).tolist() == expected


@pytest.mark.parametrize('start', [0, 1, 7, 8])
def test_segment_without_valid_frame_is_dropped(start):
    # the last step is at start - 7.5 frames: below frame 1 up to start 8
    assert frame_indices(start) is None


def test_one_valid_frame_fills_the_sequence():
    assert frame_indices(9).tolist() == [1] * 14


def test_float_formula_is_kept_where_exact_arithmetic_differs():
    """The official float64 formula, not exact arithmetic, defines frames."""
    ts = time_stamps()
    found = None
    for start in range(300, 3000):
        exact = [int((Fraction(start, 30) - Fraction(t).limit_denominator(
            100)) * 30 // 1) for t in ts]
        if exact != frame_indices(start).tolist() and min(exact) >= 1:
            found = (start, exact)
            break
    assert found is not None
    start, exact = found
    official = np.floor((start / 30 - ts) * 30).astype(int)
    assert frame_indices(start).tolist() == official.tolist() != exact


def test_real_ek55_dropped_segments(shared_data):
    """RU-LSTM drops 21 training and 7 validation segments of EK55."""
    for split, dropped in (('training', 21), ('validation', 7)):
        seg = read_segments(f'{shared_data}/rulstm/ek55/{split}.csv')
        n = sum(frame_indices(int(s)) is None for s in seg.start_frames)
        assert n == dropped, split


def test_real_ek100_frames_by_hand(shared_data):
    """EK100 (string ids, 30 fps, same grid): frames ``start - 30 * ts``
    floored, computed by hand for a sample of validation segments."""
    seg = read_segments(f'{shared_data}/rulstm/ek100/validation.csv', 'str')
    start = dict(zip(seg.ids.tolist(), seg.start_frames.tolist()))
    expected = {
        # start 1474: 1474 - 105, 1474 - 97.5, ..., 1474 - 7.5
        'P01_11_10': [1369, 1376, 1384, 1391, 1399, 1406, 1414, 1421, 1429,
                      1436, 1444, 1451, 1459, 1466],
        # start 8047
        'P22_01_100': [7942, 7949, 7957, 7964, 7972, 7979, 7987, 7994, 8002,
                       8009, 8017, 8024, 8032, 8039],
        # start 46: 1.5 s before is frame 1, earlier steps are padded with it
        'P01_11_1': [1] * 9 + [8, 16, 23, 31, 38],
        # start 16138: exact arithmetic gives 16033, 16048, 16063, ... at
        # 3.5, 3.0, 2.5 s; the official float64 formula (and the LMDBs) one
        # frame less
        'P01_11_142': [16032, 16040, 16047, 16055, 16062, 16070, 16077,
                       16085, 16092, 16100, 16107, 16115, 16122, 16130],
    }
    for segment_id, frames in expected.items():
        assert frame_indices(start[segment_id]).tolist() == frames, segment_id
    # start 1: no step before the action falls on a frame: dropped
    assert start['P32_02_0'] == 1 and frame_indices(1) is None


def test_real_ek100_dropped_segments(shared_data):
    """67,182 of 67,217 training and 9,658 of 9,668 validation segments
    keep a frame; the dropped ones are the first of their video."""
    for split, total, dropped in (('training', 67217, 35),
                                  ('validation', 9668, 10)):
        seg = read_segments(f'{shared_data}/rulstm/ek100/{split}.csv')
        assert seg.ids.dtype.kind == 'U' and len(seg) == total
        ids = [i for i, s in zip(seg.ids.tolist(), seg.start_frames.tolist())
               if frame_indices(s) is None]
        assert len(ids) == dropped, split
        assert all(i.endswith('_0') for i in ids)
