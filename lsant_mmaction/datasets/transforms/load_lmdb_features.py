"""Read the features of a segment's frames from RU-LSTM LMDBs."""
import os
from typing import Dict, Iterable, Optional, Sequence, Tuple

import lmdb
import numpy as np
from mmcv.transforms import BaseTransform

from mmaction.registry import TRANSFORMS

from ..feature_cache import (default_cache_dir, open_cache, open_or_build,
                             sorted_keys)


# One environment per LMDB and process: lmdb refuses to open the same
# database twice in a process (train and val pipelines share it), and an
# environment must not cross a fork (dataloader workers reopen it).
_ENVS: Dict[str, lmdb.Environment] = {}
_ENVS_PID = None


def open_lmdb(path: str) -> lmdb.Environment:
    """The read-only environment of ``path``, opened once per process."""
    global _ENVS, _ENVS_PID
    if _ENVS_PID != os.getpid():
        _ENVS, _ENVS_PID = {}, os.getpid()
    key = os.path.realpath(path)
    env = _ENVS.get(key)
    if env is None:
        if not os.path.isdir(path):
            raise FileNotFoundError(f'LMDB folder not found: {path}')
        try:
            env = lmdb.open(
                path, readonly=True, lock=False, readahead=False,
                meminit=False)
        except lmdb.Error as e:
            raise ValueError(f'LMDB {path} cannot be opened: {e}') from None
        check_complete(env, path)
        _ENVS[key] = env
    return env


def check_complete(env: lmdb.Environment, path: str) -> None:
    """Fail on a truncated ``data.mdb`` (an interrupted copy or download).

    Reading a page beyond the end of the memory-mapped file kills the
    process with SIGBUS, with no message that names the database; the
    size the database's own metadata requires is checked instead.
    """
    data = os.path.join(path, 'data.mdb')
    needed = (env.info()['last_pgno'] + 1) * env.stat()['psize']
    size = os.path.getsize(data)
    if size < needed:
        env.close()
        raise ValueError(
            f'LMDB {path} is truncated: data.mdb has {size} bytes but its '
            f'pages need {needed}; copy or download it again')


