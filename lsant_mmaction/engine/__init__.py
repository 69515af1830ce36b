from .hooks import BestCheckpointLinkHook, RandomStateHook, TimeGridCheckHook
from .optim_wrappers import CPUAmpOptimWrapper

__all__ = [
    'BestCheckpointLinkHook', 'CPUAmpOptimWrapper', 'RandomStateHook',
    'TimeGridCheckHook'
]
