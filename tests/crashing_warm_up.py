"""A warm-up module that crashes its importer as a broken numba cache does (test_analysis_workers)."""

import ctypes

ctypes.string_at(0)
