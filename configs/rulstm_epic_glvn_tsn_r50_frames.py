# RU-LSTM with GL+VN on EK55 raw frames: an ImageNet ResNet-50 (TSN's
# backbone) on each step's frame, average-pooled to 2048-d, feeding one
# RU-LSTM branch; trained end to end (set frozen=True to train the head
# only). Batch 8 x 14 frames of 224x224: see docs/backbones.md, "Memory".
# The ImageNet weights are torchvision's resnet50 file (what
# 'torchvision://resnet50' names, without needing torchvision), downloaded
# once into $TORCH_HOME/hub/checkpoints/. Offline, point at a local copy:
#   --cfg-options \
#     model.backbones.imgs.backbone.pretrained=/path/resnet50-0676ba61.pth
# Weights that cannot be loaded are an error at init_weights(), never random.
_base_ = [
    '_base_/models/rulstm_anticipator.py',
    '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

model = dict(
    modalities=('imgs', ),
    backbones=dict(
        imgs=dict(
            type='PerStepBackbone',
            backbone=dict(
                type='ResNet',
                depth=50,
                pretrained=('https://download.pytorch.org/models/'
                            'resnet50-0676ba61.pth'),
                norm_eval=False),
            frozen=False)),
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            imgs=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCHW'))),
    cls_head=dict(
        num_classes={{_base_.num_classes}},
        in_channels=2048,
        loss_cls=dict(
            alpha=0.5,
            prior={{_base_.priors.glvn}},
            num_classes={{_base_.num_classes}})))

# 14 frames per sample: a small batch (see docs/backbones.md, "Memory")
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_prefix=dict(frames='frames'),
        pipeline={{_base_.frame_pipelines.train}}))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(
        data_prefix=dict(frames='frames'),
        pipeline={{_base_.frame_pipelines.test}}))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9),
    clip_grad=dict(max_norm=20, norm_type=2))
