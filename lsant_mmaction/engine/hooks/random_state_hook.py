"""Random number generator states in checkpoints, for an exact resume."""
import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook

from mmaction.registry import HOOKS

#: Key of the checkpoint dict that holds the states (one entry per rank).
CHECKPOINT_KEY = 'random_states'

_MISSING = object()


def get_random_state() -> dict:
    """The states of the global generators of Python, numpy and torch (and
    CUDA when present), and the process's CPU thread count (it sets the
    order of floating-point sums), as plain data that
    ``torch.load(weights_only=True)`` reads back."""
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(
            name=name,
            keys=[int(k) for k in keys],
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state(),
        cuda=None,
        num_threads=torch.get_num_threads())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Restore what :func:`get_random_state` returned."""
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    np_state = state['numpy']
    np.random.set_state(
        (np_state['name'], np.asarray(np_state['keys'], dtype=np.uint32),
         np_state['pos'], np_state['has_gauss'],
         np_state['cached_gaussian']))
    # mmengine resumes with map_location=<device>: generators want CPU bytes
    torch.set_rng_state(state['torch'].cpu())
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available():
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
        else:  # another machine: at least this process's device
            torch.cuda.set_rng_state(cuda[0].cpu())


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the random number generator states with every checkpoint and
    restore them on resume, so that a resumed run ends exactly where the
    uninterrupted run would (with the same seed, in deterministic mode).

    mmengine's checkpoints hold the weights, the optimizer, the schedulers
    and the seed, but not the state of the global generators that dropout
    (torch) and data pipelines (numpy, Python) draw from. This hook:

    * captures the state of every rank at the end of each training epoch
      (``after_train_epoch``, before ``CheckpointHook`` saves);
    * writes it into the checkpoint under :data:`CHECKPOINT_KEY`, one entry
      per rank (a best checkpoint saved after validation gets the same
      end-of-epoch state);
    * restores it when a run resumes;
    * re-applies it at the start of the next epoch, in every run. The
      validation that follows an epoch draws from the global torch generator
      too (each DataLoader iterator draws a base seed), so without this the
      uninterrupted run (which validated between the checkpoint and the next
      epoch) and the resumed run (which did not) would diverge. With
      persistent worker processes the resumed run starts its workers at the
      first batch of the epoch (one more draw than the uninterrupted run,
      whose workers live on), so the state is applied once more before the
      first iteration.

    Checkpoints saved inside an epoch (by iteration) carry the current state
    when training runs in one process and none otherwise. Resuming from a
    checkpoint without states (older runs) logs one warning and continues
    from the freshly seeded generators.

    Worker processes keep their own generators: with persistent workers,
    random augmentations inside the workers restart their sequence at the
    resumed epoch (the feature pipelines draw nothing).
    """
    # after_train_epoch before CheckpointHook (VERY_LOW); before_train_epoch
    # after the NORMAL hooks (DistSamplerSeedHook sets the sampler's epoch)
    priority = 'LOW'

    def __init__(self) -> None:
        self._states: Optional[List[dict]] = None
        self._captured_iter: Optional[int] = None
        self._loaded = None
        self._apply_at_first_iter = False

    # saving
    def after_train_epoch(self, runner) -> None:
        # a collective call: every rank reaches after_train_epoch
        self._states = all_gather_object(get_random_state())
        self._captured_iter = runner.iter

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._captured_iter == runner.iter:
            checkpoint[CHECKPOINT_KEY] = self._states
        elif get_world_size() == 1:
            checkpoint[CHECKPOINT_KEY] = [get_random_state()]

    # resuming
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._loaded = checkpoint.get(CHECKPOINT_KEY, _MISSING)

    def before_train(self, runner) -> None:
        loaded, self._loaded = self._loaded, None
        if runner.iter == 0:  # a new run (load_from weights, or nothing)
            return
        if loaded is _MISSING or not loaded:
            runner.logger.warning(
                f'The checkpoint resumed at epoch {runner.epoch}, iter '
                f'{runner.iter} holds no random number generator states '
                f'(no "{CHECKPOINT_KEY}": saved without RandomStateHook): '
                'training continues from freshly seeded generators, so it '
                'will not end exactly where an uninterrupted run would.')
            return
        if len(loaded) != get_world_size():
            runner.logger.warning(
                f'The resumed checkpoint holds the random states of '
                f'{len(loaded)} processes and this run has '
                f'{get_world_size()}: it will not end exactly where the '
                'uninterrupted run would.')
        self._states = loaded
        self._captured_iter = runner.iter
        self._match_threads(runner, loaded[get_rank() % len(loaded)])

    @staticmethod
    def _match_threads(runner, state: dict) -> None:
        """Resume with the CPU thread count of the run that saved the
        checkpoint: another count sums in another order (weights about 1e-8
        apart after a few epochs). In deterministic mode the count is set;
        otherwise a warning says so."""
        saved, now = state.get('num_threads'), torch.get_num_threads()
        if saved is None or saved == now:
            return
        if (runner.cfg.get('randomness') or {}).get('deterministic'):
            torch.set_num_threads(saved)
            runner.logger.info(
                f'Resumed with the {saved} CPU threads of the checkpoint\'s '
                f'run (this process had {now}), so that it ends exactly '
                'where the uninterrupted run would (deterministic mode).')
        else:
            runner.logger.warning(
                f'The checkpoint was saved by a run with {saved} CPU threads '
                f'and this one has {now}: sums run in another order, so it '
                'will not end bit-identical to the uninterrupted run '
                '(--deterministic uses the checkpoint\'s count).')

    def before_train_epoch(self, runner) -> None:
        if self._states is None:
            return
        self._apply()
        loader = runner.train_dataloader
        self._apply_at_first_iter = bool(
            getattr(loader, 'persistent_workers', False)
            and getattr(loader, 'num_workers', 0) > 0)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        if self._apply_at_first_iter:
            self._apply_at_first_iter = False
            self._apply()

    def _apply(self) -> None:
        states = self._states
        set_random_state(states[get_rank() % len(states)])
