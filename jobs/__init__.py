"""rectify: collect, validate and summarise the monthly rectification returns."""

__version__ = "0.1.0"
