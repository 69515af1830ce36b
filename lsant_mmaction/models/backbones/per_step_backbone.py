"""Any mmaction backbone applied to every step of the time grid."""
import logging
from functools import partial
from typing import List, Optional, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule, initialize

from mmaction.registry import MODELS

from ...engine.checkpoint import load_every_tensor, pretrained_checkpoints


# mmaction clip backbones built of 2D convolutions: they take a clip
# (N, C, L, H, W) and fold its frames into the batch themselves
_CLIP_MODELS_OF_2D_CONVS = ('C2D', 'TimeSformer')
# backbones that take both: OmniResNet's forward runs an image (N, C, H, W)
# through its 3D weights (forward_2d), a clip (N, C, L, H, W) as a 3D model
_IMAGE_AND_CLIP_MODELS = ('OmniResNet', )
# backbones whose outputs are parallel pathways over one clip, not stages of
# one network: SlowFast's (slow, fast). Each is pooled and they are
# concatenated, fast first, as mmaction's SlowFastHead does; the last alone
# would drop the slow pathway (and leave it untrained)
_TWO_PATHWAY_MODELS = ('ResNet3dSlowFast', )
# flags that only say how to read the backbone's ``pretrained``; some
# mmaction backbones read it even when it is None and fail (ResNetTSM,
# MobileNetV2TSM, SwinTransformer3D with ``pretrained2d``: TypeError;
# UniFormerV2 with ``clip_pretrained``: an assert), so without a
# ``pretrained`` they are turned off
_PRETRAINED_READERS = ('pretrained2d', 'clip_pretrained')
# backbones that load their ``pretrained`` while they are built and then
# change their modules (TANet: ResNet weights, then its TAM blocks wrap the
# ResNet blocks, random): their init_weights does nothing, so the weights
# cannot be checked; a checkpoint of the whole backbone goes in
# PerStepBackbone's init_cfg instead
_LOAD_WHILE_BUILT = ('TANet', )

FRAME = '2d frame'
CLIP = '3d clip'
SHIFT = 'temporal shift'

_HOW = {
    FRAME: ("one frame per step: LoadAnticipationFrames clip_len=1, "
            "FormatShape input_format='NCHW' (inputs (B, T, C, H, W))"),
    CLIP: ('a clip of clip_len frames ending at each step: '
           "LoadAnticipationFrames clip_len=L, FormatShape "
           "input_format='NCTHW' (inputs (B, T, C, L, H, W))"),
}


def _is_one_of(backbone: torch.nn.Module, names: tuple) -> bool:
    return any(cls.__name__ in names for cls in type(backbone).__mro__)


def backbone_mode(backbone: torch.nn.Module) -> Optional[str]:
    """How a backbone sees the time grid: :data:`SHIFT` (it has
    ``num_segments``: TSM, TIN, TANet, MobileOneTSM), :data:`CLIP` (3D
    convolutions, or a clip model of 2D ones such as C2D, TimeSformer),
    :data:`FRAME` (2D convolutions only), or None when the input's
    dimensions decide: a backbone that takes both images and clips
    (OmniResNet), or one whose modules do not tell (no convolution, or
    both kinds)."""
    if getattr(backbone, 'num_segments', None) is not None:
        return SHIFT
    if _is_one_of(backbone, _IMAGE_AND_CLIP_MODELS):
        return None
    if _is_one_of(backbone, _CLIP_MODELS_OF_2D_CONVS):
        return CLIP
    kinds = {kind for m in backbone.modules()
             for kind in (torch.nn.Conv2d, torch.nn.Conv3d)
             if isinstance(m, kind)}  # mmcv's wrappers subclass them
    if kinds == {torch.nn.Conv3d}:
        return CLIP
    if kinds == {torch.nn.Conv2d}:
        return FRAME
    return None


def fixed_clip_length(
        backbone: torch.nn.Module) -> Optional[Tuple[str, int]]:
    """``(setting, L)`` when a clip backbone fixes at build time the number
    of frames of the clips it takes, else None.

    TimeSformer keeps ``num_frames`` (its time embedding is for that many
    frames); UniFormerV2 has ``t_size``, which it does not keep: its
    transformer's ``T`` frames times conv1's temporal stride. UniFormerV2
    (and TimeSformer's ``space_only``) regroup the N x L frames of a batch
    into clips of that length, so clips of another length would be mixed
    with their neighbours (other steps, other samples) without an error.
    """
    if _is_one_of(backbone, ('UniFormerV2', )):
        return 't_size', backbone.transformer.T * backbone.conv1.stride[0]
    frames = getattr(backbone, 'num_frames', None)
    if isinstance(frames, int):
        return 'num_frames', frames
    return None


