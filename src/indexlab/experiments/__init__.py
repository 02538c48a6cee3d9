"""Experiments: running learners on targets, summaries and plots (sweeps come later)."""
