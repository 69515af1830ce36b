# AVT-h on EK100 (facebookresearch/AVT, expts/02_ek100_avt_tsn.txt, conf/):
# SGD with Nesterov momentum 0.9, weight decay 1e-6, lr 1e-3 per GPU of 64
# samples on 2 GPUs (AVT scales the lr by the GPUs): 2e-3 at batch 128; a
# linear warm-up from (almost) 0 over 20 epochs, then cosine annealing to 0
# over the last 30; 50 epochs, the lr stepped every iteration.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=2e-3, momentum=0.9, nesterov=True, weight_decay=1e-6))
param_scheduler = [
    # mmengine's LinearLR needs a start factor above 0
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=30, eta_min=0.0, by_epoch=True,
         begin=20, end=50, convert_to_iter_based=True)
]
auto_scale_lr = dict(enable=False, base_batch_size=128)
