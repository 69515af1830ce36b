# AVT-h and AFFT on EK100 (their expts/02_ek100_avt_tsn.txt and
# 01_SA-Fuser_ek100_train.txt): SGD with Nesterov momentum 0.9, lr 1e-3,
# weight decay 1e-6; a linear warm-up from 1 % of the lr over 20 epochs,
# then cosine annealing to 1e-6 over the last 30; 50 epochs. Both step the
# lr every iteration.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-6))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=30, eta_min=1e-6, by_epoch=True,
         begin=20, end=50, convert_to_iter_based=True)
]

# the official batch: 64 per GPU on 2 GPUs (AVT-h), 16 on 2 (AFFT); the
# configs state theirs
auto_scale_lr = dict(enable=False, base_batch_size=128)
