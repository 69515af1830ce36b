"""The EPIC-Kitchens-55 and -100 action anticipation challenge
submissions."""
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmaction.registry import METRICS

from ...layout import ActionVocabulary, TimeGrid
from ..functional import marginal_matrix

#: Challenge format version of each dataset (``dataset_meta['anticipation']
#: ['dataset']``), as RU-LSTM writes them.
FORMAT_VERSIONS = dict(epic55='0.1', epic100='0.2')


@METRICS.register_module()
class EpicChallengeExport(BaseMetric):
    """Write the EK55 or EK100 anticipation challenge JSON for a split.

    For every segment of ``ann_file`` (EK55 ``test_seen.csv`` /
    ``test_unseen.csv``, EK100 ``test_timestamps.csv``, or a validation
    split): the verb and noun scores (softmax over actions, summed per verb
    / noun; every class) and the top ``top_actions`` action scores at 1 s
    before the action, keyed ``"verb,noun"``. Segments dropped for lack of
    frames get zero scores, as in RU-LSTM. Format (EK55 version ``"0.1"``
    with integer ids as strings; EK100 version ``"0.2"``, ids as the split
    gives them, e.g. ``"P01_101_0"``)::

        {"version": "0.1", "challenge": "action_anticipation",
         "sls_pt": 1, "sls_tl": 4, "sls_td": 3,
         "results": {"1924": {"verb": {"0": 0.1, ...},
                              "noun": {"0": 0.02, ...},
                              "action": {"0,1": 0.01, ...}}, ...}}

    The dataset (``dataset``: ``epic55`` or ``epic100``, hence the
    version), the time grid, the vocabulary, the class counts and the
    dropped segments come from the dataset (``dataset_meta``).

    Args:
        out_file (str): JSON file to write.
        time (float): Anticipation time to export, one of the dataset's
            grid. Defaults to 1.0.
        top_actions (int): Actions kept per segment. Defaults to 100.
        sls (Sequence[int]): Supervision levels (pre-training, training
            labels, training data) declared with the submission. Defaults to
            RU-LSTM's ``(1, 4, 3)``.
        collect_device (str): Defaults to ``'cpu'``.
    """

    def __init__(self,
                 out_file: str,
                 time: float = 1.0,
                 top_actions: int = 100,
                 sls: Sequence[int] = (1, 4, 3),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not out_file.endswith('.json'):
            raise ValueError(f'out_file must be a .json file: {out_file}')
        self.time = time
        self.out_file = out_file
        self.top_actions = top_actions
        self.sls = tuple(sls)
        self.vocab = None

    def _setup(self) -> None:
        meta = (self.dataset_meta or {}).get('anticipation', {})
        if meta.get('dataset') not in FORMAT_VERSIONS:
            raise ValueError('EpicChallengeExport needs an EPIC-Kitchens '
                             f'dataset ({sorted(FORMAT_VERSIONS)}), got '
                             f'dataset_meta {sorted(meta)} of '
                             f'{meta.get("dataset")!r}')
        self.meta = meta
        self.version = FORMAT_VERSIONS[meta['dataset']]
        self.step = TimeGrid.from_dict(meta['grid']).step_of(self.time)
        self.vocab = ActionVocabulary.from_dict(meta['vocabulary'])
        self.verb_matrix = marginal_matrix(self.vocab.verbs,
                                           meta['num_verbs'])
        self.noun_matrix = marginal_matrix(self.vocab.nouns,
                                           meta['num_nouns'])

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if self.vocab is None:
            self._setup()
        scores = torch.stack([s['pred_score'][self.step]
                              for s in data_samples]).float().cpu()  # (B, A)
        if scores.shape[1] != len(self.vocab):
            raise ValueError(
                f'pred_score has {scores.shape[1]} actions but '
                f'{self.vocab.source} defines {len(self.vocab)}')
        bad = ~torch.isfinite(scores).all(1)
        if bad.any():
            ids = [data_samples[i].get('segment_id')
                   for i in bad.nonzero()[:, 0].tolist()]
            raise ValueError(
                f'non-finite scores for segments {ids[:5]} ({len(ids)} in '
                'this batch): the model is broken; no challenge file is '
                'written')
        verbs = (scores @ self.verb_matrix).numpy()
        nouns = (scores @ self.noun_matrix).numpy()
        top_scores, top = scores.topk(
            min(self.top_actions, scores.shape[1]), dim=1)
        for i, sample in enumerate(data_samples):
            self.results.append(
                dict(
                    segment_id=self._id(sample['segment_id']),
                    verb=verbs[i],
                    noun=nouns[i],
                    top=top[i].numpy(),
                    top_scores=top_scores[i].numpy()))

    def _id(self, segment_id):
        """EK55 ids are integers; EK100 ids strings such as ``P01_101_0``,
        kept as they are."""
        return str(segment_id) if self.meta['dataset'] == 'epic100' else int(
            segment_id)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.vocab is None:  # no prediction at all
            self._setup()
        dropped = [self._id(i) for i in self.meta['dropped_ids']]
        num_top = min(self.top_actions, len(self.vocab))
        zero = dict(
            segment_id=None,
            verb=np.zeros(self.meta['num_verbs']),
            noun=np.zeros(self.meta['num_nouns']),
            top=np.arange(num_top),
            top_scores=np.zeros(num_top))
        entries = results + [dict(zero, segment_id=i) for i in dropped]
        ids = [e['segment_id'] for e in entries]
        if len(set(ids)) != len(ids) or len(ids) != self.meta[
                'num_segments']:
            raise ValueError(
                f'{self.meta["ann_file"]}: {self.meta["num_segments"]} '
                f'segments, but the predictions and the dropped segments '
                f'cover {len(set(ids))} (with {len(ids) - len(set(ids))} '
                'repeated); test the whole split that the JSON is for')
        payload = {
            'version': self.version,
            'challenge': 'action_anticipation',
            'sls_pt': self.sls[0],
            'sls_tl': self.sls[1],
            'sls_td': self.sls[2],
            'results': {
                str(e['segment_id']): {
                    'verb': {str(v): float(x)
                             for v, x in enumerate(e['verb'])},
                    'noun': {str(n): float(x)
                             for n, x in enumerate(e['noun'])},
                    'action': {
                        f'{self.vocab.verbs[a]},{self.vocab.nouns[a]}':
                        float(x)
                        for a, x in zip(e['top'], e['top_scores'])
                    }
                }
                for e in sorted(entries, key=lambda e: e['segment_id'])
            }
        }
        os.makedirs(os.path.dirname(os.path.abspath(self.out_file)),
                    exist_ok=True)
        with open(self.out_file, 'w') as f:
            json.dump(payload, f)
        MMLogger.get_current_instance().info(
            f'wrote the challenge JSON of {len(entries)} segments '
            f'({len(dropped)} dropped, zero scores) to {self.out_file}')
        return {}
