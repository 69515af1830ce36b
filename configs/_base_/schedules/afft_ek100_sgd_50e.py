# AFFT on EK100 (zeyun-zhong/AFFT, expts/01_SA-Fuser_ek100_train.txt, conf/):
# SGD with Nesterov momentum 0.9, lr 1e-3 (not scaled with the GPUs),
# weight decay 1e-6; a linear warm-up from 1 % of the lr over 20 epochs,
# then cosine annealing over the last 30 to 2e-6 (its 1e-6 times its 2
# GPUs); 50 epochs, the lr stepped every iteration. Batch 16 per GPU on 2
# GPUs: the configs set 32.
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
    dict(type='CosineAnnealingLR', T_max=30, eta_min=2e-6, by_epoch=True,
         begin=20, end=50, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=32)
