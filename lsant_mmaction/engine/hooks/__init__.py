from .best_checkpoint_link_hook import BestCheckpointLinkHook

__all__ = ['BestCheckpointLinkHook']
