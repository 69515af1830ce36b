"""tools/make_demo_data.py: the transition structure of the two versions."""
import os.path as osp

import numpy as np

from ..conftest import ROOT, load_tool

TOOL = osp.join(ROOT, 'tools', 'make_demo_data.py')


def test_habits_are_the_only_successors_sharing_nothing():
    demo = load_tool(TOOL)
    pairs = demo.vocabulary()
    shares = (pairs[:, None, 0] == pairs[None, :, 0]) | \
        (pairs[:, None, 1] == pairs[None, :, 1])
    np.fill_diagonal(shares, False)
    for habits in (0, 3):
        trans = demo.transition_matrix(pairs, np.random.default_rng(0),
                                       habits)
        np.testing.assert_allclose(trans.sum(1), 1.0, rtol=1e-12)
        # mass on successors sharing neither verb nor noun (nor itself)
        weights = trans / trans.min(1, keepdims=True)  # base weight = 1
        unrelated = np.where(shares | np.eye(len(pairs), dtype=bool), 0.0,
                             weights)
        boosted = (unrelated > 1.5).sum(1)
        if habits == 0:
            # every likely successor shares the verb or the noun
            assert boosted.max() == 0
            # what is left is the small base weight of every pair (on
            # average 11 % of the mass; 43 % with the 3 habits)
            assert (trans * ~shares).sum(1).mean() < 0.15
        else:
            # up to 3 favourites each, among all actions (some share)
            assert boosted.max() <= 3 and boosted.sum() > len(pairs)
            assert (trans * ~shares).sum(1).mean() > 0.35
