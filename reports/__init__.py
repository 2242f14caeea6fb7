"""CSV exports and the one-page HTML report: the warehouse turned into what leaders read.

A layer of its own (models -> warehouse -> connectors and reports -> pipelines -> command line):
it reads the `metrics` (and exported `core`) tables and writes files; it never syncs, never
builds a table and never imports Dagster, so the nightly asset and `flowmetrics export` share it.
"""
