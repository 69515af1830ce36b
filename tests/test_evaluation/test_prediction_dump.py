"""AnticipationPredictionDump: built as tools/test.py --dump builds it, with
no warning, and read back as written."""
import logging

import numpy as np
import torch
from mmengine.logging import MMLogger

from lsant_mmaction.evaluation import load_predictions
from mmaction.registry import METRICS


class _Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_dump_builds_and_evaluates_without_prefix_warning(tmp_path):
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        out = tmp_path / 'preds.pkl'
        # what tools/test.py --dump appends to the test evaluator
        metric = METRICS.build(
            dict(type='AnticipationPredictionDump', out_file=str(out)))
        scores = torch.rand(2, 8, 5)
        metric.process(None, [
            dict(segment_id=i if i else 'P01_01_12', pred_score=scores[i],
                 gt_label=torch.tensor([3]), verb_label=1, noun_label=2)
            for i in range(2)])
        assert metric.evaluate(2) == {}
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if 'prefix is not set' in m], (
        records.messages)
    assert any(f'wrote the scores of 2 segments to {out}' in m
               for m in records.messages)
    dump = load_predictions(str(out))
    assert [r['segment_id'] for r in dump] == ['P01_01_12', 1]
    np.testing.assert_array_equal(dump[1]['pred_score'], scores[1].numpy())
    assert dump[0]['gt_label'] == 3 and dump[0]['noun_label'] == 2
