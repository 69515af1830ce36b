# The smallest experiment on your own dataset: the LSTM baseline over every
# modality of configs/_base_/datasets/custom_features.py (copy and edit that
# base), GL+VN prior, alpha 0.5. For RU-LSTM use _base_/models/
# rulstm_anticipator.py (one modality) as the rulstm_epic_* configs do.
_base_ = [
    '_base_/models/lstm_anticipator.py',
    '_base_/datasets/custom_features.py',
    '_base_/schedules/sgd_100e.py', '_base_/default_runtime.py'
]

model = dict(
    modalities={{_base_.modalities}},
    cls_head=dict(
        num_classes={{_base_.num_classes}},
        in_channels=1024,  # the sum of the base's feature_dims
        loss_cls=dict(
            alpha=0.5,
            prior={{_base_.priors.glvn}},
            num_classes={{_base_.num_classes}})))
