"""Compute kernels from outside XLA, called through its FFI (ganjax.kernels.onednn)."""
