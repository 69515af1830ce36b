from .anticipator import Anticipator

__all__ = ['Anticipator']
