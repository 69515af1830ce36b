"""Datasets of pre-extracted features in the RU-LSTM layout."""
import os.path as osp
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
    ``data_prefix['features']``) where :class:`LoadLMDBFeatures` finds the
    LMDBs, or ``frames_root`` (``data_prefix['frames']``) where
    :class:`LoadAnticipationFrames` finds the video frame folders.
    Segments with no valid frame are dropped (as in RU-LSTM) and listed in
    ``dropped_ids``. ``metainfo['anticipation']`` (what metrics receive in
    ``dataset_meta``) names the vocabulary format and the annotation files,
    resolved against ``data_root``: ``dataset``, ``ann_file``,
    ``actions_file`` and, when given, ``many_shot_{verbs,nouns,actions}``.

    Args:
        ann_file (str): Segment CSV, relative to ``data_root``.
        pipeline (list[dict | callable]): Data transforms.
        num_classes (int): Number of actions.
        num_verbs (int): Number of verb classes.
        num_nouns (int): Number of noun classes.
        data_root (str): Root of the dataset. Defaults to ``''``.
        data_prefix (dict): ``features``: folder holding one LMDB per
            modality, and/or ``frames``: folder holding one frame folder per
            video, relative to ``data_root``. Defaults to
            ``dict(features='')``.
        actions_file (str): RU-LSTM ``actions.csv``, relative to
            ``data_root``. Defaults to ``'actions.csv'``.
        many_shot (dict, optional): ``verbs``, ``nouns`` (and optionally
            ``actions``) many-shot lists relative to ``data_root``.
            Defaults to None.
        fps (float): Frame rate of the CSV's frame numbers. Defaults to 30.
        time_step (float): Seconds between steps. Defaults to 0.25.
        num_steps (int): Steps per sequence. Defaults to 14.
        test_mode (bool): Build for validation/testing. Defaults to False.
        indices (int | Sequence[int], optional): Keep only these samples
            (mmengine's sub-setting). Defaults to None.
        lazy_init (bool): Defer loading the annotations. Defaults to False.
    """

    VOCABULARY = 'epic55'  # format of actions.csv (priors.read_vocabulary)

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 num_classes: int,
                 num_verbs: int,
                 num_nouns: int,
                 data_root: str = '',
                 data_prefix: dict = dict(features=''),
                 actions_file: str = 'actions.csv',
                 many_shot: Optional[dict] = None,
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
        # one dict: mmengine would read a top-level string naming a file
        files = dict(
            dataset=self.VOCABULARY,
            ann_file=osp.join(data_root, ann_file),
            actions_file=osp.join(data_root, actions_file))
        for kind, path in (many_shot or {}).items():
            if kind not in ('verbs', 'nouns', 'actions'):
                raise ValueError(f'many_shot keys are verbs, nouns, actions;'
                                 f' got {kind!r}')
            files[f'many_shot_{kind}'] = osp.join(data_root, path)
        super().__init__(
            ann_file,
            pipeline=pipeline,
            metainfo=dict(anticipation=files),
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
        if not data_list:
            raise ValueError(
                f'{self.ann_file}: all {len(segments)} segments were dropped:'
                ' none has a frame of the time grid before its start (the '
                f'latest is {self.time_step:g} s before it, at {self.fps:g} '
                'fps); are the start frames frame numbers at this fps?')
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
        """Data info of one segment, with the folders of its inputs
        (``feature_root``, ``frames_root``; ``data_root`` when the prefix is
        not given)."""
        info = super().get_data_info(idx)
        info['feature_root'] = self.data_prefix.get('features', self.data_root)
        info['frames_root'] = self.data_prefix.get('frames', self.data_root)
        return info


@DATASETS.register_module()
class EpicKitchens55FeatureDataset(AnticipationFeatureDataset):
    """EPIC-Kitchens-55 features in the RU-LSTM layout (2,513 actions).

    Annotation CSVs are RU-LSTM's ``training.csv`` / ``validation.csv`` (or
    ``test_seen.csv`` / ``test_unseen.csv`` without labels); features live
    in ``{data_root}/{data_prefix.features}/{rgb,flow,obj}`` LMDBs. See
    :class:`AnticipationFeatureDataset` for the arguments; ``num_classes``,
    ``num_verbs`` and ``num_nouns`` default to 2513, 125 and 352, and
    ``many_shot`` to the ``EPIC_many_shot_{verbs,nouns,actions}.csv`` files
    in ``data_root``.
    """
    VOCABULARY = 'epic55'

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 num_classes: int = 2513,
                 num_verbs: int = 125,
                 num_nouns: int = 352,
                 many_shot: Optional[dict] = dict(
                     verbs='EPIC_many_shot_verbs.csv',
                     nouns='EPIC_many_shot_nouns.csv',
                     actions='EPIC_many_shot_actions.csv'),
                 **kwargs) -> None:
        super().__init__(
            ann_file,
            pipeline,
            num_classes=num_classes,
            num_verbs=num_verbs,
            num_nouns=num_nouns,
            many_shot=many_shot,
            **kwargs)


@DATASETS.register_module()
class EgteaGazeFeatureDataset(AnticipationFeatureDataset):
    """EGTEA Gaze+ features in the RU-LSTM layout (106 actions, rgb + flow).

    Annotation CSVs are RU-LSTM's ``training{1,2,3}.csv`` /
    ``validation{1,2,3}.csv`` (the three official splits); features live in
    ``{data_root}/{data_prefix.features}/{rgb,flow}`` LMDBs. See
    :class:`AnticipationFeatureDataset` for the arguments; ``num_classes``,
    ``num_verbs`` and ``num_nouns`` default to 106, 19 and 51.
    """
    VOCABULARY = 'egtea'

    def __init__(self,
                 ann_file: str,
                 pipeline: List[Union[dict, Callable]],
                 num_classes: int = 106,
                 num_verbs: int = 19,
                 num_nouns: int = 51,
                 **kwargs) -> None:
        super().__init__(
            ann_file,
            pipeline,
            num_classes=num_classes,
            num_verbs=num_verbs,
            num_nouns=num_nouns,
            **kwargs)
