from .load_lmdb_features import LoadLMDBFeatures

__all__ = ['LoadLMDBFeatures']
