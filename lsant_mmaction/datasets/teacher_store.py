"""A teacher's per-step action probabilities on a split, as data.

A store is a folder written by ``tools/build_teacher_store.py`` from
``tools/test.py --dump`` files (one teacher, or a weighted ensemble):

- ``teacher.json``: the record: format version, the segment ids (in row
  order), ``num_classes``, the anticipation times of the steps, the split
  (path and sha256), the teachers (config, checkpoint and its sha256,
  weight, dump), ``topk`` (None: dense) and the size of every array file.
- ``scores.npy``: float32 ``(N, S, A)`` probabilities (dense), or
  ``topk_values.npy`` float32 ``(N, S, k)`` with ``topk_indices.npy`` int32
  ``(N, S, k)``, the k most probable actions of each step (EK100's 3,806
  actions make a dense store of the training split about 8 GB).

Arrays are memory-mapped, opened once per process (dataloader workers open
their own). :meth:`TeacherStore.row` gives a sample's ``(S, A)`` float32
probabilities; a top-k row is its k values renormalised to sum to 1, zero
elsewhere.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

RECORD = 'teacher.json'
VERSION = 1
DENSE = ('scores.npy', )
TOPK = ('topk_values.npy', 'topk_indices.npy')
#: How far from 1 a stored row may sum (float32 softmax, averaged).
ROW_SUM_ATOL = 1e-3


def _record_path(path: str) -> str:
    return osp.join(path, RECORD)


def write_store(out: str, ids: Sequence[Union[int, str]],
                rows, num_steps: int, num_classes: int, record: dict,
                topk: Optional[int] = None, progress=None) -> None:
    """Write a store from ``rows``, an iterable of ``(S, A)`` float arrays
    in the order of ``ids``.

    ``record`` holds the provenance (``split``, ``teachers``,
    ``anticipation_times``); the ids, shapes, format and file sizes are
    added here. The record is written last, so a folder without it is an
    unfinished store.

    Raises:
        ValueError: a row that is not ``(S, A)``, not finite, or does not
            sum to 1, naming the segment.
    """
    os.makedirs(out, exist_ok=True)
    if osp.exists(_record_path(out)):
        os.remove(_record_path(out))  # unfinished until the record is back
    n = len(ids)
    if topk is None:
        arrays = dict(scores=np.lib.format.open_memmap(
            osp.join(out, DENSE[0]), 'w+', np.float32,
            (n, num_steps, num_classes)))
    else:
        if not 0 < topk < num_classes:
            raise ValueError(f'topk must be in [1, {num_classes}), got '
                             f'{topk}')
        arrays = dict(
            values=np.lib.format.open_memmap(
                osp.join(out, TOPK[0]), 'w+', np.float32,
                (n, num_steps, topk)),
            indices=np.lib.format.open_memmap(
                osp.join(out, TOPK[1]), 'w+', np.int32,
                (n, num_steps, topk)))
    for i, (segment_id, row) in enumerate(zip(ids, rows)):
        row = check_row(row, segment_id, num_steps, num_classes)
        if topk is None:
            arrays['scores'][i] = row
        else:
            top = np.argsort(-row, axis=1, kind='stable')[:, :topk]
            arrays['indices'][i] = top
            arrays['values'][i] = np.take_along_axis(row, top, 1)
        if progress is not None:
            progress.update()
    for array in arrays.values():
        array.flush()
    del arrays
    files = TOPK if topk is not None else DENSE
    record = dict(
        record,
        version=VERSION,
        ids=[i if isinstance(i, str) else int(i) for i in ids],
        num_steps=num_steps,
        num_classes=num_classes,
        topk=topk,
        files={f: osp.getsize(osp.join(out, f)) for f in files})
    with open(_record_path(out), 'w') as f:
        json.dump(record, f, indent=1)


def check_row(row, segment_id, num_steps: int,
              num_classes: int) -> np.ndarray:
    """``row`` as float32 ``(S, A)``, checked to be probabilities."""
    row = np.asarray(row, np.float32)
    if row.shape != (num_steps, num_classes):
        raise ValueError(f'segment {segment_id}: teacher scores of shape '
                         f'{row.shape}, expected ({num_steps}, '
                         f'{num_classes}) (steps, actions)')
    if not np.isfinite(row).all():
        raise ValueError(f'segment {segment_id}: non-finite teacher scores')
    sums = row.sum(1)
    if (row < 0).any() or not np.allclose(sums, 1, atol=ROW_SUM_ATOL):
        raise ValueError(
            f'segment {segment_id}: teacher scores are not probabilities '
            f'(rows sum to {sums.min():.4f} ... {sums.max():.4f}, min '
            f'{row.min():.4g}); a dump of tools/test.py holds softmax scores')
    return row


class TeacherStore:
    """A store opened for reading, its record checked against its files.

    Args:
        path (str): The store folder.

    Raises:
        FileNotFoundError: naming the folder or file.
        ValueError: naming the file, for an unfinished, damaged or
            truncated store.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        record = _record_path(path)
        if not osp.isdir(path):
            raise FileNotFoundError(f'teacher store not found: {path}')
        if not osp.isfile(record):
            raise ValueError(
                f'{path} has no {RECORD}: not a teacher store, or its '
                'building did not finish; build it again with '
                'tools/build_teacher_store.py')
        try:
            with open(record) as f:
                self.record = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f'{record} cannot be read: {e}') from None
        if self.record.get('version') != VERSION:
            raise ValueError(f'{record}: store version '
                             f'{self.record.get("version")!r}, this code '
                             f'reads {VERSION}; build it again')
        self.ids: List[Union[int, str]] = self.record['ids']
        self.num_steps = int(self.record['num_steps'])
        self.num_classes = int(self.record['num_classes'])
        self.topk = self.record['topk']
        self.rows = {str(i): n for n, i in enumerate(self.ids)}
        if len(self.rows) != len(self.ids):
            raise ValueError(f'{record}: segment ids are not unique')
        for name, size in self.record['files'].items():
            file = osp.join(path, name)
            if not osp.isfile(file):
                raise FileNotFoundError(f'teacher store file missing: {file}')
            if osp.getsize(file) != size:
                raise ValueError(
                    f'{file} has {osp.getsize(file)} bytes, the store '
                    f'recorded {size}: truncated or replaced; build the '
                    'store again')
        self._arrays: Optional[Dict[str, np.ndarray]] = None
        self._pid = None

    def __getstate__(self) -> dict:
        # memory maps are reopened by each process (dataloader workers)
        state = dict(self.__dict__)
        state['_arrays'] = None
        return state

    def _open(self) -> Dict[str, np.ndarray]:
        if self._arrays is None or self._pid != os.getpid():
            arrays = {}
            expected = (len(self.ids), self.num_steps)
            for name in self.record['files']:
                file = osp.join(self.path, name)
                try:
                    array = np.load(file, mmap_mode='r')
                except ValueError as e:
                    raise ValueError(f'{file} cannot be read: {e}') from None
                width = self.num_classes if self.topk is None else self.topk
                if array.shape != expected + (width, ):
                    raise ValueError(
                        f'{file} has shape {array.shape}, the store records '
                        f'{expected + (width, )}')
                arrays[name] = array
            self._arrays, self._pid = arrays, os.getpid()
        return self._arrays

    @property
    def anticipation_times(self) -> List[float]:
        return list(self.record['anticipation_times'])

    def __contains__(self, segment_id) -> bool:
        return str(segment_id) in self.rows

    def row(self, segment_id) -> np.ndarray:
        """float32 ``(S, A)`` probabilities of a segment.

        Raises:
            KeyError: naming the segment and the store.
        """
        n = self.rows.get(str(segment_id))
        if n is None:
            raise KeyError(f'segment {segment_id!r} has no row in the '
                           f'teacher store {self.path}')
        arrays = self._open()
        if self.topk is None:
            return np.array(arrays[DENSE[0]][n], np.float32)
        values = np.asarray(arrays[TOPK[0]][n], np.float32)
        indices = np.asarray(arrays[TOPK[1]][n], np.int64)
        out = np.zeros((self.num_steps, self.num_classes), np.float32)
        np.put_along_axis(out, indices,
                          values / values.sum(1, keepdims=True), 1)
        return out

    def check_split(self, ids: Sequence, num_classes: int,
                    anticipation_times: Sequence[float],
                    allow_missing: bool = False) -> List:
        """Check the store fits a dataset's split; return the split's ids
        that have no row (empty unless ``allow_missing``).

        Raises:
            ValueError: other classes or steps, ids that are not the
                split's, or (unless ``allow_missing``) ids of the split
                without a row; naming the store and examples.
        """
        where = f'teacher store {self.path}'
        if self.num_classes != num_classes:
            raise ValueError(f'{where} has {self.num_classes} actions, the '
                             f'dataset {num_classes}')
        times = [round(float(t), 6) for t in anticipation_times]
        mine = [round(float(t), 6) for t in self.anticipation_times]
        if mine != times:
            raise ValueError(f'{where} holds the steps {mine} (s before the '
                             f'action), the dataset\'s grid anticipates at '
                             f'{times}')
        split = {str(i) for i in ids}
        foreign = [i for i in self.ids if str(i) not in split]
        if foreign:
            raise ValueError(
                f'{where}: {len(foreign)} of its {len(self.ids)} segments '
                f'are not segments of the split (e.g. {foreign[:3]}); was it '
                f'built on another split? It records '
                f'{self.record.get("split", {}).get("path")}')
        missing = [i for i in ids if str(i) not in self.rows]
        if missing and not allow_missing:
            raise ValueError(
                f'{where} has no row for {len(missing)} of the split\'s '
                f'{len(ids)} segments (e.g. {missing[:3]}); build it on the '
                "same split, or set LoadTeacherScores(missing='prior') to "
                'train those on the prior alone')
        return missing
