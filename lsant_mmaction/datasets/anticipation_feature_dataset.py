"""Datasets of pre-extracted features in the RU-LSTM layout."""
from typing import Callable, List, Optional, Sequence, Union

from mmengine.logging import MMLogger

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from ..annotations import read_segments
from .time_grid import FPS, NUM_STEPS, TIME_STEP, frame_indices


class AnticipationFeatureDataset(BaseActionDataset):
    """Base of the anticipation datasets: annotation CSV -> 14 frames each.

    Each data info holds ``segment_id``, ``video_id``, ``frame_inds`` (the
    14 frame numbers of the time grid, oldest first), ``label`` (the action),
    ``verb_label`` and ``noun_label`` (-1 for unlabelled test splits) and,
    added on access, ``feature_root`` (``data_root`` joined with
    ``data_prefix['features']``) where a transform finds the LMDBs.
    Segments with no valid frame are dropped (as in RU-LSTM) and listed in
    ``dropped_ids``.

    Args:
        ann_file (str): Segment CSV, relative to ``data_root``.
        pipeline (list[dict | callable]): Data transforms.
        num_classes (int): Number of actions.
        num_verbs (int): Number of verb classes.
        num_nouns (int): Number of noun classes.
        data_root (str): Root of the dataset. Defaults to ``''``.
        data_prefix (dict): ``features``: folder holding one LMDB per
            modality, relative to ``data_root``. Defaults to
            ``dict(features='')``.
        fps (float): Frame rate of the CSV's frame numbers. Defaults to 30.
        time_step (float): Seconds between steps. Defaults to 0.25.
        num_steps (int): Steps per sequence. Defaults to 14.
        test_mode (bool): Build for validation/testing. Defaults to False.
        indices (int | Sequence[int], optional): Keep only these samples
            (mmengine's sub-setting). Defaults to None.
        lazy_init (bool): Defer loading the annotations. Defaults to False.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 num_classes: int,
                 num_verbs: int,
                 num_nouns: int,
                 data_root: str = '',
                 data_prefix: dict = dict(features=''),
                 fps: float = FPS,
                 time_step: float = TIME_STEP,
                 num_steps: int = NUM_STEPS,
                 test_mode: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 lazy_init: bool = False) -> None:
        self.num_verbs = num_verbs
        self.num_nouns = num_nouns
        self.fps = fps
        self.time_step = time_step
        self.num_steps = num_steps
        self.dropped_ids: List[int] = []
        super().__init__(
            ann_file,
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=data_prefix,
            test_mode=test_mode,
            num_classes=num_classes,
            indices=indices,
            lazy_init=lazy_init)

    def load_data_list(self) -> List[dict]:
        """Read the CSV and compute every segment's frames."""
        segments = read_segments(self.ann_file)
        if segments.labelled:
            self._check_range(segments.actions, self.num_classes, 'action',
                              segments.ids)
            self._check_range(segments.verbs, self.num_verbs, 'verb',
                              segments.ids)
            self._check_range(segments.nouns, self.num_nouns, 'noun',
                              segments.ids)
        data_list, self.dropped_ids = [], []
        for i, segment_id in enumerate(segments.ids.tolist()):
            frames = frame_indices(
                int(segments.start_frames[i]),
                fps=self.fps,
                time_step=self.time_step,
                num_steps=self.num_steps)
            if frames is None:
                self.dropped_ids.append(segment_id)
                continue
            info = dict(
                segment_id=segment_id,
                video_id=segments.videos[i],
                frame_inds=frames,
                label=-1,
                verb_label=-1,
                noun_label=-1)
            if segments.labelled:
                info.update(
                    label=int(segments.actions[i]),
                    verb_label=int(segments.verbs[i]),
                    noun_label=int(segments.nouns[i]))
            data_list.append(info)
        if self.dropped_ids:
            MMLogger.get_current_instance().info(
                f'{self.ann_file}: dropped {len(self.dropped_ids)} of '
                f'{len(segments)} segments with no frame before the action '
                f'start (ids {self.dropped_ids[:10]}'
                f'{" ..." if len(self.dropped_ids) > 10 else ""})')
        return data_list

    def _check_range(self, values, upper: int, name: str, ids) -> None:
        bad = (values < 0) | (values >= upper)
        if bad.any():
            i = int(bad.nonzero()[0][0])
            raise ValueError(
                f'{self.ann_file}: {bad.sum()} segments have a {name} label '
                f'outside [0, {upper}), e.g. segment {int(ids[i])} with '
                f'{name} {int(values[i])}')

    def get_data_info(self, idx: int) -> dict:
        """Data info of one segment, with the folder of its features."""
        info = super().get_data_info(idx)
        info['feature_root'] = self.data_prefix['features']
        return info


@DATASETS.register_module()
class EpicKitchens55FeatureDataset(AnticipationFeatureDataset):
    """EPIC-Kitchens-55 features in the RU-LSTM layout (2,513 actions).

    Annotation CSVs are RU-LSTM's ``training.csv`` / ``validation.csv`` (or
    ``test_seen.csv`` / ``test_unseen.csv`` without labels); features live
    in ``{data_root}/{data_prefix.features}/{rgb,flow,obj}`` LMDBs. See
    :class:`AnticipationFeatureDataset` for the arguments; ``num_classes``,
    ``num_verbs`` and ``num_nouns`` default to 2513, 125 and 352.
    """

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 num_classes: int = 2513,
                 num_verbs: int = 125,
                 num_nouns: int = 352,
                 **kwargs) -> None:
        super().__init__(
            ann_file,
            pipeline,
            num_classes=num_classes,
            num_verbs=num_verbs,
            num_nouns=num_nouns,
            **kwargs)
