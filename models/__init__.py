"""Offline model registry: find models in installed wheels, verify sha256, prepare a cache.

Importing this package does no file access; see :class:`models.registry.ModelRegistry`.
"""

from models.errors import ModelError
from models.registry import ModelRegistry, ModelStatus, default_cache_dir

__all__ = ["ModelError", "ModelRegistry", "ModelStatus", "default_cache_dir"]
