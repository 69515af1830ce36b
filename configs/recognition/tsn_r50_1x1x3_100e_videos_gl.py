# mmaction's own TSN (ResNet-50 ImageNet-pretrained, 3 segments, 100 epochs,
# its Kinetics-400 recipe) on your videos, trained with the prior-smoothed
# cross-entropy: a GloVe prior built from the class names. Only the data, the
# loss and the checkpoint selection differ from mmaction's config. Your
# dataset, mmaction's VideoDataset layout:
#   {data_root}/classes.txt         one class name a line, line 1 = class 0
#   {data_root}/train_list.txt      "relative/video.mp4 label" a line
#   {data_root}/val_list.txt
#   {data_root}/videos/             the videos
# Set num_classes to the number of lines of classes.txt. alpha: choose it
# with tools/sweep.py (--priors onehot uniform gl --alphas ...).
_base_ = [
    'mmaction::recognition/tsn/'
    'tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb.py'
]
custom_imports = dict(imports=['lsant_mmaction'], allow_failed_imports=False)
# checkpoints selected on top-1 accuracy, the best one linked as
# work_dir/best.pth (what tools/sweep.py tests)
default_hooks = dict(checkpoint=dict(save_best='acc/top1'))
custom_hooks = [dict(type='BestCheckpointLinkHook')]

data_root = 'data/my_videos/'
num_classes = 10
# the priors tools/sweep.py --priors can pick (each holds what it reads)
priors = dict(
    uniform=dict(kind='uniform'),
    gl=dict(
        kind='gl',
        class_names=data_root + 'classes.txt',
        glove='glove-wiki-gigaword-300'))  # or a local glove.6B.300d.txt

model = dict(
    cls_head=dict(
        num_classes=num_classes,
        loss_cls=dict(
            type='PriorSmoothedCrossEntropyLoss',
            alpha=0.2,
            prior=priors['gl'],
            num_classes=num_classes)))

train_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'train_list.txt',
        data_prefix=dict(video=data_root + 'videos')))
val_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root + 'videos')))
test_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root + 'videos')))
