"""A collate that sends a batch across the worker queue as a few arrays.

mmengine's ``pseudo_collate`` keeps a batch as lists of per-sample tensors;
with dataloader workers each of those tensors (B per modality, plus each
label) crosses the worker queue on its own, in its own shared-memory block,
and the main process pays for every one: with two workers the loader was
slower than with none. :func:`stack_collate` stacks each modality into one
``(B, T, D)`` tensor in the worker and pickles the data samples into one
byte string, so a batch crosses as one block per modality and one message.

Each modality is a :class:`StackedTensors`: the stacked tensor, seen as
the ``list`` of its ``B`` rows. The Anticipator's default preprocessor,
:class:`~lsant_mmaction.models.FeatureDataPreprocessor`, moves the stacked
tensor to the device as it is (one copy, no restack). mmaction's
``ActionDataPreprocessor`` (through ``MultiModalDataPreprocessor``, as the
frames configs set it) takes the list, moves each row and stacks the rows
again, exactly as it stacks ``pseudo_collate``'s lists. Either way the
model inputs are those of ``pseudo_collate``, bit for bit. A plain tensor
would not do for the stock preprocessors: mmengine's ``stack_batch``,
which ``ActionDataPreprocessor`` calls, accepts only lists.

Set it on a dataloader with ``collate_fn=dict(type='stack_collate')``.
"""
import io
import pickle
from typing import Any, Iterable, Sequence

import torch
from mmengine.dataset import pseudo_collate

from mmengine.registry import FUNCTIONS


class StackedTensors(list):
    """The per-sample tensors of one modality, held as one stacked tensor.

    A list of the ``B`` rows (views) of :attr:`stacked`, ``(B, ...)``, so
    that mmaction's data preprocessors stack it like ``pseudo_collate``'s
    lists; pickled, it is that one tensor (one shared-memory block on the
    dataloader's worker queue), and unpickled, the list of its rows again.

    Args:
        rows (Iterable[torch.Tensor]): The tensors, one per sample. The
            preprocessor's ``cast_data`` rebuilds the list this way, from
            the rows moved to the device. Defaults to ``()``.
    """

    def __init__(self, rows: Iterable[torch.Tensor] = ()) -> None:
        super().__init__(rows)
        self._stacked, self._rows = None, ()

    @classmethod
    def from_stacked(cls, stacked: torch.Tensor) -> 'StackedTensors':
        """The list of the rows of ``stacked`` (views, no copy)."""
        rows = cls(stacked.unbind(0))
        rows._stacked, rows._rows = stacked, tuple(rows)
        return rows

    @property
    def stacked(self) -> torch.Tensor:
        """The ``(B, ...)`` tensor whose rows the list holds (stacked anew
        when the list no longer holds exactly those rows)."""
        if self._stacked is None or len(self) != len(self._stacked) or any(
                row is not kept for row, kept in zip(self, self._rows)):
            self._stacked = torch.stack(list(self))
            self._rows = tuple(self)
        return self._stacked

    def pin_memory(self) -> 'StackedTensors':
        """The list of the rows of :attr:`stacked` copied once into pinned
        memory (the dataloader's ``pin_memory=True``; torch's pin_memory
        calls this before it would pin the rows one by one, which would
        leave a list that the preprocessor has to stack anew)."""
        return StackedTensors.from_stacked(self.stacked.pin_memory())

    def __reduce__(self):
        return StackedTensors.from_stacked, (self.stacked, )


def _tensor_from_array(array):
    return torch.from_numpy(array)


class _ArrayPickler(pickle.Pickler):
    """Pickles CPU tensors as numpy arrays (plain bytes): the standard
    pickle would ``torch.save`` each one, the worker queue's would give
    each its own shared-memory block."""

    def reducer_override(self, obj):
        if (type(obj) is torch.Tensor and obj.device.type == 'cpu'
                and not obj.requires_grad and obj.dtype in _NUMPY_DTYPES):
            return _tensor_from_array, (obj.numpy(), )
        return NotImplemented


_NUMPY_DTYPES = (torch.float64, torch.float32, torch.float16, torch.int64,
                 torch.int32, torch.int16, torch.int8, torch.uint8,
                 torch.bool)


class PickledSamples(list):
    """The data samples of a batch, pickled as one byte string.

    Pickled by the dataloader's queue, each label tensor of each
    ``ActionDataSample`` would take a shared-memory block of its own; here
    the whole list is one ``bytes`` object (CPU tensors inside as numpy
    arrays, the same values and dtypes) and the main process unpickles it
    once.

    Args:
        samples (Iterable): The data samples. Defaults to ``()``.
    """

    @staticmethod
    def from_bytes(blob: bytes) -> 'PickledSamples':
        """The list :meth:`__reduce__` packed."""
        return PickledSamples(pickle.loads(blob))

    def __reduce__(self):
        buffer = io.BytesIO()
        _ArrayPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(
            list(self))
        return PickledSamples.from_bytes, (buffer.getvalue(), )


def _stack(tensors: Sequence[Any]) -> Any:
    """One modality: stacked when every sample's tensor has one shape and
    dtype; otherwise the list ``pseudo_collate`` gives (the preprocessor
    pads, as before)."""
    first = tensors[0]
    if not isinstance(first, torch.Tensor) or any(
            not isinstance(t, torch.Tensor) or t.shape != first.shape
            or t.dtype != first.dtype for t in tensors):
        return pseudo_collate(list(tensors))
    return StackedTensors.from_stacked(torch.stack(list(tensors)))


@FUNCTIONS.register_module()
def stack_collate(data_batch: Sequence[dict]) -> dict:
    """Collate anticipation samples into a few stacked arrays.

    Each sample is a dict of ``PackActionInputs``: ``inputs`` (a dict of
    modality tensors, ``(T, D)`` for features, or one tensor) and
    ``data_samples``. Each modality becomes a :class:`StackedTensors` (one
    ``(B, ...)`` tensor seen as the list of its rows), the data samples a
    :class:`PickledSamples` list; other keys are ``pseudo_collate``-d.

    Args:
        data_batch (Sequence[dict]): The samples of one batch.

    Returns:
        dict: ``inputs`` and ``data_samples`` in ``pseudo_collate``'s
        structure, which the same data preprocessor turns into the same
        model inputs.
    """
    if not data_batch:
        raise ValueError('stack_collate got an empty batch')
    first = data_batch[0]
    if not isinstance(first, dict) or 'inputs' not in first:
        raise TypeError('stack_collate expects the dicts of PackActionInputs'
                        f' (inputs, data_samples), got {type(first).__name__}'
                        f' {list(first) if isinstance(first, dict) else ""}')
    batch = {}
    for key in first:
        values = [sample[key] for sample in data_batch]
        if key == 'inputs' and isinstance(first[key], dict):
            batch[key] = {
                m: _stack([v[m] for v in values])
                for m in first[key]
            }
        elif key == 'inputs':
            batch[key] = _stack(values)
        elif key == 'data_samples':
            batch[key] = PickledSamples(values)
        else:
            batch[key] = pseudo_collate(values)
    return batch
