"""Crash-report intake: wire formats turned into reports, and the batching writer."""