@TRANSFORMS.register_module()
class LoadLMDBFeatures(BaseTransform):
    """Load per-frame features of each modality from one LMDB per modality.

    Keys are ``key_template.format(video=..., frame=...)`` encoded as utf-8,
    values raw float32 vectors (RU-LSTM layout). Databases are opened lazily,
    once per process, read-only; each sample reads its frames within one
    read transaction per modality.

    With ``cache=True`` the values the split needs are first copied, once,
    into one memory-mapped ``.npy`` per modality
    (:mod:`lsant_mmaction.datasets.feature_cache`), and a sample is one
    indexed read of it: same values bit for bit, same errors (a frame the
    cache has no valid row for is read from the LMDB, which raises as
    without the cache). The dataset hands the transform its frames
    (:meth:`prepare_cache`, called by
    :class:`~lsant_mmaction.datasets.AnticipationFeatureDataset` in
    ``full_init``, before dataloader workers start); the entry is built
    or checked there and shared by all workers and ranks of a node.

    Required keys: ``feature_root``, ``video_id``, ``frame_inds``,
    ``segment_id``. Added keys: one per modality, float32 ``(T, D)``.

    Args:
        modalities (Sequence[str]): Modalities to load, e.g.
            ``('rgb', 'flow', 'obj')``.
        feature_dims (dict[str, int], optional): Expected vector size per
            modality; a value of another size is an error. Without it the
            size is only checked to be the same for all frames of a sample.
            Defaults to None.
        lmdb_dirs (dict[str, str], optional): LMDB folder of each modality,
            relative to ``feature_root``. Defaults to the modality name.
        key_template (str): Key format. Defaults to
            ``'{video}_frame_{frame:010d}.jpg'``.
        cache (bool): Read from a memory-mapped cache of the split's
            frames (built on first use). Defaults to False.
        cache_dir (str, optional): Folder of the cache entries. Defaults
            to ``$LSANT_MMACTION_CACHE/features`` or
            ``~/.cache/lsant_mmaction/features``.
    """

    def __init__(self,
                 modalities: Sequence[str],
                 feature_dims: Optional[Dict[str, int]] = None,
                 lmdb_dirs: Optional[Dict[str, str]] = None,
                 key_template: str = '{video}_frame_{frame:010d}.jpg',
                 cache: bool = False,
                 cache_dir: Optional[str] = None) -> None:
        self.modalities = tuple(modalities)
        self.feature_dims = dict(feature_dims or {})
        self.lmdb_dirs = {m: m for m in self.modalities}
        self.lmdb_dirs.update(lmdb_dirs or {})
        unknown = set(self.feature_dims) - set(self.modalities)
        if unknown:
            raise ValueError(f'feature_dims names modalities {sorted(unknown)}'
                             f' not in modalities {self.modalities}')
        self.key_template = key_template
        self.cache = cache
        self.cache_dir = cache_dir
        # {feature_root: {modality: (entry folder, digest)}}: plain strings,
        # so that workers receive no memory map (each opens its own)
        self._cache_entries: Dict[str, Dict[str, Tuple[str, str]]] = {}

    def _keys(self, video: str, frames) -> list:
        return [
            self.key_template.format(video=video, frame=int(f)).encode()
            for f in frames
        ]

    def prepare_cache(self, feature_root: str,
                      segments: Iterable[Tuple[str, Sequence[int]]]) -> None:
        """Build (or check) the cache entries of the frames of ``segments``
        (``(video_id, frame_inds)`` of every sample of the split).

        Raises:
            OSError: naming the entry when it cannot be written.
        """
        keys = set()
        for video, frames in segments:
            keys.update(self._keys(video, frames))
        keys = sorted_keys(keys)
        cache_dir = self.cache_dir or default_cache_dir()
        entries = {}
        for modality in self.modalities:
            path = os.path.join(feature_root, self.lmdb_dirs[modality])
            name = os.path.basename(os.path.normpath(path)) or modality
            entries[modality] = open_or_build(
                path, open_lmdb(path), keys,
                self.feature_dims.get(modality), cache_dir, name)
        self._cache_entries[feature_root] = entries

    def transform(self, results: dict) -> dict:
        keys = self._keys(results['video_id'], results['frame_inds'])
        entries = None
        if self.cache:
            entries = self._cache_entries.get(results['feature_root'])
            if entries is None:
                raise RuntimeError(
                    f'LoadLMDBFeatures(cache=True) has no cache for '
                    f'{results["feature_root"]}: the dataset must hand it the '
                    "split's frames (prepare_cache), as "
                    'AnticipationFeatureDataset does in full_init')
        for modality in self.modalities:
            path = os.path.join(results['feature_root'],
                                self.lmdb_dirs[modality])
            feats = None
            if entries is not None:
                feats = open_cache(*entries[modality]).rows(keys)
            if feats is None:
                feats = self._read_lmdb(path, modality, keys,
                                        results['segment_id'])
            if not np.isfinite(feats).all():
                step = int((~np.isfinite(feats)).any(1).nonzero()[0][0])
                raise ValueError(
                    f'LMDB {path}: non-finite value in key '
                    f'{keys[step].decode()!r} (segment '
                    f'{results["segment_id"]})')
            results[modality] = feats
        return results

    def _read_lmdb(self, path: str, modality: str, keys: list,
                   segment_id) -> np.ndarray:
        """Values of ``keys``, float32 ``(T, D)``, checked: every key
        present, whole float32, one size (``feature_dims``)."""
        with open_lmdb(path).begin(buffers=True) as txn:
            values = [txn.get(key) for key in keys]
            missing = [k.decode() for k, v in zip(keys, values)
                       if v is None]
            if missing:
                raise KeyError(
                    f'LMDB {path} has no key {missing[0]!r} (segment '
                    f'{segment_id}, {len(missing)} of '
                    f'{len(keys)} frames missing)')
            odd = [k for k, v in zip(keys, values) if len(v) % 4]
            if odd:
                raise ValueError(
                    f'LMDB {path}: the value of key {odd[0].decode()!r} '
                    f'has {len(values[keys.index(odd[0])])} bytes, not a '
                    f'whole number of float32 (segment '
                    f'{segment_id})')
            sizes = {len(v) // 4 for v in values}
            expected = self.feature_dims.get(modality)
            if len(sizes) > 1 or (expected is not None
                                  and sizes != {expected}):
                raise ValueError(
                    f'LMDB {path}: segment {segment_id} has '
                    f'{modality} vectors of size {sorted(sizes)}, '
                    f'expected {expected or "one size"}')
            feats = np.empty((len(keys), sizes.pop()), np.float32)
            for row, value in zip(feats, values):
                row[:] = np.frombuffer(value, dtype=np.float32)
        return feats

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'feature_dims={self.feature_dims}, '
                f'lmdb_dirs={self.lmdb_dirs}, '
                f'key_template={self.key_template!r}, cache={self.cache}, '
                f'cache_dir={self.cache_dir!r})')
