"""Remotes: the project's state on another disk, an object store or an SSH host (make push / pull)."""
