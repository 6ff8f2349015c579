"""Package data: the return format and rules as data (shipped as ``jobs.schemas``)."""
