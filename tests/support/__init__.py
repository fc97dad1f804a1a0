"""Test support shared by tests/ and benchmarks/: tiny model builders, fake API servers, MMVP data
helpers and reference implementations of the original scripts. Never imported by the packages."""
