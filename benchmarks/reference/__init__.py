"""Hand-written reference implementations the benchmarks compare against."""
