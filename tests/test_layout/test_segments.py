"""Segment CSVs: integer ids (EK55, EGTEA) and string ids (EK100)."""
import numpy as np
import pytest

from lsant_mmaction.layout import SEGMENT_ID_TYPES, read_segments


def write(tmp_path, text, name='split.csv'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_integer_ids_stay_int64(tmp_path):
    path = write(tmp_path, '0012, P01_01, 300, 350, 1, 2, 3\n'
                 '7, P01_01, 60, 90, 0, 1, 0\n')
    for id_type in ('auto', 'int'):
        seg = read_segments(path, id_type)
        assert seg.ids.dtype == np.int64 and seg.ids.tolist() == [12, 7]
        assert seg.tie_breaks().tolist() == [12, 7]
    assert read_segments(path, 'str').ids.tolist() == ['0012', '7']


def test_string_ids(tmp_path):
    path = write(tmp_path, 'P01_01_10,P01_01,300,350,1,2,3\n'
                 'P01_01_9,P01_01,300,340,0,1,0\n'
                 'P01_02_0,P01_02,9,40,2,0,4\n')
    for id_type in ('auto', 'str'):
        seg = read_segments(path, id_type)
        assert seg.ids.tolist() == ['P01_01_10', 'P01_01_9', 'P01_02_0']
        assert seg.string_ids and seg.labelled
        # ties between segments that start together: the trailing number
        assert seg.tie_breaks().tolist() == [10, 9, 0]
    with pytest.raises(ValueError,
                       match=r"split.csv, line 1: column 'id' must be an"):
        read_segments(path, 'int')
    with pytest.raises(ValueError, match='id_type must be one of'):
        read_segments(path, 'string')


def test_duplicate_string_id_names_file_and_line(tmp_path):
    path = write(tmp_path, 'P01_01_1,P01_01,300,350\nP01_01_2,P01_01,400,450\n'
                 'P01_01_1,P01_01,500,550\n')
    with pytest.raises(ValueError, match=r"split.csv, line 3: duplicate "
                       r"segment id 'P01_01_1' \(first on line 1\)"):
        read_segments(path)


def test_duplicate_integer_id_names_file_and_line(tmp_path):
    path = write(tmp_path, '5, P01_01, 300, 350\n05, P01_01, 400, 450\n')
    with pytest.raises(ValueError, match='split.csv, line 2: duplicate '
                       r'segment id 5 \(first on line 1\)'):
        read_segments(path, 'int')


def test_string_id_without_trailing_number(tmp_path):
    path = write(tmp_path, 'P01_01_a,P01_01,300,350\n')
    with pytest.raises(ValueError, match=r"split.csv: segment id 'P01_01_a' "
                       'does not end with a number'):
        read_segments(path).tie_breaks()


def test_each_format_s_id_type():
    assert SEGMENT_ID_TYPES == dict(epic55='int', egtea='int', epic100='str')


def test_real_ek100_splits(shared_data):
    root = f'{shared_data}/rulstm/ek100'
    train = read_segments(f'{root}/training.csv', 'str')
    assert len(train) == 67217 and train.labelled
    assert train.ids[0] == 'P01_01_0' and train.videos[0] == 'P01_01'
    test = read_segments(f'{root}/test_timestamps.csv', 'str')
    assert len(test) == 13092 and not test.labelled
    # 115 (video, start frame) pairs are shared by several segments
    pairs, counts = np.unique(
        np.stack([np.unique(train.videos, return_inverse=True)[1],
                  train.start_frames]), axis=1, return_counts=True)
    assert (counts > 1).sum() == 115
