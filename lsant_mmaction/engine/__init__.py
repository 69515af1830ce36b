from .hooks import BestCheckpointLinkHook, RandomStateHook, TimeGridCheckHook

__all__ = ['BestCheckpointLinkHook', 'RandomStateHook', 'TimeGridCheckHook']
