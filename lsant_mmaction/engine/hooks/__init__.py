from .best_checkpoint_link_hook import BestCheckpointLinkHook
from .random_state_hook import RandomStateHook

__all__ = ['BestCheckpointLinkHook', 'RandomStateHook']
