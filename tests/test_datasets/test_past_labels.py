"""Labels of the observed steps (``past_labels=True``): the segment of the
split whose frames hold each step's frame, checked against a plain loop."""
import numpy as np
import pytest

from mmaction.registry import DATASETS

from lsant_mmaction.layout import read_segments
from lsant_mmaction.layout.segments import Segments


def brute_force(segments, video, frames):
    """The covering segment of each frame, by a loop over every row."""
    out = []
    for f in frames:
        best, best_distance = -1, None
        for i in range(len(segments)):
            if segments.videos[i] != video:
                continue
            start, end = segments.start_frames[i], segments.end_frames[i]
            if start <= f <= end:
                distance = abs(f - (start + end) / 2)
                if best_distance is None or distance < best_distance:
                    best, best_distance = i, distance
        out.append(best)
    return out


def test_covering_segments():
    seg = Segments(ids=np.arange(5), videos=['a', 'a', 'b', 'a', 'a'],
                   start_frames=np.array([10, 15, 10, 40, 40]),
                   end_frames=np.array([20, 30, 20, 50, 50]), verbs=None,
                   nouns=None, actions=None, path='x.csv')
    frames = [5, 10, 16, 18, 19, 25, 35, 45]
    # 19: nearer the centre of 15-30 (22.5) than of 10-20 (15);
    # 45: two equal segments, the one listed first
    assert seg.covering('a', frames).tolist() == [-1, 0, 0, 0, 1, 1, -1, 3]
    assert seg.covering('a', frames).tolist() == brute_force(seg, 'a',
                                                            frames)
    assert seg.covering('b', [12]).tolist() == [2]
    assert seg.covering('unknown', [1, 2]).tolist() == [-1, -1]


def test_real_ek100_validation(shared_data):
    root = f'{shared_data}/rulstm/ek100'
    val = DATASETS.build(dict(
        type='EpicKitchens100FeatureDataset', ann_file='validation.csv',
        data_root=root, pipeline=[], test_mode=True, past_labels=True))
    segments = read_segments(f'{root}/validation.csv', 'str')
    meta = val.metainfo['anticipation']['past_labels']
    assert meta['steps'] == 14 * len(val)
    assert 0 < meta['labelled'] < meta['steps']
    total = 0
    for i in range(0, len(val), 97):  # a hundred samples
        info = val.get_data_info(i)
        rows = brute_force(segments, info['video_id'], info['frame_inds'])
        for key, labels in (('past_label', segments.actions),
                            ('past_verb_label', segments.verbs),
                            ('past_noun_label', segments.nouns)):
            expected = [int(labels[r]) if r >= 0 else -1 for r in rows]
            assert info[key].tolist() == expected, (i, key)
        total += sum(r >= 0 for r in rows)
    assert total > 0
    # off by default: no such keys
    plain = DATASETS.build(dict(
        type='EpicKitchens100FeatureDataset', ann_file='validation.csv',
        data_root=root, pipeline=[], test_mode=True))
    assert 'past_label' not in plain.get_data_info(0)
    assert 'past_labels' not in plain.metainfo['anticipation']


def test_unlabelled_split_has_no_past_labels(shared_data):
    root = f'{shared_data}/rulstm/ek100'
    test = DATASETS.build(dict(
        type='EpicKitchens100FeatureDataset', ann_file='test_timestamps.csv',
        data_root=root, pipeline=[], test_mode=True, past_labels=True))
    assert (test.get_data_info(0)['past_label'] == -1).all()
    assert test.metainfo['anticipation']['past_labels']['labelled'] == 0
