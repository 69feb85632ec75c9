"""The benchmark harness (``make bench``): synthetic data at national scale and side-by-side
measurements of the sweep, the pages and the school submissions. See ``bench.run``."""
