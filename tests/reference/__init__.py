"""Independent reference implementations used by the tests and benchmarks."""
