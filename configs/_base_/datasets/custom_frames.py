# Your own dataset as raw frames or videos, in the RU-LSTM layout, for a
# backbone in front of the head (PerStepBackbone; docs/datasets.md, "As
# raw frames or videos"). The dataset's facts (data_root, class counts, the annotation
# files, the priors, the metric) are those of custom_features.py: set them
# there. Here, where the pictures are (copy and edit):
#   {data_root}/frames/{video}/frame_{:010d}.jpg   raw frames (load = frame_load)
#   {data_root}/videos/{video}.mp4            or videos (load = video_load)
# Frame numbers count from 1 at the time grid's rate (30 fps unless the
# dataset sets time_grid=dict(fps=...)); a video of another rate is read at
# the same times.
_base_ = ['./custom_features.py']
meta_keys = {{_base_.meta_keys}}

# What the backbone takes at each step (docs/backbones.md):
# 2D models one frame, 'NCHW'; 3D models a clip of clip_len frames ending
# at the step, 'NCTHW'; temporal-shift models (TSM...) clip_len equal to
# their num_segments, 'NCTHW'.
clip_len = 1
frame_interval = 1  # grid frames between the frames of a clip
input_format = 'NCHW'
frame_load = dict(
    type='LoadAnticipationFrames',
    clip_len=clip_len,
    frame_interval=frame_interval)
video_load = dict(
    type='LoadAnticipationVideoFrames',
    clip_len=clip_len,
    frame_interval=frame_interval,
    decoder='decord',  # or 'pyav', 'opencv' (mmaction's readers)
    filename_tmpl='{video}.mp4')
load = frame_load  # videos: load = video_load

train_pipeline = [
    load,
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomCrop', size=224),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format=input_format),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=meta_keys)
]
test_pipeline = [
    load,
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format=input_format),
    dict(type='PackActionInputs', collect_keys=('imgs', ),
         meta_keys=meta_keys)
]
# the model's normaliser (model.data_preprocessor): ImageNet statistics, as
# torchvision's and mmaction's TSN/TSM models; mmaction's X3D models use
# mean 114.75, std 57.38
data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    preprocessors=dict(
        imgs=dict(
            type='ActionDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            format_shape=input_format)))

# 14 frames (or clips) per sample: a small batch (docs/backbones.md, "Memory")
data_prefix = dict(frames='frames', videos='videos')
train_dataloader = dict(
    batch_size=8,
    dataset=dict(data_prefix=data_prefix, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    dataset=dict(data_prefix=data_prefix, pipeline=test_pipeline))
test_dataloader = val_dataloader

