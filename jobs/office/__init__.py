"""jobs/office"""
