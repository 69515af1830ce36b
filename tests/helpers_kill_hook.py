"""A test-only hook that kills its own process (``SIGKILL``, as ``kill -9``)
at a chosen point of training, given by ``LSANT_KILL_AT=EPOCH:ITER``
(1-based epoch, 0-based iteration inside it; ``EPOCH:val`` kills during the
validation after that epoch). Without the variable it does nothing."""
import os
import signal

from mmengine.hooks import Hook

from mmaction.registry import HOOKS


def _target():
    spec = os.environ.get('LSANT_KILL_AT')
    if not spec:
        return None
    epoch, where = spec.split(':')
    return int(epoch), where


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """Kill the process at ``LSANT_KILL_AT`` (see the module docstring)."""
    priority = 'HIGHEST'

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        target = _target()
        if target and target == (runner.epoch + 1, str(batch_idx)):
            os.kill(os.getpid(), signal.SIGKILL)

    def before_val_iter(self, runner, batch_idx, data_batch=None):
        target = _target()
        # runner.epoch has already moved on to the next epoch here
        if target and target == (runner.epoch, 'val'):
            os.kill(os.getpid(), signal.SIGKILL)
