"""A stable name for the best checkpoint of a run."""
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmaction.registry import HOOKS


@HOOKS.register_module()
class BestCheckpointLinkHook(Hook):
    """Keep ``{work_dir}/best.pth`` pointing at the best checkpoint.

    mmengine names the best checkpoint after its metric and epoch
    (``best_anticipation_action_top5@1.00s_epoch_37.pth``); the next stage of
    a recipe (fine-tuning after pre-training, fusion after the branches)
    needs a name it can write in its config. After each validation this hook
    points a relative symbolic link ``best.pth`` at the checkpoint that
    ``CheckpointHook`` recorded as best.

    Args:
        link_name (str): Name of the link in the work dir. Defaults to
            ``'best.pth'``.
    """
    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW) saved the best

    def __init__(self, link_name: str = 'best.pth') -> None:
        self.link_name = link_name

    def after_val_epoch(self, runner, metrics=None) -> None:
        best = runner.message_hub.get_info('best_ckpt')
        if not best or not is_main_process():
            return
        link = osp.join(runner.work_dir, self.link_name)
        target = osp.relpath(best, runner.work_dir)
        if osp.islink(link) and os.readlink(link) == target:
            return
        tmp = link + '.tmp'
        if osp.lexists(tmp):
            os.remove(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, link)  # atomic: the link is never missing
