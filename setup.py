from setuptools import find_packages, setup

setup(
    name='lsant-mmaction',
    version='0.1.0',
    description='Action anticipation with prior-smoothed cross-entropy '
    '(Camporese et al., ICPR 2020) for mmaction2',
    license='Apache-2.0',
    packages=find_packages(include=['lsant_mmaction', 'lsant_mmaction.*']),
    package_data={'lsant_mmaction.priors': ['data/*.txt', 'data/*.md']},
    python_requires='>=3.8',
    # torch and mmcv are deliberately not listed: GPU users bring a CUDA torch
    # and full mmcv; the CPU pin set lives in requirements/cpu.txt.
    install_requires=[
        'mmengine>=0.10',
        'mmaction2>=1.2',
        'numpy',
        'gensim>=4.3',
        'lmdb',
    ],
)
