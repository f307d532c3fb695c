"""Shared libraries: config, store (hashing, atomic writes, metadata, locks), artifacts, features,
metrics, drift, the registry, raw-data reading and model construction. Imports nothing above."""
