from .best_checkpoint_link_hook import BestCheckpointLinkHook
from .random_state_hook import RandomStateHook
from .time_grid_check_hook import TimeGridCheckHook

__all__ = ['BestCheckpointLinkHook', 'RandomStateHook', 'TimeGridCheckHook']
