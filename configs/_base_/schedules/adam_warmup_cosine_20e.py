# AVT-h on EK55 (its expts/08_ek55_avt_tsn.txt): Adam, lr 5e-6, weight
# decay 1e-4; a linear warm-up from 1 % of the lr over 5 epochs, then
# cosine annealing to 1e-6 over the last 15; 20 epochs, the lr stepped every
# iteration. Official batch: 32 per GPU on 4 GPUs.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=20, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='Adam', lr=5e-6, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=15, eta_min=1e-6, by_epoch=True,
         begin=5, end=20, convert_to_iter_based=True)
]

auto_scale_lr = dict(enable=False, base_batch_size=128)
