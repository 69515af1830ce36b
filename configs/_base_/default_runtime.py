default_scope = 'mmaction'
custom_imports = dict(imports=['lsant_mmaction'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # RU-LSTM selects the epoch with the best top-5 action accuracy at 1 s
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=2,
        save_best='anticipation/action_top5@1.00s',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))

custom_hooks = [
    # work_dir/best.pth -> the best checkpoint, for the next stage of a recipe
    dict(type='BestCheckpointLinkHook'),
    # random generator states in every checkpoint: --resume ends exactly
    # where the uninterrupted run would
    dict(type='RandomStateHook'),
    # the head's output steps must be the anticipation steps of the
    # dataset's time grid
    dict(type='TimeGridCheckHook'),
]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # gloo is chosen automatically on CPU

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
