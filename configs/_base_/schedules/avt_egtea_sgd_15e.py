# AVT-h on EGTEA Gaze+ (facebookresearch/AVT, expts/11_egtea_avt_tsn.txt,
# conf/): SGD with Nesterov momentum 0.9, weight decay 1e-6, lr 1e-3 per
# GPU of 64 samples on 2 GPUs (AVT scales the lr by the GPUs): 2e-3 at
# batch 128; cosine annealing to 0 over 15 epochs, no warm-up, the lr
# stepped every iteration.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=15, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=2e-3, momentum=0.9, nesterov=True, weight_decay=1e-6))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=15, eta_min=0.0, by_epoch=True,
         begin=0, end=15, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
