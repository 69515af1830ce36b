"""The documentation's links and the repository paths it names exist.

Pages: README.md, BENCHMARKS.md and docs/*.md. Every relative link and
image points at an existing file (relative to the page's folder) and every
``#anchor`` into a markdown page at one of its headings. Every repository
path in a code span or a fenced code block (``configs/``, ``tools/``, ...)
exists, its placeholders expanded, and so does every config named by its
file name alone (``rulstm_epic_P_M.py``). The tools and the benchmarks'
scripts are read for the ``configs/...py`` they name, too.
"""
import glob
import os
import os.path as osp
import re
from urllib.parse import unquote

import pytest

from .conftest import ROOT

PAGES = sorted(['README.md', 'BENCHMARKS.md'] + [
    osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'docs', '*.md'))])
# scripts whose text names configs (as the old README check read them)
SCRIPTS = sorted(
    osp.relpath(p, ROOT) for p in
    glob.glob(osp.join(ROOT, 'tools', '*')) +
    glob.glob(osp.join(ROOT, 'benchmarks', '*.py')) if osp.isfile(p))
PREFIXES = ('configs/', 'tools/', 'benchmarks/', 'docs/', 'lsant_mmaction/',
            'tests/', 'requirements/', '.ci/')
PRIORS = ('onehot', 'uniform', 'te', 'vn', 'gl', 'glvn')
MODALITIES = ('rgb', 'flow', 'obj')

FENCE = re.compile(r'^\s*(`{3,}|~{3,})')  # indented too (in lists)
# a code span: within a paragraph (no blank line)
CODE_SPAN = re.compile(r'(?<!`)(`+)(?!`)((?:(?!\n\s*\n).)+?)(?<!`)\1(?!`)',
                       re.S)
LINK = re.compile(r'!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]*)>?'
                  r'(?:\s+"[^"]*")?\s*\)')
REF_LINK = re.compile(r'^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)', re.M)
HTML_LINK = re.compile(r'\b(?:href|src)="([^"]*)"')
HTML_ANCHOR = re.compile(r'<a\s[^>]*\b(?:name|id)="([^"]+)"')
HEADING = re.compile(r'^ {0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$')
# a repository path: one of PREFIXES at the start of a word, up to a space,
# a quote, a bracket or a pipe
PATH = re.compile(r'(?<![\w./$~-])(?:%s)[^\s\'"`()\[\]|;<>\\]*'
                  r'(?:<[^\s>]*>[^\s\'"`()\[\]|;\\]*)?' %
                  '|'.join(re.escape(p) for p in PREFIXES))
# a config named by its file name alone, in a code span
CONFIG_NAME = re.compile(
    r'(?<![\w/.$-])(?:lstm|rulstm|avt|afft)_[a-zA-Z0-9_{},$]+\.py\b')
# the configs/...py a tool or a benchmark names (e.g. "$ROOT/configs/x.py")
SCRIPT_CONFIG = re.compile(r'configs/[A-Za-z0-9_${},/.-]+?\.py\b')
BRACES = re.compile(r'\{([^{}]*,[^{}]*)\}')  # a shell brace list {a,b,}
PLACEHOLDERS = (  # (pattern, values, is it a modality)
    (re.compile(r'\$\{prior\}'), PRIORS, False),
    (re.compile(r'\$\{m\}'), MODALITIES, True),
    (re.compile(r'(?<![^_/])P(?![^_./])'), PRIORS, False),
    (re.compile(r'(?<![^_/])M(?![^_./])'), MODALITIES, True))


def split_code(text):
    """``(prose, code)``: the page without its fenced blocks, and the text
    of those blocks (line structure kept in both)."""
    prose, code, fence = [], [], None
    for line in text.split('\n'):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            prose.append('')
        elif fence is not None:
            if (match and match.group(1)[0] == fence[0]
                    and len(match.group(1)) >= len(fence)
                    and not line.strip()[len(match.group(1)):].strip()):
                fence = None
            else:
                code.append(line)
            prose.append('')
        else:
            prose.append(line)
    return '\n'.join(prose), '\n'.join(code)


def code_spans(prose):
    return [m.group(2) for m in CODE_SPAN.finditer(prose)]


