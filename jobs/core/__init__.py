"""jobs/core"""
