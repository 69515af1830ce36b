# The smallest experiment on your own raw frames or videos: an ImageNet
# ResNet-50 (TSN's backbone) on each step's frame, average-pooled to 2048-d,
# feeding the LSTM head, trained end to end, GL+VN prior, alpha 0.5. Set the
# facts of configs/_base_/datasets/custom_frames.py (copy and edit that
# base; videos: load = video_load there). The ImageNet weights are
# torchvision's resnet50 file, downloaded once into
# $TORCH_HOME/hub/checkpoints/. Offline, point at a local copy:
#   --cfg-options \
#     model.backbones.imgs.backbone.pretrained=/path/resnet50-0676ba61.pth
# Weights that cannot be loaded are an error at init_weights(), never random.
_base_ = [
    '_base_/models/lstm_anticipator.py',
    '_base_/datasets/custom_frames.py',
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
    data_preprocessor={{_base_.data_preprocessor}},
    cls_head=dict(
        num_classes={{_base_.num_classes}},
        in_channels=2048,
        loss_cls=dict(
            alpha=0.5,
            prior={{_base_.priors.glvn}},
            num_classes={{_base_.num_classes}})))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9),
    clip_grad=dict(max_norm=20, norm_type=2))
