"""Crash-report intake: wire formats (native, Backtrace, Sentry) to reports, and the writer."""
