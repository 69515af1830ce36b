"""EPIC-KITCHENS-100 features in the RU-LSTM layout."""
from typing import Callable, List, Optional, Union

from mmaction.registry import DATASETS

from .anticipation_feature_dataset import AnticipationFeatureDataset


@DATASETS.register_module()
class EpicKitchens100FeatureDataset(AnticipationFeatureDataset):
    """EPIC-KITCHENS-100 features in the RU-LSTM layout (3,806 actions of
    97 verbs and 300 nouns; RU-LSTM's ``--ek100`` mode).

    Annotation CSVs are RU-LSTM's ``ek100/training.csv`` /
    ``validation.csv`` (or ``test_timestamps.csv`` without labels), whose
    segment ids are strings (``P01_01_12``); ``actions.csv`` has the header
    ``id,verb,noun,action``. Features live in
    ``{data_root}/{data_prefix.features}/{rgb,flow,obj}`` LMDBs (RU-LSTM's
    release: rgb 1024, flow 1024, obj 352). Segments with no frame before
    their start are dropped from the samples, as for EK55 (RU-LSTM trains
    without them), but EK100 evaluates them with zero scores: the dataset
    publishes their labels as ``dropped_labels``.

    Besides what :class:`AnticipationFeatureDataset` publishes in
    ``metainfo['anticipation']``:

    - ``subsets``: ``dict(unseen=[ids], tail_verb=[ids], tail_noun=[ids],
      tail_action=[ids])`` (those given), the segments of the split on which
      EK100 also reports mean top-5 recall, read from RU-LSTM's
      ``validation_{unseen_participants,tail_verbs,tail_nouns,
      tail_actions}_ids.csv``;
    - ``dropped_labels``: ``[segment_id, verb, noun, action]`` of each
      dropped segment (labelled splits).

    See :class:`AnticipationFeatureDataset` for the arguments;
    ``num_classes``, ``num_verbs`` and ``num_nouns`` default to 3806, 97 and
    300. There are no many-shot lists.

    Args:
        subsets (dict, optional): ``{name: id-list file}`` relative to
            ``data_root``, names among :attr:`SUBSET_NAMES`; the validation
            config gives RU-LSTM's four lists, the training split none.
            Defaults to None.
    """
    VOCABULARY = 'epic100'
    SUBSET_NAMES = ('unseen', 'tail_verb', 'tail_noun', 'tail_action')

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 num_classes: int = 3806,
                 num_verbs: int = 97,
                 num_nouns: int = 300,
                 subsets: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(
            ann_file,
            pipeline,
            num_classes=num_classes,
            num_verbs=num_verbs,
            num_nouns=num_nouns,
            subsets=subsets,
            **kwargs)
