# LSTM baseline with GL+VN on EK55 raw frames: a TSM ResNet-50 (temporal
# shift) on a clip of num_segments=8 frames (every 4th frame, about 1 s)
# ending at each step, its frame features averaged (TSM's consensus) to
# 2048-d, feeding the LSTM head. Each step's clip is its own TSM input, so
# the shift never reaches a later step or another sample (docs/backbones.md,
# "Modes and the two rules"). Frozen backbone by default (frozen=False to
# fine-tune), with mmaction's Kinetics-400 TSM-R50 recognizer checkpoint:
# its 'backbone.*' keys are the PerStepBackbone's, its head is ignored.
# Offline, point at a local copy:
#   --cfg-options model.backbones.imgs.init_cfg.checkpoint=/path/tsm_r50.pth
# Weights that cannot be loaded are an error at init_weights(), never random.
_base_ = [
    '_base_/models/lstm_anticipator.py',
    '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

num_segments = 8
clip = dict(
    type='LoadAnticipationFrames', clip_len=num_segments, frame_interval=4)
train_pipeline = [
    clip,
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomCrop', size=224),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys={{_base_.meta_keys}})
]
test_pipeline = [
    clip,
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys={{_base_.meta_keys}})
]
# 14 clips of 8 frames per sample: a small batch (see docs/backbones.md, "Memory")
train_dataloader = dict(
    batch_size=4,
    dataset=dict(data_prefix=dict(frames='frames'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    dataset=dict(data_prefix=dict(frames='frames'), pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    modalities=('imgs', ),
    backbones=dict(
        imgs=dict(
            type='PerStepBackbone',
            backbone=dict(
                type='ResNetTSM',
                depth=50,
                num_segments=num_segments,
                shift_div=8,
                pretrained=None,
                norm_eval=False),
            frozen=True,
            chunk_size=16,  # clips per backbone call
            init_cfg=dict(
                type='Pretrained',
                checkpoint=(
                    'https://download.openmmlab.com/mmaction/v1.0/'
                    'recognition/tsm/tsm_imagenet-pretrained-r50_8xb16-'
                    '1x1x8-50e_kinetics400-rgb/tsm_imagenet-pretrained-r50_'
                    '8xb16-1x1x8-50e_kinetics400-rgb_20220831-64d69186.pth'
                )))),
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            imgs=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCTHW'))),
    cls_head=dict(
        num_classes={{_base_.num_classes}},
        in_channels=2048,
        loss_cls=dict(
            alpha=0.5,
            prior={{_base_.priors.glvn}},
            num_classes={{_base_.num_classes}})))
