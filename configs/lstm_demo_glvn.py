# LSTM baseline on the embedded demo data (tools/make_demo_data.py), GL+VN
# prior from the GloVe vectors shipped with the package. A few minutes on
# 2 CPU cores.
_base_ = [
    '_base_/models/lstm_anticipator.py', '_base_/datasets/demo_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

# the prior and alpha: choose a key of `priors` (uniform, vn, te, gl, glvn)
# or give a full build spec / a .npy path; alpha=0 is plain cross-entropy
model = dict(
    cls_head=dict(
        num_classes=65,
        in_channels=128 + 128 + 20,
        loss_cls=dict(
            alpha=0.5, prior={{_base_.priors.glvn}}, num_classes=65)))

train_cfg = dict(max_epochs=15)
default_hooks = dict(logger=dict(interval=10))
