"""Datasets of pre-extracted features in the RU-LSTM layout."""
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.logging import MMLogger

from mmaction.datasets import BaseActionDataset
from mmaction.registry import DATASETS

from ..layout import (SEGMENT_ID_TYPES, TimeGrid, read_id_list,
                      read_segments, read_vocabulary)
from .transforms.load_lmdb_features import LoadLMDBFeatures
from .transforms.load_teacher_scores import LoadTeacherScores


class AnticipationFeatureDataset(BaseActionDataset):
    """Base of the anticipation datasets: annotation CSV -> 14 frames each.

    Each data info holds ``segment_id``, ``video_id``, ``frame_inds`` (the
    frame numbers of the time grid, oldest first), ``label`` (the action),
    ``verb_label`` and ``noun_label`` (-1 for unlabelled test splits) and,
    added on access, ``feature_root`` (``data_root`` joined with
    ``data_prefix['features']``) where :class:`LoadLMDBFeatures` finds the
    LMDBs, ``frames_root`` (``data_prefix['frames']``) where
    :class:`LoadAnticipationFrames` finds the video frame folders, or
    ``videos_root`` (``data_prefix['videos']``) where
    :class:`LoadAnticipationVideoFrames` finds the video files, and
    ``grid_fps``, the frame rate of the frame numbers.
    Segments with no valid frame are dropped (as in RU-LSTM) and listed in
    ``dropped_ids``. Segment ids are integers (EK55, EGTEA) or strings
    (EK100), as :data:`~lsant_mmaction.layout.SEGMENT_ID_TYPES` says for
    the dataset's format.

    The dataset is the one source of the facts that metrics, exports and
    tools need; it publishes them in ``metainfo['anticipation']`` (what
    metrics receive as ``dataset_meta``; plain data, as mmengine saves it in
    checkpoints):

    - ``grid``: its :class:`~lsant_mmaction.layout.TimeGrid` as a dict;
    - ``vocabulary``: the :class:`~lsant_mmaction.layout.ActionVocabulary`
      read from ``actions_file`` (checked against ``num_classes``,
      ``num_verbs``, ``num_nouns`` and the split's labels), as a dict
      (``ActionVocabulary.from_dict``);
    - ``num_classes``, ``num_verbs``, ``num_nouns``;
    - ``dropped_ids`` and ``num_segments`` (all segments of the split);
    - ``dropped_labels``: ``[segment_id, verb, noun, action]`` of each
      dropped segment of a labelled split (``None`` for an unlabelled one),
      for benchmarks that evaluate them with zero scores (EK100);
    - ``subsets``: ``{name: [segment ids]}`` read from the ``subsets``
      files (``{}`` when none is given); every id is a segment of the split
      (kept or dropped);
    - the files, resolved against ``data_root``: ``dataset`` (the format
      of ``actions.csv``), ``ann_file``, ``actions_file`` and, when given,
      ``many_shot_{verbs,nouns,actions}``.

    Args:
        ann_file (str): Segment CSV, relative to ``data_root``.
        pipeline (list[dict | callable]): Data transforms.
        num_classes (int): Number of actions.
        num_verbs (int): Number of verb classes.
        num_nouns (int): Number of noun classes.
        data_root (str): Root of the dataset. Defaults to ``''``.
        data_prefix (dict): ``features``: folder holding one LMDB per
            modality, ``frames``: folder holding one frame folder per video,
            and/or ``videos``: folder holding the video files, relative to
            ``data_root``. Defaults to
            ``dict(features='')``.
        actions_file (str): RU-LSTM ``actions.csv``, relative to
            ``data_root``. Defaults to ``'actions.csv'``.
        many_shot (dict, optional): ``verbs``, ``nouns`` (and optionally
            ``actions``) many-shot lists relative to ``data_root``.
            Defaults to None.
        subsets (dict, optional): ``{name: id-list file}`` (one segment id
            per line, no header, relative to ``data_root``): evaluation
            subsets of the split, published in ``metainfo['anticipation']
            ['subsets']``. Names are restricted to ``SUBSET_NAMES`` when a
            subclass sets it. Defaults to None.
        past_labels (bool): Give each sample the labels of what is seen at
            each observed step: ``past_label``, ``past_verb_label``,
            ``past_noun_label``, int64 ``(T,)``, the action, verb and noun
            of the segment of the split file whose frames hold the step's
            frame (the one whose centre is nearest when several do,
            :meth:`~lsant_mmaction.layout.Segments.covering`), -1 where no
            segment does or the split has no labels. For auxiliary losses
            on the observed steps (AFFT's past-action classification); add
            the keys to ``PackActionInputs``' ``meta_keys``. How many steps
            have a label is published in ``metainfo['anticipation']
            ['past_labels']``. Defaults to False.
        time_grid (dict, optional): Arguments of
            :class:`~lsant_mmaction.layout.TimeGrid` (``fps``,
            ``time_step``, ``num_steps``, ``num_anticipation_steps``,
            ``tau_a``). Defaults to None (RU-LSTM's grid: 30 fps, 0.25 s,
            14 steps, the last 8 anticipating).
        test_mode (bool): Build for validation/testing. Defaults to False.
        indices (int | Sequence[int], optional): Keep only these samples
            (mmengine's sub-setting). Defaults to None.
        lazy_init (bool): Defer loading the annotations. Defaults to False.
    """

    VOCABULARY = 'epic55'  # format of actions.csv (layout.read_vocabulary)
    SUBSET_NAMES: Optional[Sequence[str]] = None  # None: any name

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
                 subsets: Optional[dict] = None,
                 past_labels: bool = False,
                 time_grid: Optional[dict] = None,
                 test_mode: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 lazy_init: bool = False) -> None:
        self.num_verbs = num_verbs
        self.subset_files = self._subset_files(subsets or {}, data_root)
        self.num_nouns = num_nouns
        self.grid = TimeGrid(**(time_grid or {}))
        self.past_labels = past_labels
        self.dropped_ids: List[Union[int, str]] = []
        # one dict: mmengine would read a top-level string naming a file
        published = dict(
            dataset=self.VOCABULARY,
            ann_file=osp.join(data_root, ann_file),
            actions_file=osp.join(data_root, actions_file),
            grid=self.grid.to_dict(),
            num_classes=num_classes,
            num_verbs=num_verbs,
            num_nouns=num_nouns)
        for kind, path in (many_shot or {}).items():
            if kind not in ('verbs', 'nouns', 'actions'):
                raise ValueError(f'many_shot keys are verbs, nouns, actions;'
                                 f' got {kind!r}')
            published[f'many_shot_{kind}'] = osp.join(data_root, path)
        super().__init__(
            ann_file,
            pipeline=pipeline,
            metainfo=dict(anticipation=published),
            data_root=data_root,
            data_prefix=data_prefix,
            test_mode=test_mode,
            num_classes=num_classes,
            indices=indices,
            lazy_init=lazy_init)

    def _subset_files(self, subsets: dict, data_root: str) -> Dict[str, str]:
        """``{name: path}`` of the subset lists, names checked."""
        if not isinstance(subsets, dict):
            raise TypeError(f'subsets must be a dict of name -> id-list file,'
                            f' got {type(subsets).__name__}')
        allowed = self.SUBSET_NAMES
        unknown = [n for n in subsets if allowed is not None
                   and n not in allowed]
        if unknown:
            raise ValueError(f'{type(self).__name__}: unknown subsets '
                             f'{unknown}; expected names among '
                             f'{list(allowed)}')
        return {name: osp.join(data_root, path)
                for name, path in subsets.items()}

    def _read_subsets(self, segments) -> Dict[str, list]:
        """The subset lists, each id checked to be a segment of the split
        and given in the split's id type."""
        known = {str(i): i for i in segments.ids.tolist()}
        out = {}
        for name, path in self.subset_files.items():
            ids = []
            for line, segment_id in read_id_list(path, with_lines=True):
                if segment_id not in known:
                    raise ValueError(
                        f'{path}, line {line}: segment {segment_id!r} of '
                        f'subset {name!r} is not a segment of '
                        f'{self.ann_file}; is the list for another split?')
                ids.append(known[segment_id])
            out[name] = ids
        return out

    def load_data_list(self) -> List[dict]:
        """Read the vocabulary and the CSV, and compute every segment's
        frames; publish the vocabulary, the dropped segments and the
        subsets."""
        published = self._metainfo['anticipation']
        vocab = self._read_vocabulary(published['actions_file'])
        segments = read_segments(self.ann_file,
                                 SEGMENT_ID_TYPES.get(self.VOCABULARY, 'auto'))
        if segments.labelled:
            self._check_labels(segments, vocab, published['actions_file'])
        subsets = self._read_subsets(segments)
        data_list, self.dropped_ids = [], []
        dropped_labels = [] if segments.labelled else None
        for i, segment_id in enumerate(segments.ids.tolist()):
            frames = self.grid.frame_indices(int(segments.start_frames[i]))
            if frames is None:
                self.dropped_ids.append(segment_id)
                if segments.labelled:
                    dropped_labels.append([
                        segment_id,
                        int(segments.verbs[i]),
                        int(segments.nouns[i]),
                        int(segments.actions[i])
                    ])
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
            if self.past_labels:
                info.update(self._past_labels(segments, info))
            data_list.append(info)
        if not data_list:
            raise ValueError(
                f'{self.ann_file}: all {len(segments)} segments were dropped:'
                ' none has a frame of the time grid before its start (the '
                f'latest is {self.grid.time_stamps()[-1]:g} s before it, at '
                f'{self.grid.fps:g} fps); are the start frames frame numbers '
                'at this fps?')
        if self.dropped_ids:
            MMLogger.get_current_instance().info(
                f'{self.ann_file}: dropped {len(self.dropped_ids)} of '
                f'{len(segments)} segments with no frame before the action '
                f'start (ids {self.dropped_ids[:10]}'
                f'{" ..." if len(self.dropped_ids) > 10 else ""})')
        if self.past_labels:
            steps = sum(len(info['past_label']) for info in data_list)
            labelled = sum(int((info['past_label'] >= 0).sum())
                           for info in data_list)
            published['past_labels'] = dict(steps=steps, labelled=labelled)
            MMLogger.get_current_instance().info(
                f'{self.ann_file}: {labelled} of {steps} observed steps lie '
                'in a segment (past_label); the others are -1')
        published.update(
            vocabulary=vocab.to_dict(),
            dropped_ids=list(self.dropped_ids),
            dropped_labels=dropped_labels,
            subsets=subsets,
            num_segments=len(segments))
        return data_list

    @staticmethod
    def _past_labels(segments, info: dict) -> Dict[str, np.ndarray]:
        """``past_label``, ``past_verb_label``, ``past_noun_label`` of the
        observed steps of one sample (-1: no segment, or no labels)."""
        rows = segments.covering(info['video_id'], info['frame_inds'])
        out = {}
        for key, labels in (('past_label', segments.actions),
                            ('past_verb_label', segments.verbs),
                            ('past_noun_label', segments.nouns)):
            out[key] = (np.where(rows >= 0, labels[rows], -1)
                        if labels is not None else np.full_like(rows, -1))
        return out

    def full_init(self) -> None:
        """Load the data list (mmengine), then check each
        ``LoadTeacherScores`` store against the split, and hand the split's
        frames to each ``LoadLMDBFeatures(cache=True)`` of the pipeline,
        which builds or checks its feature cache here, once, before workers
        start."""
        if self._fully_initialized:
            return
        super().full_init()
        teachers = [t for t in self.pipeline.transforms
                    if isinstance(t, LoadTeacherScores)]
        for transform in teachers:
            transform.check_split(
                [self.get_data_info(i)['segment_id']
                 for i in range(len(self))], self._metainfo['anticipation'])
        cached = [t for t in self.pipeline.transforms
                  if isinstance(t, LoadLMDBFeatures) and t.cache]
        if cached and len(self):
            infos = [self.get_data_info(i) for i in range(len(self))]
            for transform in cached:
                transform.prepare_cache(
                    infos[0]['feature_root'],
                    ((info['video_id'], info['frame_inds'])
                     for info in infos))

    def _read_vocabulary(self, actions_file: str):
        """The action vocabulary, checked against the class counts."""
        vocab = read_vocabulary(self.VOCABULARY, actions_file)
        if len(vocab) != self.num_classes:
            raise ValueError(
                f'{actions_file} defines {len(vocab)} actions but the '
                f'dataset has num_classes={self.num_classes}')
        for kind, ids, num in (('verb', vocab.verbs, self.num_verbs),
                               ('noun', vocab.nouns, self.num_nouns)):
            if ids.min() < 0 or ids.max() >= num:
                raise ValueError(
                    f'{actions_file} uses {kind} ids up to {ids.max()} but '
                    f'the dataset has num_{kind}s={num}')
        return vocab

    def _check_labels(self, segments, vocab, actions_file: str) -> None:
        """Labels in range, and each segment's verb and noun those of its
        action in the vocabulary."""
        self._check_range(segments.actions, self.num_classes, 'action',
                          segments.ids)
        self._check_range(segments.verbs, self.num_verbs, 'verb',
                          segments.ids)
        self._check_range(segments.nouns, self.num_nouns, 'noun',
                          segments.ids)
        for kind, labels, of in (('verb', segments.verbs, vocab.verbs),
                                 ('noun', segments.nouns, vocab.nouns)):
            bad = np.nonzero(labels != of[segments.actions])[0]
            if len(bad):
                i = int(bad[0])
                raise ValueError(
                    f'{self.ann_file}: {len(bad)} segments have a {kind} '
                    f'label that is not the {kind} of their action in '
                    f'{actions_file}, e.g. segment {segments.ids[i]}: {kind} '
                    f'{labels[i]}, action {segments.actions[i]} has {kind} '
                    f'{of[segments.actions[i]]}')

    def _check_range(self, values, upper: int, name: str, ids) -> None:
        bad = (values < 0) | (values >= upper)
        if bad.any():
            i = int(bad.nonzero()[0][0])
            raise ValueError(
                f'{self.ann_file}: {bad.sum()} segments have a {name} label '
                f'outside [0, {upper}), e.g. segment {ids[i]} with '
                f'{name} {int(values[i])}')

    def get_data_info(self, idx: int) -> dict:
        """Data info of one segment, with the folders of its inputs
        (``feature_root``, ``frames_root``, ``videos_root``; ``data_root``
        when the prefix is not given) and the grid's frame rate
        (``grid_fps``)."""
        info = super().get_data_info(idx)
        for key, prefix in (('feature_root', 'features'),
                            ('frames_root', 'frames'),
                            ('videos_root', 'videos')):
            info[key] = self.data_prefix.get(prefix, self.data_root)
        info['grid_fps'] = self.grid.fps
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
