"""Read the video frames of a segment's time grid (raw frames)."""
import os.path as osp

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import get

from mmaction.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadAnticipationFrames(BaseTransform):
    """Load the RGB frames of every step of the time grid.

    For each of the T grid frames (``frame_inds``) a clip of ``clip_len``
    frames ending at it is read (``frame_interval`` apart; frame numbers
    below 1 are clamped to 1), from ``{frames_root}/{video}/`` with
    mmaction's rawframe naming (``filename_tmpl``). The output follows
    mmaction's conventions, so its image transforms (``Resize``,
    ``CenterCrop``, ``Flip``, ``FormatShape``) apply: ``imgs`` (T *
    clip_len RGB arrays), ``num_clips=T``, ``clip_len``, ``modality='RGB'``,
    ``img_shape``, ``original_shape``. A missing or unreadable frame is an
    error naming the file and the segment.

    Required keys: ``frames_root``, ``video_id``, ``frame_inds``.

    Args:
        clip_len (int): Frames per step (1 for 2D backbones). Defaults to 1.
        frame_interval (int): Gap between the frames of a clip.
            Defaults to 1.
        filename_tmpl (str): Frame file name. Defaults to
            ``'frame_{:010d}.jpg'`` (EPIC-Kitchens rawframes).
    """

    def __init__(self,
                 clip_len: int = 1,
                 frame_interval: int = 1,
                 filename_tmpl: str = 'frame_{:010d}.jpg') -> None:
        if clip_len < 1 or frame_interval < 1:
            raise ValueError('clip_len and frame_interval must be >= 1')
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.filename_tmpl = filename_tmpl

    def clip_indices(self, frame_inds: np.ndarray) -> np.ndarray:
        """``(T * clip_len,)`` frame numbers, each clip ending at its step."""
        offsets = np.arange(-(self.clip_len - 1), 1) * self.frame_interval
        return np.maximum(
            (np.asarray(frame_inds)[:, None] + offsets).reshape(-1), 1)

    def transform(self, results: dict) -> dict:
        folder = osp.join(results['frames_root'], results['video_id'])
        imgs, cache = [], {}
        for frame in self.clip_indices(results['frame_inds']).tolist():
            if frame not in cache:
                path = osp.join(folder, self.filename_tmpl.format(frame))
                try:
                    data = get(path)
                except FileNotFoundError:
                    raise FileNotFoundError(
                        f'frame not found: {path} (segment '
                        f'{results.get("segment_id")})') from None
                try:  # decoders fail in their own ways (None, cv2.error)
                    img = mmcv.imfrombytes(data, channel_order='rgb')
                except Exception:
                    img = None
                if img is None:
                    raise ValueError(f'unreadable image: {path} (segment '
                                     f'{results.get("segment_id")})')
                cache[frame] = img
            imgs.append(cache[frame])
        results.update(
            imgs=imgs,
            num_clips=len(results['frame_inds']),
            clip_len=self.clip_len,
            frame_interval=self.frame_interval,
            modality='RGB',
            img_shape=imgs[0].shape[:2],
            original_shape=imgs[0].shape[:2])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'filename_tmpl={self.filename_tmpl!r})')
