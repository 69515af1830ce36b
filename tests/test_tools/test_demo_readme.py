"""The README's demo table is what command 1 prints: ``bash tools/demo.sh``
is run as the README says (seeded, deterministic on the CPU) and its
table compared with the README's, character for character."""
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from ..conftest import ROOT

README = osp.join(ROOT, 'README.md')
BEGIN = '<!-- demo-table: begin -->'
END = '<!-- demo-table: end -->'


def readme_table() -> str:
    """The table between the README's demo-table markers."""
    text = open(README, encoding='utf-8').read()
    match = re.search(re.escape(BEGIN) + r'\n```\n(.*?)```\n' + re.escape(END),
                      text, re.S)
    assert match, f'{README}: no demo table between {BEGIN} and {END}'
    return match.group(1)


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory):
    """Command 1's demo part, in a folder of its own (DEMO_DIR), with the
    thread count of the machine the README's table was made on."""
    folder = tmp_path_factory.mktemp('demo_sh')
    env = dict(os.environ, DEMO_DIR=str(folder), PYTHON=sys.executable,
               OMP_NUM_THREADS='2')
    env.pop('MKL_NUM_THREADS', None)
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', 'demo.sh')],
                          env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return folder, proc.stdout


def test_readme_demo_table_is_what_the_demo_prints(demo_run):
    folder, stdout = demo_run
    written = open(osp.join(folder, 'work_dirs', 'lstm_demo_glvn', 'test',
                            'results.md')).read()
    assert written in stdout  # the file holds exactly what was printed
    assert written.startswith('Anticipation results (%) on 318 segments\n')
    assert written == readme_table(), (
        'README.md\'s demo table differs from what `bash tools/demo.sh` '
        f'printed; paste the new table:\n{written}')
