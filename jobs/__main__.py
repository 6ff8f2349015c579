from jobs.cli import run

run()
