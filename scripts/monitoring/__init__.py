"""The production loop's evidence: replay traffic, ground-truth labels, and the monitor's verdict."""
