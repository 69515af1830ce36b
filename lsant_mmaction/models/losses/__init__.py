from .prior_smoothed_cross_entropy_loss import PriorSmoothedCrossEntropyLoss

__all__ = ['PriorSmoothedCrossEntropyLoss']
