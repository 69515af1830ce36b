from .per_step_backbone import PerStepBackbone

__all__ = ['PerStepBackbone']
