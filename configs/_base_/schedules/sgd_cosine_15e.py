# AVT-h on EGTEA Gaze+ (its expts/11_egtea_avt_tsn.txt): SGD with Nesterov
# momentum 0.9, lr 1e-3, weight decay 1e-6, cosine annealing to 1e-6 over
# 15 epochs (no warm-up), stepped every iteration. Official batch: 64 per
# GPU on 2 GPUs.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=15, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-6))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=15, eta_min=1e-6, by_epoch=True,
         begin=0, end=15, convert_to_iter_based=True)
]

auto_scale_lr = dict(enable=False, base_batch_size=128)
