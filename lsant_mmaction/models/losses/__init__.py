from .prior_smoothed_cross_entropy_loss import (PriorSmoothedCrossEntropyLoss,
                                                check_prior_smoothing)

__all__ = ['PriorSmoothedCrossEntropyLoss', 'check_prior_smoothing']
