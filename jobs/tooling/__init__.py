"""jobs/tooling"""
