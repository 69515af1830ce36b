# RU-LSTM recipe: SGD, lr 0.01, momentum 0.9, 100 epochs, no schedule.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=100, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0))
param_scheduler = []

# lr is given for batch 128 on one device
auto_scale_lr = dict(enable=False, base_batch_size=128)
