"""Read the video frames of a segment's time grid (raw frames or videos)."""
import os.path as osp
from typing import List, Tuple

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.fileio import exists, get

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

    def read(self, results: dict, frames: np.ndarray) -> List[np.ndarray]:
        """The RGB images of these frame numbers, in their order."""
        folder = osp.join(results['frames_root'], results['video_id'])
        imgs, cache = [], {}
        for frame in frames.tolist():
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
        return imgs

    def transform(self, results: dict) -> dict:
        imgs = self.read(results, self.clip_indices(results['frame_inds']))
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


# mmaction's video readers: (init transform, decode transform)
DECODERS = dict(
    decord=('DecordInit', 'DecordDecode'),
    pyav=('PyAVInit', 'PyAVDecode'),
    opencv=('OpenCVInit', 'OpenCVDecode'))


def _video_fps(decoder: str, video: dict) -> float:
    """The frame rate mmaction's ``decoder`` init transform found."""
    if decoder == 'decord':
        return float(video['avg_fps'])
    reader = video['video_reader']
    if decoder == 'pyav':
        rate = reader.streams.video[0].average_rate
        return float(rate) if rate else 0.0
    return float(reader.fps)


@TRANSFORMS.register_module()
class LoadAnticipationVideoFrames(LoadAnticipationFrames):
    """Load the time grid's frames (and clips) from video files.

    The same frames as :class:`LoadAnticipationFrames` (a clip of
    ``clip_len`` frames ending at each grid frame, the same output keys),
    decoded from ``{videos_root}/{filename_tmpl.format(video=video_id)}``
    with mmaction's own video readers: ``decoder='decord'``
    (``DecordInit`` + ``DecordDecode``, installed with mmaction), ``'pyav'``
    (``PyAVInit`` + ``PyAVDecode``, ``pip install av``) or ``'opencv'``
    (``OpenCVInit`` + ``OpenCVDecode``), each in its exact ("accurate")
    mode.

    The grid's frame numbers count frames at the dataset's grid frame rate
    (``grid_fps``, 30 for RU-LSTM's layout) from 1: frame number ``n`` is
    the video frame at time ``(n - 1) / grid_fps``, i.e. video index
    ``n - 1`` when the video has the grid's frame rate, and
    ``round((n - 1) * video_fps / grid_fps)`` otherwise (a 60 fps video on
    a 30 fps grid: index ``2 (n - 1)``). A missing video, one the decoder
    cannot open or whose frame count or rate it cannot tell, and a frame
    past the video's end are errors naming the video and the segment.

    mmaction's readers load the whole file for each sample: for hour-long
    videos, extract features once (``tools/extract_features.py
    --videos``) rather than training on the videos.

    Required keys: ``videos_root``, ``video_id``, ``frame_inds``,
    ``grid_fps`` (all given by the anticipation datasets; ``videos_root``
    is ``data_root`` joined with ``data_prefix['videos']``).

    Args:
        clip_len (int): Frames per step (1 for 2D backbones). Defaults to 1.
        frame_interval (int): Gap between the frames of a clip, in grid
            frames. Defaults to 1.
        decoder (str): ``'decord'``, ``'pyav'`` or ``'opencv'``.
            Defaults to ``'decord'``.
        filename_tmpl (str): Video file name, formatted with ``video``
            (the video id). Defaults to ``'{video}.mp4'``.
    """

    def __init__(self,
                 clip_len: int = 1,
                 frame_interval: int = 1,
                 decoder: str = 'decord',
                 filename_tmpl: str = '{video}.mp4') -> None:
        super().__init__(clip_len, frame_interval, filename_tmpl)
        if decoder not in DECODERS:
            raise ValueError(f'LoadAnticipationVideoFrames: decoder must be '
                             f'one of {sorted(DECODERS)}, got {decoder!r}')
        if '{video}' not in filename_tmpl:
            raise ValueError('LoadAnticipationVideoFrames: filename_tmpl '
                             "must contain '{video}' (the video id), got "
                             f'{filename_tmpl!r}')
        self.decoder = decoder
        init, decode = DECODERS[decoder]
        self.init = TRANSFORMS.build(dict(type=init))
        self.decode = TRANSFORMS.build(dict(type=decode))

    def video_path(self, results: dict) -> str:
        return osp.join(results['videos_root'],
                        self.filename_tmpl.format(video=results['video_id']))

    def open(self, path: str, where: str = '') -> Tuple[dict, int, float]:
        """``(reader results, frame count, frame rate)`` of a video file,
        by the decoder's init transform; errors name ``path`` and
        ``where``."""
        where = f' {where}' if where else ''
        if not exists(path):
            raise FileNotFoundError(f'video not found: {path}{where}')
        try:
            video = self.init(dict(filename=path))
        except Exception as err:  # each reader fails in its own way
            raise ValueError(f'unreadable video: {path}{where}: '
                             f'{self.decoder}: {type(err).__name__}: '
                             f'{err}') from None
        total = int(video['total_frames'] or 0)
        fps = _video_fps(self.decoder, video)
        if total < 1:
            raise ValueError(f'unreadable video: {path}{where}: '
                             f'{self.decoder} finds no frame in it')
        if not fps > 0:
            raise ValueError(
                f'{path}{where}: {self.decoder} cannot tell its frame rate '
                f'({fps:g} fps), so the grid\'s frames cannot be located in '
                "it; try another decoder (LoadAnticipationVideoFrames "
                "decoder='decord', 'pyav' or 'opencv')")
        return video, total, fps

    @staticmethod
    def video_indices(frames: np.ndarray, fps: float,
                      grid_fps: float) -> np.ndarray:
        """Video frame indices (from 0) of grid frame numbers (from 1)."""
        frames = np.asarray(frames, np.int64)
        if abs(fps - grid_fps) <= 1e-4 * grid_fps:
            return frames - 1
        return np.rint((frames - 1) * (fps / grid_fps)).astype(np.int64)

    def grid_frame_count(self, total: int, fps: float,
                         grid_fps: float) -> int:
        """How many grid frames (1, 2, ...) a video of ``total`` frames at
        ``fps`` holds."""
        frames = np.arange(1, int(total * grid_fps / fps) + 3)
        return int((self.video_indices(frames, fps, grid_fps) < total).sum())

    def read(self, results: dict, frames: np.ndarray) -> List[np.ndarray]:
        path = self.video_path(results)
        where = f'(segment {results.get("segment_id")})'
        video, total, fps = self.open(path, where)
        grid_fps = float(results['grid_fps'])
        inds = self.video_indices(frames, fps, grid_fps)
        if inds.max() >= total:
            i = int(inds.argmax())
            raise ValueError(
                f'{path} {where}: frame {int(frames[i])} of the time grid '
                f'({grid_fps:g} fps) is video frame {int(inds[i])} '
                '(counted from 0), past the end of the video '
                f'({total} frames at {fps:g} fps)')
        unique, inverse = np.unique(inds, return_inverse=True)
        video['frame_inds'] = unique
        try:
            imgs = self.decode(video)['imgs']
        except Exception as err:
            raise ValueError(f'{path} {where}: {self.decoder} cannot decode '
                             f'video frames {unique.tolist()}: '
                             f'{type(err).__name__}: {err}') from None
        return [np.ascontiguousarray(imgs[j]) for j in inverse]

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'decoder={self.decoder!r}, '
                f'filename_tmpl={self.filename_tmpl!r})')
