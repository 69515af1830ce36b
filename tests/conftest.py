import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.registry import init_default_scope

import lsant_mmaction  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED_DATA = osp.join(ROOT, '..', 'shared', 'data')

# build transforms and models in mmaction's registries, as configs do
init_default_scope('mmaction')


def load_tool(path):
    """A ``tools/*.py`` script as a module (for its functions)."""
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_tool(args, cwd=None, env=None, timeout=600):
    """Run ``python tools/...`` and fail with its output when it fails."""
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f'{args} failed ({proc.returncode}):\n'
                    f'{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}')
    return proc


@pytest.fixture(scope='session')
def shared_data():
    """The real annotation files beside the checkout (skipped when absent)."""
    if not osp.isdir(SHARED_DATA):
        pytest.skip('../shared/data not present')
    return SHARED_DATA


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory):
    """A tiny demo dataset in ``<tmp>/data/demo`` (the demo config's path)."""
    workdir = tmp_path_factory.mktemp('demo')
    run_tool([
        osp.join(ROOT, 'tools', 'make_demo_data.py'), '--out', 'data/demo',
        '--train-videos', '3', '--val-videos', '1', '--segments-per-video',
        '12'
    ], cwd=workdir)
    return str(workdir)


@pytest.fixture(autouse=True)
def prior_cache(tmp_path_factory, monkeypatch):
    """Keep built priors out of the user's cache."""
    cache = tmp_path_factory.getbasetemp() / 'prior-cache'
    monkeypatch.setenv('LSANT_MMACTION_CACHE', str(cache))
    return cache