def slug(heading):
    """GitHub's anchor of a heading: its text (markup dropped) lowercased,
    punctuation other than ``-`` and ``_`` dropped, spaces to ``-``."""
    text = re.sub(r'!?\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # links
    text = re.sub(r'<[^>]+>', '', text).replace('`', '').replace('*', '')
    return ''.join(c for c in text.lower().strip()
                   if c.isalnum() or c in '-_ ').replace(' ', '-')


def anchors(text):
    """The anchors of a markdown page (duplicates numbered as GitHub does:
    ``x``, ``x-1``, ...), and its explicit ``<a name=...>``."""
    prose, _ = split_code(text)
    found, seen = set(), {}
    for line in prose.split('\n'):
        match = HEADING.match(line)
        if match:
            base = slug(match.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f'{base}-{n}')
    found.update(HTML_ANCHOR.findall(prose))
    return found


def links(text):
    """The link and image targets of a page, outside code."""
    prose, _ = split_code(text)
    prose = CODE_SPAN.sub('code', prose)
    return (LINK.findall(prose) + REF_LINK.findall(prose) +
            HTML_LINK.findall(prose))


def bad_links(page, text):
    """``[(page, target)]`` of the relative links of ``text`` (the page
    ``page``, relative to ROOT) whose file or anchor is not there."""
    bad = []
    for target in links(text):
        if re.match(r'(https?|mailto|ftp):', target) or not target:
            continue
        path, _, anchor = unquote(target).partition('#')
        if not path:  # an anchor of this page
            if anchor not in anchors(text):
                bad.append((page, target))
            continue
        full = osp.normpath(osp.join(ROOT, osp.dirname(page), path))
        if not osp.exists(full):
            bad.append((page, target))
        elif anchor and full.endswith('.md') and anchor not in anchors(
                read(full)):
            bad.append((page, target))
    return bad


def brace_expand(token):
    """Bash's brace expansion of the (not nested) lists ``{a,b,}``."""
    match = BRACES.search(token)
    if not match:
        return [token]
    return [name for alt in match.group(1).split(',') for name in
            brace_expand(token[:match.start()] + alt + token[match.end():])]


def expand(token):
    """``[(path, via_modality)]``: ``token`` with its shell brace lists, P
    (prior), M (modality), ``${prior}`` and ``${m}`` expanded."""
    names = [(name, False) for name in brace_expand(token)]
    for pattern, values, modality in PLACEHOLDERS:
        names = [(pattern.sub(v, n), mod or modality) if pattern.search(n)
                 else (n, mod) for n, mod in names for v in values]
        names = list(dict.fromkeys(names))
    return names


NAME_PART = re.compile(r'[/_.,=:-]+')


def uppercase_names():
    """The all-uppercase name parts of the repository's files (README,
    LICENSE, EPIC, ...): such a part is a file's, any other a placeholder
    (CFG, DIR, NAME)."""
    names = set()
    for top in ('',) + PREFIXES:
        for _, dirs, files in os.walk(osp.join(ROOT, top)):
            if not top:
                dirs[:] = []
            names.update(part for f in files for part in NAME_PART.split(f))
    return {n for n in names if n.isupper()}


UPPERCASE = uppercase_names()


def is_placeholder(token):
    """Tokens that name no particular file: globs, ``<...>``, ``...``,
    uppercase argument names (``CFG``, ``DIR``; P and M are expanded) and
    what expansion left unexpanded (``{model}``, ``$ROOT``)."""
    if any(s in token for s in ('*', '<', '...', '{', '}', '$')):
        return True
    return any(part.isupper() and part not in UPPERCASE
               for part in NAME_PART.split(token))


def named_paths(text):
    """The repository paths of a page: ``[(token, path, via_modality)]``,
    ``path`` relative to ROOT, from its code spans and fenced blocks, and
    the configs its code spans name without ``configs/``."""
    prose, code = split_code(text)
    spans = code_spans(prose)
    out = []
    for chunk in spans + [code]:
        for token in PATH.findall(chunk):
            token = token.rstrip('.,:;')
            out.extend(resolve(token, lambda p: p))
    for chunk in spans:
        for token in CONFIG_NAME.findall(chunk):
            out.extend(resolve(token, config_path))
    return out


def resolve(token, locate):
    """``[(token, path, via_modality)]`` of one token's expansions, none
    for a placeholder."""
    return [(token, locate(path), mod) for path, mod in expand(token)
            if not is_placeholder(path)]


def config_path(name):
    """``configs/.../name`` if a config of that name exists, else
    ``configs/name`` (reported missing)."""
    found = glob.glob(osp.join(ROOT, 'configs', '**', name), recursive=True)
    return osp.relpath(found[0], ROOT) if found else f'configs/{name}'


def missing(source, named):
    """``[(source, token)]`` of the named paths that do not exist (EGTEA has
    no obj modality: its expansions to one are not required)."""
    out = []
    for token, path, via_modality in named:
        if via_modality and re.search(r'rulstm_egtea_.*_obj', path):
            continue
        if not osp.exists(osp.join(ROOT, path.rstrip('/'))):
            out.append((source, token if token == path
                        else f'{token} (as {path})'))
    return sorted(set(out))


def read(path):
    with open(osp.join(ROOT, path)) as f:
        return f.read()


@pytest.mark.parametrize('page', PAGES)
def test_links_point_at_files_and_headings(page):
    bad = bad_links(page, read(page))
    assert not bad, f'links to no file or heading: {bad}'


@pytest.mark.parametrize('page', PAGES)
def test_the_paths_a_page_names_exist(page):
    bad = missing(page, named_paths(read(page)))
    assert not bad, f'paths that do not exist: {bad}'


def script_paths(text):
    return [named for token in SCRIPT_CONFIG.findall(text)
            for named in resolve(token, lambda p: p)]


def test_the_configs_the_tools_and_benchmarks_name_exist():
    named = {script: script_paths(read(script)) for script in SCRIPTS}
    assert sum(map(len, named.values())) > 10  # demo.sh, sweep.py, ...
    bad = [pair for script, paths in named.items()
           for pair in missing(script, paths)]
    assert not bad, f'configs that do not exist: {bad}'


def test_the_checker_reads_the_pages():
    """Not vacuous: the pages name many paths and links."""
    paths = [p for page in PAGES for p in named_paths(read(page))]
    assert len(paths) > 50, paths
    assert any(links(read(page)) for page in PAGES)


SAMPLE = '''# A page

## Using `tools/train.py`: the basics

See [the configs](../configs/), [this](#using-toolstrainpy-the-basics),
[the tools](tools.md#toolstrainpy), ![a plot](demo_sweep_lstm.png) and
[the web](https://example.com); not [nothing](no_such_file.md),
[a bad anchor](#no-such-heading), [another](tools.md#no-such-tool) or
![a missing plot](
missing.png).

The table's `rulstm_epic_P_M_scp.py`, `lstm_demo_{glvn,vn}.py`,
`tools/train.py CFG --work-dir DIR`, `configs/lstm_demo_P.py` and
`configs/no_such_config.py`; outputs in `work_dirs/x/`.

```bash
# a comment, not a heading
python tools/test.py configs/rulstm_egtea_${prior}_${m}.py work_dirs/x.pth
bash tools/no_such_tool.sh
```
'''


def test_the_checker_on_a_sample():
    page = 'docs/sample.md'  # its links are relative to docs/
    assert bad_links(page, SAMPLE) == [
        (page, 'no_such_file.md'), (page, '#no-such-heading'),
        (page, 'tools.md#no-such-tool'), (page, 'missing.png')]
    assert anchors(SAMPLE) == {'a-page', 'using-toolstrainpy-the-basics'}
    named = named_paths(SAMPLE)
    assert {token for token, _, _ in named} == {
        'rulstm_epic_P_M_scp.py', 'lstm_demo_{glvn,vn}.py', 'tools/train.py',
        'configs/lstm_demo_P.py', 'configs/no_such_config.py',
        'tools/test.py', 'configs/rulstm_egtea_${prior}_${m}.py',
        'tools/no_such_tool.sh'}
    paths = {path for _, path, _ in named}
    assert len([p for p in paths if 'rulstm_epic_' in p]) == 6 * 3
    assert {'configs/lstm_demo_glvn.py', 'configs/lstm_demo_vn.py',
            'configs/rulstm_egtea_gl_obj.py'} <= paths
    # EGTEA has no obj modality: its M expansions may be missing
    assert missing(page, named) == [
        (page, 'configs/no_such_config.py'), (page, 'tools/no_such_tool.sh')]


def test_placeholders():
    assert brace_expand('a_{x,y,}.py') == ['a_x.py', 'a_y.py', 'a_.py']
    assert brace_expand('{a,b}{1,2}') == ['a1', 'a2', 'b1', 'b2']
    assert [p for p, _ in expand('configs/rulstm_demo_glvn{_M_scp,_M,}.py')
            ] == [f'configs/rulstm_demo_glvn{s}.py' for s in
                  ('_rgb_scp', '_flow_scp', '_obj_scp', '_rgb', '_flow',
                   '_obj', '')]
    assert expand('configs/MAP.py') == [('configs/MAP.py', False)]
    assert [mod for _, mod in expand('lstm_P_M.py')] == [True] * 18
    for token in ('tools/NAME.py', 'configs/*.py', 'configs/<name>.py',
                  'configs/.../x.py', 'configs/{model}_x.py', 'tools/DIR'):
        assert is_placeholder(token), token
    assert not is_placeholder('lsant_mmaction/priors/data/README.md')
