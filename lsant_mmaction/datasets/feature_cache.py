"""A memory-mapped copy of the LMDB values a split's time grid needs.

One entry per LMDB (modality) and frame list: a folder
``{cache_dir}/{name}-{digest}/`` holding

- ``keys.npy``: the split's LMDB keys, sorted, bytes ``(N,)`` (the index:
  the row of a key is its position, found by binary search);
- ``features.npy``: float32 ``(N, D)``, row ``i`` the value of key ``i``,
  bit for bit;
- ``valid.npy``: bool ``(N,)``, False where the LMDB has no value of
  ``D`` float32 for the key (missing, or another size); such rows are zero
  and a reader falls back to the LMDB, which raises its usual error;
- ``meta.json``: version, the LMDB fingerprint, shape, dtype, file sizes
  and the sha256 of each file.

``digest`` hashes the cache version, the LMDB's fingerprint
(:func:`lmdb_fingerprint`: real path; size, modification and status-change
times and inode of its ``data.mdb``; sha256 of its first and last 64 KiB),
the expected vector size and the sorted keys, so a changed LMDB or another
split gets another entry.

An entry is written into a temporary folder of ``cache_dir`` and renamed
into place (atomic), under an exclusive ``flock`` so that the ranks of a
node build it once; readers never see a partial entry. Opening checks the
header (version, digest, shapes, dtypes, file sizes); :func:`open_or_build`
also checks the sha256 of every file, and a bad entry is rebuilt with a
:class:`FeatureCacheWarning` naming it.
"""
import errno
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar

try:
    import fcntl
except ImportError:  # Windows: no lock, the rename alone keeps it safe
    fcntl = None

CACHE_VERSION = 1
_FILES = ('keys.npy', 'features.npy', 'valid.npy')
_CHUNK = 4096  # rows per write (and per progress-bar step)


class FeatureCacheWarning(UserWarning):
    """A feature cache entry was rejected (and rebuilt) or not written."""