@MODELS.register_module()
class PerStepBackbone(BaseModule):
    """Run a backbone on each step's frame or clip, pool to one vector.

    Three modes, chosen at build time from the backbone
    (:func:`backbone_mode`); the input must fit it, else an error names the
    backbone and the setting to change:

    - **2D frame** (``ResNet``, ``MobileNetV2``...): one frame per step,
      input ``(B, T, C, H, W)`` (``FormatShape`` ``'NCHW'``, clip_len 1).
    - **3D clip** (``X3D``, ``ResNet3dSlowOnly``, I3D, ``C3D``, ``C2D``,
      ``ResNet3dSlowFast``, ``TimeSformer``, ``MViT``, ``UniFormerV2``...):
      a clip of L frames ending at each step (what
      :class:`LoadAnticipationFrames` reads), input ``(B, T, C, L, H, W)``
      (``'NCTHW'``). A backbone built for one clip length (TimeSformer's
      ``num_frames``, UniFormerV2's ``t_size``: :func:`fixed_clip_length`)
      takes clips of exactly that length.
      ``OmniResNet`` takes clips or single frames: the input decides.
    - **Temporal shift** (``ResNetTSM``, ``MobileNetV2TSM``,
      ``MobileOneTSM``, ``ResNetTIN``, ``TANet``: any backbone with
      ``num_segments``): these mix features between the ``num_segments``
      consecutive frames of the batch that they take for one clip. Each
      step gets its own clip of ``num_segments`` frames ending at it, input
      ``(B, T, C, L, H, W)`` with ``L == num_segments``
      (``LoadAnticipationFrames clip_len=num_segments``, ``'NCTHW'``); the
      B x T clips go in as ``(B*T*L, C, H, W)``, so every group of
      ``num_segments`` frames is one step of one sample, and the frames'
      outputs are averaged (as TSM's consensus). A shift therefore never
      reaches another step or sample; running it over the 14 steps as one
      clip would let step t see step t+1.

    The contract (DESIGN, "Two rules every model obeys"): **causality**,
    the feature of step t depends only on the frames of step t's frame or
    clip, which end at step t; **sample independence**, no sample's
    features depend on another's. Both are exact (bit for bit) in eval
    mode; in train mode BatchNorm mixes the batch through its statistics,
    as in any mmaction recognizer. ``chunk_size`` splits the B x T steps
    between steps only, never inside a clip.

    The backbone's output is averaged over every axis but channels (and, in
    temporal-shift mode, over the clip's frames), giving ``(B, T, D)`` for
    the anticipation head. Of several outputs (``out_indices``,
    ``out_scales``) the last is taken, nested ones too (MViT's last stage
    is ``[patch_token, cls_token]``: its class token, as ``MViTHead``);
    the two pathways of ``ResNet3dSlowFast`` are each pooled and
    concatenated, fast then slow (``D`` = both widths), as ``SlowFastHead``.

    Pre-trained weights are named in one place: the backbone's own
    ``pretrained`` (e.g. a torchvision ResNet file or URL) or ``Pretrained``
    ``init_cfg``, exactly as in an mmaction recognizer, or this module's
    ``init_cfg=dict(type='Pretrained', checkpoint=...)``, whose keys are
    ``backbone.*`` as in an mmaction recognizer checkpoint (its head is
    ignored). :meth:`init_weights` loads them and fails, naming the source,
    when they cannot be read or leave any backbone tensor unset. A backbone
    without named weights is an error there unless ``random_init=True``.
    (mmaction's ``pretrained2d=True``, the default of TSM and Swin, would
    read ``pretrained`` as a 2D checkpoint even when it is None, and
    UniFormerV2's ``clip_pretrained=True`` as the name of a CLIP model:
    without a ``pretrained`` both are turned off, so ``init_cfg`` weights
    and ``random_init`` work.)

    Args:
        backbone (dict): Any MODELS backbone (``ResNet``, ``ResNetTSM``,
            ``X3D``, ``ResNet3dSlowOnly``...), with its ``init_cfg``/
            ``pretrained`` for pre-trained weights.
        frozen (bool): Keep the backbone fixed: no gradients, BatchNorm in
            eval mode, forward under ``no_grad``. Defaults to False
            (end-to-end training).
        chunk_size (int, optional): Steps (frames in 2D mode, clips in the
            others) per backbone call. Defaults to None (all at once).
        random_init (bool): No pre-trained weights, on purpose: the backbone
            starts from its own random initialisation and
            :meth:`init_weights` logs one warning saying so. Defaults to
            False.
        init_cfg (dict, optional): Initialisation config, e.g.
            ``dict(type='Pretrained', checkpoint='recognizer.pth')``.
            Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 frozen: bool = False,
                 chunk_size: Optional[int] = None,
                 random_init: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if backbone.get('type') in _LOAD_WHILE_BUILT and backbone.get(
                'pretrained'):
            raise ValueError(
                f"PerStepBackbone: {backbone['type']} loads its pretrained "
                f"{backbone['pretrained']!r} while it is built (the ResNet "
                'part only; its temporal modules stay random), so the '
                'weights cannot be checked: set pretrained=None and name a '
                f"checkpoint of the whole {backbone['type']} in "
                "PerStepBackbone's init_cfg=dict(type='Pretrained', "
                'checkpoint=...)')
        self.backbone = MODELS.build(backbone)
        self.frozen = frozen
        if chunk_size is not None and (not isinstance(chunk_size, int)
                                       or chunk_size < 1):
            raise ValueError('PerStepBackbone: chunk_size must be a '
                             f'positive number of steps, got {chunk_size!r}')
        self.chunk_size = chunk_size
        self.random_init = random_init
        self.mode = backbone_mode(self.backbone)
        kind = type(self.backbone).__name__
        self.num_segments = None
        if self.mode == SHIFT:
            self.num_segments = self.backbone.num_segments
            if (not isinstance(self.num_segments, int)
                    or self.num_segments < 1):
                raise ValueError(
                    f'PerStepBackbone: {kind} num_segments must be a '
                    f'positive int, got {self.num_segments!r}')
        # the clip length the backbone was built for, if it fixes one
        self.clip_length = (None if self.mode == SHIFT else
                            fixed_clip_length(self.backbone))
        self.two_pathways = _is_one_of(self.backbone, _TWO_PATHWAY_MODELS)
        sources = self._named_weights()
        if len(sources) > 1:
            raise ValueError(
                'PerStepBackbone: pretrained weights named in more than one '
                f'place: {sources}; keep one')
        if sources and random_init:
            raise ValueError(
                f'PerStepBackbone: random_init=True, but {sources[0][0]} '
                f'names the pretrained weights {sources[0][1]!r}; drop one')
        if not getattr(self.backbone, 'pretrained', None):
            for flag in _PRETRAINED_READERS:  # would read pretrained=None
                if getattr(self.backbone, flag, False):
                    setattr(self.backbone, flag, False)
        if frozen:
            self.backbone.requires_grad_(False)

    def _named_weights(self) -> List[tuple]:
        """``[(where, checkpoint)]`` of every place that names weights."""
        kind = type(self.backbone).__name__
        sources = []
        pretrained = getattr(self.backbone, 'pretrained', None)
        if pretrained:
            sources.append((f'{kind} pretrained', str(pretrained)))
        for ckpt in pretrained_checkpoints(
                getattr(self.backbone, 'init_cfg', None)):
            sources.append((f'{kind} init_cfg', ckpt))
        for ckpt in pretrained_checkpoints(self.init_cfg):
            sources.append(('PerStepBackbone init_cfg', ckpt))
        return sources

    @property
    def pretrained_source(self) -> Optional[str]:
        """The file or URL of the pre-trained weights, None if none named."""
        sources = self._named_weights()
        return sources[0][1] if sources else None

    def init_weights(self) -> None:
        """Load the named pre-trained weights, or initialise at random.

        Raises:
            RuntimeError: The named weights cannot be loaded or leave some
                backbone tensor unset (see :func:`load_every_tensor`).
            ValueError: No weights are named and ``random_init`` is False.
        """
        if self._is_init:  # BaseModule warns about the second call
            return super().init_weights()
        kind = type(self.backbone).__name__
        sources = self._named_weights()
        if not sources:
            if not self.random_init:
                raise ValueError(
                    f'PerStepBackbone: its {kind} names no pretrained '
                    'weights; set the backbone\'s pretrained (or '
                    "init_cfg=dict(type='Pretrained', checkpoint=...)), or "
                    'random_init=True to start from random weights on '
                    'purpose')
            print_log(
                f'PerStepBackbone: {kind} starts from random weights '
                '(random_init=True, no pretrained weights)' +
                (' and is frozen' if self.frozen else ''),
                logger='current', level=logging.WARNING)
            return super().init_weights()
        where, source = sources[0]
        print_log(f'PerStepBackbone: {kind} weights from {source} ({where})',
                  logger='current')
        if where.startswith('PerStepBackbone'):
            # the backbone's own random init would be overwritten entirely
            load = partial(initialize, self, self.init_cfg)
        else:
            load = super().init_weights
        load_every_tensor(self.backbone, load, source)
        self._is_init = True

    def train(self, mode: bool = True) -> 'PerStepBackbone':
        super().train(mode)
        if self.frozen:
            self.backbone.eval()  # frozen BatchNorm statistics too
        return self

    def _check_input(self, x: torch.Tensor) -> None:
        """The input fits the mode, else an error naming the setting."""
        kind = type(self.backbone).__name__
        if x.dim() not in (5, 6):
            raise ValueError(
                'PerStepBackbone expects (B, T, C, H, W) or '
                f'(B, T, C, L, H, W) inputs, got {tuple(x.shape)}')
        if self.mode == SHIFT:
            if x.dim() == 6 and x.shape[3] == self.num_segments:
                return
            got = (f'clips of {x.shape[3]} frames' if x.dim() == 6 else
                   'one frame per step (FormatShape NCHW)')
            raise ValueError(
                f'PerStepBackbone: {kind} shifts features between the '
                f'{self.num_segments} frames (num_segments) of a clip, so '
                'each step needs its own clip of num_segments frames ending '
                'at it: LoadAnticipationFrames clip_len='
                f"{self.num_segments} and FormatShape input_format='NCTHW' "
                f'(inputs (B, T, C, {self.num_segments}, H, W)); got {got}, '
                f'input {tuple(x.shape)}. Set clip_len to num_segments (or '
                'num_segments to clip_len)')
        want = {FRAME: 5, CLIP: 6}.get(self.mode)
        if want is not None and x.dim() != want:
            raise ValueError(
                f'PerStepBackbone: {kind} is a {self.mode} backbone, which '
                f'takes {_HOW[self.mode]}; got {tuple(x.shape)}')
        if (self.clip_length is not None and x.dim() == 6
                and x.shape[3] != self.clip_length[1]):
            setting, length = self.clip_length
            raise ValueError(
                f'PerStepBackbone: {kind} is built for clips of {length} '
                f'frames ({setting}={length}); got clips of {x.shape[3]} '
                f'frames, input {tuple(x.shape)}. Set LoadAnticipationFrames '
                f'clip_len={length} (or {setting} to clip_len)')

    def _pool(self, out: torch.Tensor) -> torch.Tensor:
        """``(N, C)``: a backbone output ``(N, C, ...)`` averaged over all
        but its channels."""
        if not torch.is_tensor(out) or out.dim() < 2:
            raise ValueError(
                f'{type(self.backbone).__name__} returned '
                f'{getattr(out, "shape", type(out).__name__)}: cannot pool '
                'it to one vector per step (expected (N, C, ...))')
        return out.flatten(2).mean(-1) if out.dim() > 2 else out

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` features of N steps' frames or clips."""
        steps = len(x)
        if self.mode == SHIFT:  # (N, L, C, H, W) -> (N*L, C, H, W)
            x = x.flatten(0, 1)
        out = self.backbone(x)
        if self.two_pathways:  # (slow, fast) -> (N', C_fast + C_slow)
            out = torch.cat([self._pool(o) for o in reversed(out)], 1)
        else:
            while isinstance(out, (tuple, list)):  # stages, MViT's tokens
                out = out[-1]
            out = self._pool(out)  # (N', C)
        if self.mode == SHIFT:
            # the clip's frames (halved by TSM's temporal_pool): consensus
            out = out.view(steps, -1, out.shape[-1]).mean(1)
        return out  # (N, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-step features ``(B, T, D)`` of ``(B, T, C, [L,] H, W)``."""
        self._check_input(x)
        batch, steps = x.shape[:2]
        flat = x.flatten(0, 1)  # (B*T, C, [L,] H, W): one entry per step
        if self.mode == SHIFT:
            flat = flat.transpose(1, 2)  # (B*T, L, C, H, W)
        # chunks of whole steps: never inside a clip
        chunks = flat.split(self.chunk_size or len(flat))
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            feats = torch.cat([self._run(c) for c in chunks])
        return feats.view(batch, steps, -1)
