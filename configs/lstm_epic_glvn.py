# LSTM baseline on EK55 features (rgb + flow + obj concatenated), GL+VN prior.
_base_ = [
    '_base_/models/lstm_anticipator.py', '_base_/datasets/epic55_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

# the prior and alpha: choose a key of `priors` (uniform, vn, te, gl, glvn)
# or give a full build spec / a .npy path; alpha=0 is plain cross-entropy
model = dict(
    cls_head=dict(
        loss_cls=dict(
            alpha=0.5, prior={{_base_.priors.glvn}}, num_classes=2513)))
