# Your own dataset as raw frames or videos, in the RU-LSTM layout, for a
# backbone in front of the head (PerStepBackbone; README, "Your own
# dataset"). Copy this file, then set the facts below:
#   {data_root}/training.csv validation.csv   id,video,start,end,verb,noun,action
#   {data_root}/actions.csv                   id,verb,noun,action (header)
#   {data_root}/verb_classes.csv noun_classes.csv   id,key (header)
#   {data_root}/frames/{video}/frame_{:010d}.jpg   raw frames (load = frame_load)
#   {data_root}/videos/{video}.mp4            or videos (load = video_load)
# Frame numbers count from 1 at the time grid's rate (30 fps unless the
# dataset sets time_grid=dict(fps=...)); a video of another rate is read at
# the same times.
dataset_type = 'RULSTMLayoutFeatureDataset'
data_root = 'data/my_dataset/'
num_classes = 100  # actions in actions.csv
num_verbs = 20  # rows of verb_classes.csv
num_nouns = 40  # rows of noun_classes.csv
meta_keys = ('segment_id', 'video_id', 'frame_inds', 'verb_label',
             'noun_label')

# What the backbone takes at each step (README, "Any mmaction backbone"):
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

# the paper's five priors over your actions; an experiment picks one
priors = {
    kind: dict(
        kind=kind,
        dataset='epic100',  # the format of actions.csv and the class files
        actions=data_root + 'actions.csv',
        verb_classes=data_root + 'verb_classes.csv',
        noun_classes=data_root + 'noun_classes.csv',
        train=data_root + 'training.csv',
        glove='glove-wiki-gigaword-300')  # or a local GloVe .txt file
    for kind in ('uniform', 'vn', 'te', 'gl', 'glvn')
}

dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(frames='frames', videos='videos'),
    num_classes=num_classes,
    num_verbs=num_verbs,
    num_nouns=num_nouns)
# 14 frames (or clips) per sample: a small batch (README, "Memory")
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(dataset, ann_file='training.csv', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    collate_fn=dict(type='stack_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        dataset,
        ann_file='validation.csv',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

# top-1/top-5 of verbs, nouns and actions and the class-mean top-5 recall
# (over every class present) at each anticipation time
val_evaluator = dict(
    type='AnticipationMetric', verb_noun=True, all_classes=True)
test_evaluator = val_evaluator
