"""Attach a teacher's per-step probabilities to each training sample."""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

from ...layout import TimeGrid
from ..teacher_store import TeacherStore


@TRANSFORMS.register_module()
class LoadTeacherScores(BaseTransform):
    """Give each sample its row of a teacher store
    (:mod:`~lsant_mmaction.datasets.teacher_store`): ``teacher_score``,
    float32 ``(S, A)`` probabilities at the anticipation steps, and
    ``has_teacher`` (bool). Its own fields, never ``gt_label`` (which
    mmaction casts to integers): add both to ``PackActionInputs``'
    ``meta_keys``; the anticipation heads hand them to the loss.

    The dataset checks the store against its split before training
    (:meth:`check_split`, from its ``full_init``): the same actions, the
    grid's anticipation times, every row a segment of the split and every
    kept segment a row. With ``missing='prior'`` segments without a row are
    allowed: they get a zero row and ``has_teacher=False``, and the loss
    smooths them with the prior alone.

    Required keys: ``segment_id``.

    Args:
        store (str): The store folder (``tools/build_teacher_store.py``).
        missing (str): ``'error'`` (a segment without a row stops the run,
            naming it) or ``'prior'``. Defaults to ``'error'``.
    """

    def __init__(self, store: str, missing: str = 'error') -> None:
        if missing not in ('error', 'prior'):
            raise ValueError("LoadTeacherScores: missing must be 'error' or "
                             f"'prior', got {missing!r}")
        self.store_path = store
        self.missing = missing
        self._store: Optional[TeacherStore] = None

    @property
    def store(self) -> TeacherStore:
        if self._store is None:
            self._store = TeacherStore(self.store_path)
        return self._store

    def check_split(self, ids: Sequence, metainfo: dict) -> None:
        """Check the store against a dataset's kept segments and its
        published ``metainfo['anticipation']``."""
        grid = TimeGrid.from_dict(metainfo['grid'])
        self.store.check_split(ids, metainfo['num_classes'],
                               grid.anticipation_times().tolist(),
                               allow_missing=self.missing == 'prior')

    def transform(self, results: dict) -> dict:
        segment_id = results['segment_id']
        store = self.store
        if segment_id in store:
            results['teacher_score'] = store.row(segment_id)
            results['has_teacher'] = True
        elif self.missing == 'prior':
            results['teacher_score'] = np.zeros(
                (store.num_steps, store.num_classes), np.float32)
            results['has_teacher'] = False
        else:
            raise KeyError(f'segment {segment_id!r} has no row in the '
                           f'teacher store {store.path}; build it on this '
                           "split, or set LoadTeacherScores(missing='prior')")
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(store={self.store_path!r}, '
                f'missing={self.missing!r})')
