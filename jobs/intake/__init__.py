"""jobs/intake"""