def default_cache_dir() -> str:
    """``$LSANT_MMACTION_CACHE`` or ``~/.cache/lsant_mmaction``, +
    features (as :func:`lsant_mmaction.priors.sources.default_cache_dir`)."""
    root = os.environ.get('LSANT_MMACTION_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'lsant_mmaction')
    return os.path.join(root, 'features')


_PROBE = 1 << 16  # bytes hashed at each end of data.mdb


def lmdb_fingerprint(lmdb_path: str) -> dict:
    """What tells one state of an LMDB from another, read cheaply.

    The real path; of its ``data.mdb``: size, mtime, ctime (ns) and inode,
    and the sha256 of its first and last 64 KiB. Any write changes the
    mtime, but ``touch -r`` or ``os.utime`` can put it back (with the
    size, a file rewritten in place); they cannot set the ctime, which
    every change of the file's content or times moves, nor keep the inode
    of a file replaced by another. The probe's first 64 KiB hold LMDB's
    two meta pages (the last transaction's id, the root page, the entry
    count): every commit changes them, whatever the clock's resolution or
    the file system's times. Reading all of the LMDB (tens of GB) at every
    start would cost too much. So copying or moving the LMDB's folder
    (new inode and ctime), ``chmod`` or ``touch`` of ``data.mdb`` (ctime)
    rebuilds the cache once: a cold pass over the LMDB, never stale
    features.
    """
    data = os.path.join(lmdb_path, 'data.mdb')
    try:
        with open(data, 'rb') as f:
            st = os.fstat(f.fileno())
            h = hashlib.sha256(f.read(_PROBE))
            if st.st_size > _PROBE:
                f.seek(max(_PROBE, st.st_size - _PROBE))
                h.update(f.read(_PROBE))
    except FileNotFoundError:
        raise FileNotFoundError(f'LMDB not found: {data}') from None
    return dict(path=os.path.realpath(lmdb_path), size=st.st_size,
                mtime_ns=st.st_mtime_ns, ctime_ns=st.st_ctime_ns,
                inode=st.st_ino, probe_sha256=h.hexdigest())


def entry_digest(fingerprint: dict, keys: np.ndarray,
                 dim: Optional[int]) -> str:
    """sha256 of what an entry depends on (see the module docstring)."""
    h = hashlib.sha256(json.dumps(
        dict(version=CACHE_VERSION, lmdb=fingerprint, dim=dim,
             num_keys=len(keys)), sort_keys=True).encode())
    h.update(b'\n'.join(keys.tolist()))
    return h.hexdigest()


def sorted_keys(keys) -> np.ndarray:
    """Unique keys (bytes), sorted as numpy compares them."""
    return np.unique(np.array(list(keys), dtype=bytes))


class FeatureCache:
    """An open, header-checked entry; rows are read from memory maps.

    Args:
        folder (str): The entry's folder.
        digest (str): The digest it must have.

    Raises:
        ValueError: naming the folder when the entry is incomplete or its
            header does not match.
    """

    def __init__(self, folder: str, digest: str) -> None:
        self.folder = folder
        self.meta = read_header(folder, digest)
        self.keys = np.load(os.path.join(folder, 'keys.npy'), mmap_mode='r')
        self.features = np.load(
            os.path.join(folder, 'features.npy'), mmap_mode='r')
        self.valid = np.load(os.path.join(folder, 'valid.npy'), mmap_mode='r')
        n, dim = self.meta['shape']
        for name, arr, shape, dtype in (
                ('keys.npy', self.keys, (n, ), self.meta['key_dtype']),
                ('features.npy', self.features, (n, dim), '<f4'),
                ('valid.npy', self.valid, (n, ), '|b1')):
            if arr.shape != shape or arr.dtype.str != dtype:
                raise ValueError(f'{name} holds {arr.dtype.str} '
                                 f'{arr.shape}, its header says {dtype} '
                                 f'{shape}')

    def rows(self, keys: Sequence[bytes]) -> Optional[np.ndarray]:
        """Rows of ``keys`` (float32 ``(len(keys), D)``, a fresh array), or
        None when one of them has no valid row (read the LMDB instead)."""
        if (not len(keys) or not len(self.keys)
                or max(map(len, keys)) > self.keys.itemsize):
            return None
        needles = np.array(keys, dtype=self.keys.dtype)
        idx = np.searchsorted(self.keys, needles)
        if (idx >= len(self.keys)).any():
            return None
        if not ((self.keys[idx] == needles).all() and self.valid[idx].all()):
            return None
        return np.asarray(self.features)[idx]


def read_header(folder: str, digest: str) -> dict:
    """``meta.json`` of an entry, checked against ``digest`` and the sizes
    of its files (a truncated file fails here)."""
    try:
        with open(os.path.join(folder, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f'unreadable meta.json ({e})') from None
    try:
        fields = [meta[k] for k in ('version', 'digest', 'shape',
                                    'key_dtype')]
        sizes = {name: int(meta['sizes'][name]) for name in _FILES}
        sums = [meta['sha256'][name] for name in _FILES]
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f'meta.json lacks a field ({e!r})') from None
    if fields[:2] != [CACHE_VERSION, digest]:
        raise ValueError('meta.json is of another version or LMDB')
    if (not isinstance(fields[2], list) or len(fields[2]) != 2
            or not all(isinstance(s, str) for s in [fields[3]] + sums)):
        raise ValueError('meta.json has a malformed field')
    for name in _FILES:
        path = os.path.join(folder, name)
        size = os.path.getsize(path) if os.path.exists(path) else None
        if size != sizes[name]:
            raise ValueError(f'{name} has {size} bytes, its header says '
                             f'{sizes[name]}')
    return meta


def verify_checksums(folder: str, meta: dict) -> None:
    """Recompute the sha256 of every file (a tampered entry fails here)."""
    for name in _FILES:
        if file_sha256(os.path.join(folder, name)) != meta['sha256'][name]:
            raise ValueError(f'{name} does not match its sha256')


def file_sha256(path: str) -> str:
    """sha256 of a file's content, read in 16 MiB blocks."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 24), b''):
            h.update(block)
    return h.hexdigest()


def open_or_build(lmdb_path: str,
                  env,
                  keys: np.ndarray,
                  dim: Optional[int],
                  cache_dir: str,
                  name: str) -> Tuple[str, str]:
    """The folder of a valid entry for ``keys`` of the LMDB, built if needed.

    Args:
        lmdb_path (str): The LMDB folder.
        env (lmdb.Environment): It, opened read-only.
        keys (np.ndarray): Sorted unique keys (:func:`sorted_keys`).
        dim (int, optional): Vector size (float32 count); None: that of the
            first value whose byte length is a non-zero multiple of 4.
        cache_dir (str): Where entries live.
        name (str): Prefix of the entry's folder (e.g. the modality).

    Returns:
        tuple[str, str]: The entry's folder (checked, checksums included)
        and its digest (for :func:`open_cache`).

    Raises:
        OSError: naming the entry when it cannot be written (disk full).
    """
    digest = entry_digest(lmdb_fingerprint(lmdb_path), keys, dim)
    folder = os.path.join(cache_dir, f'{name}-{digest[:16]}')
    try:
        os.makedirs(cache_dir, exist_ok=True)
    except OSError as e:
        raise OSError(e.errno, f'cannot create the feature cache folder '
                      f'{cache_dir}: {e.strerror}') from None
    # this process reopens it on next use: a map of a file since replaced
    # (or changed in place) must not outlive the check below
    _OPEN.pop(folder, None)
    if _usable(folder, digest):
        return folder, digest
    with _locked(folder + '.lock'):
        if not _usable(folder, digest, quiet=True):  # not built meanwhile
            if os.path.lexists(folder):
                _remove(folder, cache_dir)
            _build(folder, digest, lmdb_path, env, keys, dim, cache_dir)
    return folder, digest


def _usable(folder: str, digest: str, quiet: bool = False) -> bool:
    if not os.path.lexists(folder):
        return False
    try:
        FeatureCache(folder, digest)  # header, shapes and sizes
        verify_checksums(folder, read_header(folder, digest))
    except (OSError, ValueError) as e:
        if not quiet:
            warnings.warn(f'feature cache {folder} is damaged ({e}); '
                          'rebuilding it', FeatureCacheWarning)
        return False
    return True


class _locked:
    """Exclusive ``flock`` on ``path`` (a no-op without fcntl)."""

    def __init__(self, path: str) -> None:
        self.path, self.fd = path, None

    def __enter__(self):
        if fcntl is not None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)


def _remove(folder: str, cache_dir: str) -> None:
    """Move a bad entry aside (atomic), then delete it; processes that
    have it mapped keep their (unlinked) files."""
    trash = tempfile.mkdtemp(dir=cache_dir, prefix='.trash-')
    os.rename(folder, os.path.join(trash, 'entry'))
    shutil.rmtree(trash, ignore_errors=True)


def _first_dim(env, keys: np.ndarray) -> int:
    with env.begin(buffers=True) as txn:
        for key in keys.tolist():
            value = txn.get(key)
            if value is not None and len(value) and len(value) % 4 == 0:
                return len(value) // 4
    return 0


def _build(folder: str, digest: str, lmdb_path: str, env, keys: np.ndarray,
           dim: Optional[int], cache_dir: str) -> None:
    logger = MMLogger.get_current_instance()
    dim = _first_dim(env, keys) if dim is None else dim
    n = len(keys)
    logger.info(f'building the feature cache {folder}: {n} frames x {dim} '
                f'float32 from LMDB {lmdb_path} '
                f'({n * dim * 4 / 2**20:.1f} MiB)')
    start = time.time()
    tmp = tempfile.mkdtemp(
        dir=cache_dir, prefix=f'.tmp-{os.path.basename(folder)}-')
    try:
        os.chmod(tmp, 0o755)  # mkdtemp's 0o700 would hide it from others
        valid = np.zeros(n, bool)
        header = dict(descr='<f4', fortran_order=False, shape=(n, dim))
        path = os.path.join(tmp, 'features.npy')
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        h = hashlib.sha256(buf.getvalue())
        with open(path, 'wb') as f:
            f.write(buf.getvalue())
            _preallocate(f.fileno(), f.tell() + n * dim * 4)
            bar = ProgressBar((n + _CHUNK - 1) // _CHUNK)
            with env.begin(buffers=True) as txn:
                for lo in range(0, n, _CHUNK):
                    block = np.zeros((min(_CHUNK, n - lo), dim), np.float32)
                    for i, key in enumerate(keys[lo:lo + _CHUNK].tolist()):
                        value = txn.get(key)
                        if value is not None and len(value) == dim * 4:
                            block[i] = np.frombuffer(value, np.float32)
                            valid[lo + i] = True
                    data = block.tobytes()
                    f.write(data)
                    h.update(data)
                    bar.update()
        np.save(os.path.join(tmp, 'keys.npy'), keys)
        np.save(os.path.join(tmp, 'valid.npy'), valid)
        sums = {'features.npy': h.hexdigest()}
        for name in ('keys.npy', 'valid.npy'):
            sums[name] = file_sha256(os.path.join(tmp, name))
        meta = dict(
            version=CACHE_VERSION, digest=digest,
            lmdb=lmdb_fingerprint(lmdb_path), shape=[n, dim],
            key_dtype=keys.dtype.str, num_invalid=int(n - valid.sum()),
            sizes={name: os.path.getsize(os.path.join(tmp, name))
                   for name in _FILES},
            sha256=sums)
        with open(os.path.join(tmp, 'meta.json'), 'w') as f:
            json.dump(meta, f, indent=1)
        try:
            os.rename(tmp, folder)
        except OSError as e:  # a builder without the lock (NFS) was first
            if e.errno in (errno.ENOTEMPTY, errno.EEXIST) and _usable(
                    folder, digest, quiet=True):
                shutil.rmtree(tmp, ignore_errors=True)
                return
            raise
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OSError(e.errno, f'cannot write the feature cache {folder} '
                      f'(in {cache_dir}): {e.strerror or e}') from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    sys.stdout.write('\n')  # end the progress bar's line
    logger.info(f'built the feature cache {folder} in '
                f'{time.time() - start:.1f} s ({n - int(valid.sum())} of {n}'
                ' frames missing or of another size: read from the LMDB)')


def _preallocate(fd: int, size: int) -> None:
    """Reserve the disk space now: a full disk fails before the build
    (ENOSPC) rather than after minutes of it."""
    try:
        os.posix_fallocate(fd, 0, size)
    except AttributeError:  # not on this platform
        pass
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise
        # file systems without fallocate (EOPNOTSUPP, EINVAL): write only


# Entries opened in this process, by folder: each worker maps the files
# itself (the pages are the page cache's, shared by every process).
_OPEN: Dict[str, FeatureCache] = {}


def open_cache(folder: str, digest: str) -> FeatureCache:
    """The header-checked entry ``folder``, opened once per process."""
    cache = _OPEN.get(folder)
    if cache is None:
        try:
            cache = FeatureCache(folder, digest)
        except (OSError, ValueError) as e:
            raise ValueError(
                f'feature cache {folder} changed or vanished after the '
                f'dataset checked it ({e}); start again to rebuild it'
            ) from None
        _OPEN[folder] = cache
    return cache


__all__: List[str] = [
    'FeatureCache', 'FeatureCacheWarning', 'default_cache_dir',
    'open_or_build', 'open_cache', 'sorted_keys'
]
