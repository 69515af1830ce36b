"""docs/tools.md is what tools/generate_tools_reference.py writes, and it
has a section for every tool."""
import glob
import os.path as osp

import pytest

from ..conftest import ROOT, load_tool


@pytest.fixture(scope='module')
def tool():
    """The generator, its tools' sections taken once (every tool's --help,
    in this process) for all the tests here."""
    module = load_tool(osp.join(ROOT, 'tools', 'generate_tools_reference.py'))
    sections = module.sections()
    module.sections = lambda: sections
    return module


def test_docs_tools_md_is_the_generators_output(tool, capsys):
    try:
        tool.main(['--check'])
    except SystemExit:
        pytest.fail(capsys.readouterr().out)
    assert 'docs/tools.md up to date' in capsys.readouterr().out


def test_every_tool_has_a_section(tool):
    tools = sorted(
        f'tools/{osp.basename(p)}'
        for p in glob.glob(osp.join(ROOT, 'tools', '*.py'))
        + glob.glob(osp.join(ROOT, 'tools', '*.sh'))
        if osp.basename(p) != 'launcher_args.sh')
    sections = tool.sections()
    assert sorted(sections) == tools
    for title, section in sections.items():
        assert section.startswith(f'## {title}\n\n')
        assert '```text\n' in section  # the help or the usage comment
        if title.endswith('.py'):
            assert f'usage: {osp.basename(title)} ' in section


def test_check_names_the_file_and_the_first_differing_tool(
        tool, tmp_path, capsys):
    sections = tool.sections()
    old = sections['tools/sweep.py']
    stale = tmp_path / 'tools.md'
    stale.write_text(tool.render(sections).replace(
        old, old.replace('usage:', 'usage (old):')))
    with pytest.raises(SystemExit) as e:
        tool.main(['--check', '--out', str(stale)])
    out = capsys.readouterr().out
    assert e.value.code == 1
    assert 'tools.md differs' in out and 'tools/sweep.py' in out
    # only the header differs; the file is missing
    stale.write_text('old title\n' + tool.render(sections))
    assert tool.first_difference(sections, stale.read_text()) == 'the header'
    with pytest.raises(SystemExit):
        tool.main(['--check', '--out', str(tmp_path / 'missing.md')])
    assert 'it is missing' in capsys.readouterr().out
