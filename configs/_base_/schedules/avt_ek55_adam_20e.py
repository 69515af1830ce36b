# AVT-h on EK55 (facebookresearch/AVT, expts/08_ek55_avt_tsn.txt, conf/):
# Adam, weight decay 1e-4, lr 5e-6 per GPU of 32 samples on 4 GPUs (AVT
# scales the lr by the GPUs): 2e-5 at batch 128; a linear warm-up from
# (almost) 0 over 5 epochs, then cosine annealing to 0 over the last 15;
# 20 epochs, the lr stepped every iteration.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=20, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-5, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=15, eta_min=0.0, by_epoch=True,
         begin=5, end=20, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
