import io
import random
from types import SimpleNamespace
from unittest import mock

import numpy as np
import torch

import lsant_mmaction  # noqa: F401
from lsant_mmaction.engine.hooks.random_state_hook import (
    CHECKPOINT_KEY, RandomStateHook, get_random_state, set_random_state)


def draws():
    return (torch.rand(3).tolist(), np.random.rand(3).tolist(),
            [random.random() for _ in range(3)], np.random.randn())


def test_state_round_trip_through_a_weights_only_checkpoint():
    np.random.randn()  # leave a cached gaussian in numpy's state
    state = get_random_state()
    buffer = io.BytesIO()
    torch.save({CHECKPOINT_KEY: [state]}, buffer)
    expected = draws()
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)[CHECKPOINT_KEY][0]
    set_random_state(loaded)
    assert draws() == expected


def fake_runner(iteration, epoch=1, persistent=False):
    return SimpleNamespace(
        iter=iteration, epoch=epoch, logger=mock.Mock(),
        train_dataloader=SimpleNamespace(
            persistent_workers=persistent, num_workers=int(persistent)))


def test_saved_states_come_back_at_the_next_epoch():
    hook = RandomStateHook()
    runner = fake_runner(5)
    hook.after_train_epoch(runner)  # end of epoch 1
    expected = draws()
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert len(checkpoint[CHECKPOINT_KEY]) == 1
    draws()  # validation and a resumed run's set-up draw too
    resumed = RandomStateHook()
    resumed.after_load_checkpoint(runner, checkpoint)
    resumed.before_train(runner)
    resumed.before_train_epoch(runner)
    assert draws() == expected
    runner.logger.warning.assert_not_called()


def test_persistent_workers_get_the_state_again_at_the_first_iteration():
    hook = RandomStateHook()
    runner = fake_runner(5, persistent=True)
    hook.after_train_epoch(runner)
    expected = draws()
    hook.before_train_epoch(runner)
    torch.empty((), dtype=torch.int64).random_()  # a new iterator's seed
    hook.before_train_iter(runner, 0)
    assert draws() == expected
    hook.before_train_iter(runner, 1)  # only once per epoch
    assert draws() != expected


def test_resuming_without_states_warns_once():
    hook = RandomStateHook()
    runner = fake_runner(5)
    hook.after_load_checkpoint(runner, {'meta': {}})
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    hook.before_train_iter(runner, 0)
    runner.logger.warning.assert_called_once()
    message = runner.logger.warning.call_args[0][0]
    assert 'no random number generator states' in message
    assert 'will not end exactly where an uninterrupted run would' in message


def test_loading_weights_for_a_new_run_changes_nothing():
    hook = RandomStateHook()
    runner = fake_runner(0, epoch=0)  # load_from: a new run
    hook.after_load_checkpoint(runner, {'meta': {}})
    hook.before_train(runner)
    expected = draws()
    hook.before_train_epoch(runner)
    assert draws() != expected
    runner.logger.warning.assert_not_called()
