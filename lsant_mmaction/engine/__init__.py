from .hooks import BestCheckpointLinkHook

__all__ = ['BestCheckpointLinkHook']
