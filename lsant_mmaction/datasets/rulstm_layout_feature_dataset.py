"""Your own dataset, in the RU-LSTM layout."""
from typing import Callable, List, Union

from mmaction.registry import DATASETS

from .anticipation_feature_dataset import AnticipationFeatureDataset


@DATASETS.register_module()
class RULSTMLayoutFeatureDataset(AnticipationFeatureDataset):
    """Any anticipation dataset in the RU-LSTM layout: a user's own.

    Files, relative to ``data_root`` (the formats of EPIC-KITCHENS-100):

    - split CSVs without a header, one segment a line:
      ``id,video,start_frame,end_frame,verb,noun,action`` (test splits: the
      first four columns); ids may be numbers or strings, frame numbers
      count from 1 at ``time_grid['fps']``;
    - ``actions.csv`` with the header ``id,verb,noun,action``: one row per
      action ``0 .. A-1``, named ``"{verb key} {noun key}"``;
    - ``verb_classes.csv`` and ``noun_classes.csv`` with (at least) the
      columns ``id,key``: class names, for the GloVe priors;
    - one LMDB per modality, keys ``{video}_frame_{frame:010d}.jpg``,
      values raw float32 (``tools/extract_features.py`` writes them).

    Every prior builds from these files with ``dataset='epic100'`` (their
    format). See :class:`AnticipationFeatureDataset` for the arguments;
    ``num_classes``, ``num_verbs`` and ``num_nouns`` are required, and
    ``subsets`` may name any id lists to report recall on.
    """
    VOCABULARY = 'epic100'  # the format of actions.csv and the class files

    def __init__(self, ann_file: str, pipeline: List[Union[dict, Callable]],
                 num_classes: int, num_verbs: int, num_nouns: int,
                 **kwargs) -> None:
        super().__init__(
            ann_file,
            pipeline,
            num_classes=num_classes,
            num_verbs=num_verbs,
            num_nouns=num_nouns,
            **kwargs)
