"""For developers: benchmarks, the demo, the smoke test, pre-commit hooks and test sandboxes."""
