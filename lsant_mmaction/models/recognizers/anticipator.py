"""The anticipator: per-modality backbones feeding an anticipation head."""
from typing import Dict, Optional, Sequence

import torch
from mmengine.model import BaseModel, ModuleDict

from mmaction.registry import MODELS
from mmaction.utils import OptSampleList


@MODELS.register_module()
class Anticipator(BaseModel):
    """Run each modality through its backbone, then the anticipation head.

    Inputs are a dict ``{modality: (B, T, D)}`` of per-step features (what
    :class:`LoadLMDBFeatures` + ``PackActionInputs(collect_keys=...)``
    produce). With ``backbones=None`` every modality passes unchanged
    (pre-extracted features).

    Args:
        cls_head (dict): Head config, e.g. ``LSTMAnticipationHead``; its
            ``modalities`` default to the model's.
        modalities (Sequence[str]): Modalities the model reads, in the
            order the head concatenates them.
        backbones (dict[str, dict], optional): Backbone config per modality
            (e.g. a ``PerStepBackbone``); modalities without one are
            identity. :meth:`init_weights` initialises each, loading its
            pre-trained weights. Defaults to None.
        data_preprocessor (dict, optional): Defaults to a
            :class:`FeatureDataPreprocessor` for the model's modalities
            (the inputs of mmaction's ``MultiModalDataPreprocessor`` with
            an ``ActionDataPreprocessor`` per modality, no normalisation,
            bit for bit; a :func:`stack_collate` batch goes to the device
            as it is, one tensor per modality).
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 cls_head: dict,
                 modalities: Sequence[str],
                 backbones: Optional[Dict[str, dict]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        self.modalities = tuple(modalities)
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='FeatureDataPreprocessor', modalities=self.modalities)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        unknown = set(backbones or {}) - set(self.modalities)
        if unknown:
            raise ValueError(f'backbones given for {sorted(unknown)}, which '
                             f'are not in modalities {self.modalities}')
        # mmengine's ModuleDict, a BaseModule: init_weights() reaches each
        # backbone (torch's has no init_weights, so the recursion stopped)
        self.backbones = ModuleDict(
            {m: MODELS.build(cfg)
             for m, cfg in (backbones or {}).items()})
        # the head reads the model's modalities (stated once, here)
        cls_head = dict(cls_head)
        given = tuple(cls_head.setdefault('modalities', self.modalities))
        if given != self.modalities:
            raise ValueError(f'cls_head.modalities={given} differs from the '
                             f'model\'s modalities={self.modalities}; give '
                             'them once, as model.modalities')
        self.cls_head = MODELS.build(cls_head)

    def extract_feat(self, inputs: Dict[str, torch.Tensor]
                     ) -> Dict[str, torch.Tensor]:
        """Per-modality features ``(B, T, D_m)``."""
        if not isinstance(inputs, dict):
            raise TypeError('Anticipator expects a dict of modalities as '
                            f'inputs, got {type(inputs).__name__}')
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f'inputs lack modalities {missing} '
                           f'(have {sorted(inputs)})')
        return {
            m: self.backbones[m](inputs[m]) if m in self.backbones else
            inputs[m]
            for m in self.modalities
        }

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: OptSampleList = None,
                mode: str = 'tensor') -> object:
        """mmengine's entry point: ``loss``, ``predict`` or ``tensor``."""
        feats = self.extract_feat(inputs)
        if mode == 'loss':
            return self.cls_head.loss(feats, data_samples)
        if mode == 'predict':
            return self.cls_head.predict(feats, data_samples)
        if mode == 'tensor':
            return self.cls_head(feats)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, '
                           'predict and tensor mode')
