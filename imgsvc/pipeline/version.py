"""The version of the pipeline's output, in a module of its own so that the
configuration (which derives the fingerprint from it) and the steps can both import
it without importing each other."""

#: Bumped whenever a change of code alters the output; part of the fingerprint, so a
#: bump marks every stored set outdated. ``tests/pipeline/test_golden.py`` fails when
#: the output changes and this does not.
PIPELINE_VERSION = 3
