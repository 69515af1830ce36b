"""A data preprocessor for pre-extracted features: batches to the device
as they come, stacked once."""
from collections import Counter
from typing import Any, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor, stack_batch

from mmaction.registry import MODELS
from ...datasets.stack_collate import StackedTensors


@MODELS.register_module()
class FeatureDataPreprocessor(BaseDataPreprocessor):
    """Move a batch of per-step features to the device, one tensor per
    modality.

    The model inputs are those of mmaction's ``MultiModalDataPreprocessor``
    with one ``ActionDataPreprocessor`` (no normalisation) per modality,
    bit for bit (same values, dtype and device), without its per-row work:
    that one moves each sample's tensor to the device on its own and stacks
    the rows there again, even when :func:`stack_collate` had already
    stacked them in the dataloader worker. Here each modality is

    - a :class:`StackedTensors` (``stack_collate``): its ``(B, ...)``
      :attr:`~StackedTensors.stacked` tensor, moved with one ``.to``;
    - a plain ``(B, ...)`` tensor: moved as it is;
    - a list of tensors of one shape, dtype and device (``pseudo_collate``):
      stacked, then moved with one ``.to``;
    - any other list (rows of different shapes or dtypes): moved and
      stacked by mmengine's ``stack_batch``, as the stock preprocessor
      does, which zero-pads rows at the end of every dimension but the
      first; rows it cannot stack (different numbers of dimensions, or of
      steps) are an error naming the modality and the shapes.

    Then, with ``to_float32``, the batch is cast to float32, as
    ``ActionDataPreprocessor`` does. The data samples and any other keys of
    the batch are moved by :meth:`cast_data`, as in every mmengine
    preprocessor.

    Args:
        modalities (Sequence[str], optional): The modalities the model
            reads; an input modality outside them is an error (as with the
            stock preprocessor, which has no preprocessor for it). None
            accepts any. Defaults to None.
        to_float32 (bool): Cast the batch to float32. Defaults to True.
        non_blocking (bool): Copy to the device without blocking (from
            pinned memory). Defaults to False.
    """

    def __init__(self,
                 modalities: Optional[Sequence[str]] = None,
                 to_float32: bool = True,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.modalities = None if modalities is None else tuple(modalities)
        self.to_float32 = to_float32

    def forward(self, data: dict, training: bool = False) -> dict:
        """The model inputs of a batch from the dataloader.

        Args:
            data (dict): ``inputs`` (a dict of modalities, or one modality)
                and ``data_samples``, as a collate gives them.
            training (bool): Unused (no batch augmentation); kept for the
                preprocessor interface. Defaults to False.

        Returns:
            dict: ``inputs`` as ``(B, ...)`` tensors on the device, every
            other key moved by :meth:`cast_data`.
        """
        if not isinstance(data, dict) or 'inputs' not in data:
            raise TypeError('FeatureDataPreprocessor expects a dict with '
                            f'"inputs", got {type(data).__name__}')
        inputs = data['inputs']
        if isinstance(inputs, dict):
            unknown = [] if self.modalities is None else [
                m for m in inputs if m not in self.modalities]
            if unknown:
                raise KeyError(f'inputs hold modalities {unknown} that the '
                               f'model does not read ({self.modalities})')
            inputs = {m: self.batch(x, m) for m, x in inputs.items()}
        else:
            inputs = self.batch(inputs, 'inputs')
        return {
            key: inputs if key == 'inputs' else self.cast_data(value)
            for key, value in data.items()
        }

    def batch(self, rows: Any, modality: str) -> torch.Tensor:
        """One modality as a ``(B, ...)`` tensor on the device."""
        if isinstance(rows, StackedTensors):
            batch = self.cast_data(rows.stacked)
        elif isinstance(rows, torch.Tensor):
            batch = self.cast_data(rows)
        elif isinstance(rows, list) and rows and _uniform(rows):
            batch = self.cast_data(torch.stack(rows))
        elif isinstance(rows, list) and rows:
            rows = self.cast_data(rows)
            try:  # the stock path: pads what it can
                batch = stack_batch(rows)
            except (AssertionError, RuntimeError, TypeError) as e:
                shapes = Counter(
                    tuple(getattr(r, 'shape', ())) for r in rows)
                raise ValueError(
                    f'cannot stack the rows of modality "{modality}": '
                    f'shapes (count) {dict(shapes)}: {e}') from e
        else:
            raise TypeError(f'modality "{modality}" is a '
                            f'{type(rows).__name__}; expected a tensor or a '
                            'non-empty list of tensors')
        if self.to_float32:
            batch = batch.to(torch.float32)
        return batch


def _uniform(rows: list) -> bool:
    """Whether ``torch.stack`` takes the rows as they are: tensors of one
    shape, dtype and device."""
    first = rows[0]
    return all(
        isinstance(r, torch.Tensor) and r.shape == first.shape
        and r.dtype == first.dtype and r.device == first.device
        for r in rows)
