"""Per-segment scores written by ``tools/test.py --dump``, and their safe
reading back."""
import io
import os
import pickle
from typing import List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS

#: The only globals a dump may name when read back: numpy arrays, dtypes and
#: scalars (numpy 1 and 2 module names). Anything else is refused.
_ALLOWED_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.numeric', '_frombuffer'),  # arrays, pickle protocol 5
    ('numpy._core.numeric', '_frombuffer'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
}
_DUMP_FIELDS = ('segment_id', 'pred_score', 'gt_label', 'verb_label',
                'noun_label')


@METRICS.register_module()
class AnticipationPredictionDump(BaseMetric):
    """Write, per segment, its scores and labels as plain data (a pickled
    list of dicts holding only numbers, strings and numpy arrays).

    Each entry: ``segment_id``, ``pred_score`` (float32 ``(S, A)``: softmax
    scores at the anticipation times, 2.0 s ... 0.25 s), ``gt_label`` (the
    action; -1 when unlabelled), ``verb_label`` and ``noun_label``. Each
    segment's scores are copied out of the batch, so the file holds about
    ``N x S x A x 4`` bytes. Read it back with :func:`load_predictions`.

    Args:
        out_file (str): ``.pkl`` file to write.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names; the dump
            reports none, so it only names the metric. Defaults to None
            (``'dump'``).
    """

    # mmengine warns on every run when a metric has no prefix
    default_prefix: Optional[str] = 'dump'

    def __init__(self,
                 out_file: str,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not out_file.endswith(('.pkl', '.pickle')):
            raise ValueError(f'the dump must be a .pkl file, got {out_file}')
        self.out_file = out_file

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            segment_id = sample.get('segment_id')
            # a copy: a view would pickle the whole batch's storage
            scores = sample['pred_score'].float().cpu().numpy().copy()
            self.results.append(
                dict(
                    segment_id=segment_id if isinstance(segment_id, str) else
                    int(segment_id),
                    pred_score=scores,
                    gt_label=int(sample['gt_label'].view(-1)[0]),
                    verb_label=int(sample.get('verb_label', -1)),
                    noun_label=int(sample.get('noun_label', -1))))

    def compute_metrics(self, results: List[dict]) -> dict:
        folder = os.path.dirname(os.path.abspath(self.out_file))
        os.makedirs(folder, exist_ok=True)
        with open(self.out_file, 'wb') as f:
            pickle.dump(results, f, protocol=pickle.HIGHEST_PROTOCOL)
        MMLogger.get_current_instance().info(
            f'wrote the scores of {len(results)} segments to '
            f'{self.out_file}')
        return {}


class _RefusedGlobal(pickle.UnpicklingError):
    """A dump names something other than numpy arrays and builtins."""


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays and builtins, nothing else."""

    def __init__(self, file, path: str) -> None:
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise _RefusedGlobal(
            f'{self.path} refers to {module}.{name}: a dump of '
            'tools/test.py holds only numbers, strings and numpy arrays, so '
            'this file was not written by it (or was tampered with) and is '
            'not loaded')


def load_predictions(path: str) -> List[dict]:
    """Read a dump of :class:`AnticipationPredictionDump` without executing
    code from it.

    Args:
        path (str): The ``.pkl`` file.

    Returns:
        list[dict]: One entry per segment (see
        :class:`AnticipationPredictionDump`).

    Raises:
        FileNotFoundError: naming the file.
        ValueError: naming the file, when it is not plain data of that form.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'dump not found: {path}')
    with open(path, 'rb') as f:
        data = f.read()
    try:
        results = _PlainDataUnpickler(io.BytesIO(data), path).load()
    except _RefusedGlobal as e:
        raise ValueError(str(e)) from None
    except Exception as e:  # truncated or not a pickle at all
        raise ValueError(f'{path} is not a readable dump of tools/test.py '
                         f'({type(e).__name__}: {e})') from None
    if not isinstance(results, list) or not all(
            isinstance(r, dict) and set(_DUMP_FIELDS) <= set(r)
            and isinstance(r['pred_score'], np.ndarray) for r in results):
        raise ValueError(f'{path} is not a dump of tools/test.py (a list of '
                         f'dicts with {list(_DUMP_FIELDS)})')
    return results
