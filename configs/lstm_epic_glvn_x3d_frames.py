# LSTM baseline with GL+VN on EK55 raw frames: an X3D-S (3D) backbone on a
# clip of 4 frames (every 2nd frame) ending at each step, average-pooled to
# 432-d, feeding the LSTM head. Frozen backbone by default (frozen=False to
# fine-tune), with mmaction's Kinetics-400 X3D-S recognizer checkpoint: its
# 'backbone.*' keys are the PerStepBackbone's, its head is ignored. Offline,
# point at a local copy:
#   --cfg-options model.backbones.imgs.init_cfg.checkpoint=/path/x3d_s.pth
# Weights that cannot be loaded are an error at init_weights(), never random.
_base_ = [
    '_base_/models/lstm_anticipator.py',
    '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

clip = dict(type='LoadAnticipationFrames', clip_len=4, frame_interval=2)
train_pipeline = [
    clip,
    dict(type='Resize', scale=(-1, 182)),
    dict(type='RandomCrop', size=160),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys={{_base_.meta_keys}})
]
test_pipeline = [
    clip,
    dict(type='Resize', scale=(-1, 182)),
    dict(type='CenterCrop', crop_size=160),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys={{_base_.meta_keys}})
]
# 14 clips per sample: a small batch (see docs/backbones.md, "Memory")
train_dataloader = dict(
    batch_size=8,
    dataset=dict(data_prefix=dict(frames='frames'), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(data_prefix=dict(frames='frames'), pipeline=test_pipeline))
test_dataloader = val_dataloader

model = dict(
    modalities=('imgs', ),
    backbones=dict(
        imgs=dict(
            type='PerStepBackbone',
            backbone=dict(
                type='X3D', gamma_w=1, gamma_b=2.25, gamma_d=2.2),
            frozen=True,
            chunk_size=64,
            init_cfg=dict(
                type='Pretrained',
                checkpoint=('https://download.openmmlab.com/mmaction/v1.0/'
                            'recognition/x3d/facebook/x3d_s_13x6x1_facebook-'
                            'kinetics400-rgb_20201027-623825a0.pth')))),
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            imgs=dict(
                type='ActionDataPreprocessor',
                mean=[114.75, 114.75, 114.75],
                std=[57.38, 57.38, 57.38],
                format_shape='NCTHW'))),
    cls_head=dict(
        num_classes={{_base_.num_classes}},
        in_channels=432,
        loss_cls=dict(
            alpha=0.5,
            prior={{_base_.priors.glvn}},
            num_classes={{_base_.num_classes}})))
