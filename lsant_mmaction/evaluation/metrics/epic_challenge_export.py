"""The EPIC-Kitchens-55 action anticipation challenge submission."""
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


@METRICS.register_module()
class EpicChallengeExport(BaseMetric):
    """Write the EK55 anticipation challenge JSON for a test split.

    For every segment of ``ann_file`` (``test_seen.csv`` /
    ``test_unseen.csv``): the verb and noun scores (softmax over actions,
    summed per verb / noun) and the top ``top_actions`` action scores at
    1 s before the action, keyed ``"verb,noun"``. Segments dropped for lack
    of frames get zero scores, as in RU-LSTM. Format::

        {"version": "0.1", "challenge": "action_anticipation",
         "sls_pt": 1, "sls_tl": 4, "sls_td": 3,
         "results": {"1924": {"verb": {"0": 0.1, ...},
                              "noun": {"0": 0.02, ...},
                              "action": {"0,1": 0.01, ...}}, ...}}

    The time grid, the vocabulary, the class counts and the dropped segments
    come from the dataset (``dataset_meta``).

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
        if meta.get('dataset') != 'epic55':
            raise ValueError('EpicChallengeExport needs an EPIC-Kitchens-55 '
                             f'dataset, got dataset_meta {sorted(meta)} of '
                             f'{meta.get("dataset")!r}')
        self.meta = meta
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
                    segment_id=int(sample['segment_id']),
                    verb=verbs[i],
                    noun=nouns[i],
                    top=top[i].numpy(),
                    top_scores=top_scores[i].numpy()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if self.vocab is None:  # no prediction at all
            self._setup()
        dropped = self.meta['dropped_ids']
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
            'version': '0.1',
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
