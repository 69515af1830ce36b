"""The benchmark layout: the one place that parses annotation files and
states the time grid (pure Python/numpy; nothing else in the package reads
these files).

- :mod:`.segments`: RU-LSTM split CSVs.
- :mod:`.vocabulary`: actions, their verb and noun ids, class names.
- :mod:`.class_lists`: many-shot verbs, nouns and actions; segment-id
  lists of evaluation subsets (EK100's unseen participants, tail classes).
- :mod:`.time_grid`: when a segment is observed and what its outputs
  anticipate.
- :mod:`.csv_files`: the CSV reading they share.
"""
from .class_lists import (MANY_SHOT_RULES, many_shot_classes,
                          read_class_list, read_id_list,
                          read_many_shot_actions)
from .class_tables import (ClassGroups, ClassNames, ClassSequences,
                           read_class_groups, read_class_names_list,
                           read_class_sequences)
from .csv_files import parse_int, read_columns, read_rows
from .segments import (ID_TYPES, SEGMENT_COLUMNS, SEGMENT_ID_TYPES, Segments,
                       read_segments)
from .time_grid import TimeGrid, horizon_name
from .vocabulary import (VOCABULARIES, ActionVocabulary,
                         read_class_names, read_egtea_vocabulary,
                         read_epic55_vocabulary, read_epic100_vocabulary,
                         read_vocabulary)

__all__ = [
    'ID_TYPES', 'MANY_SHOT_RULES', 'SEGMENT_COLUMNS', 'SEGMENT_ID_TYPES',
    'VOCABULARIES', 'ActionVocabulary', 'ClassGroups', 'ClassNames',
    'ClassSequences', 'Segments', 'TimeGrid', 'horizon_name',
    'many_shot_classes', 'parse_int', 'read_class_groups', 'read_class_list',
    'read_class_names', 'read_class_names_list', 'read_class_sequences',
    'read_columns', 'read_egtea_vocabulary', 'read_epic55_vocabulary',
    'read_epic100_vocabulary', 'read_id_list', 'read_many_shot_actions',
    'read_rows', 'read_segments', 'read_vocabulary'
]
