"""Check, before the first batch, that the head and the dataset agree on
the anticipation steps."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmaction.registry import HOOKS


@HOOKS.register_module()
class TimeGridCheckHook(Hook):
    """Fail when the head's number of output steps differs from the
    anticipation steps of the dataset's time grid.

    The dataset owns the grid (``metainfo['anticipation']['grid']``); the
    head's ``num_anticipation_steps`` must match it, or every output would
    be reported under another anticipation time. Checked before training,
    validation and testing, with an error that names both settings.
    """
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_loop.dataloader, 'train_dataloader')

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_loop.dataloader, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_loop.dataloader, 'test_dataloader')

    @staticmethod
    def _check(runner, dataloader, name: str) -> None:
        meta = getattr(dataloader.dataset, 'metainfo', {}).get('anticipation')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        steps = getattr(getattr(model, 'cls_head', None),
                        'num_anticipation_steps', None)
        if meta is None or steps is None:
            return
        grid = meta['grid']
        if steps != grid['num_anticipation_steps']:
            raise ValueError(
                f'the head predicts {steps} anticipation steps '
                f'(model.cls_head.num_anticipation_steps) but the time grid '
                f'of {name}.dataset has num_anticipation_steps='
                f'{grid["num_anticipation_steps"]} ({grid}); set both to the '
                'same value')
