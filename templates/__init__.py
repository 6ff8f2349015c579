"""Package data: the report and receipt templates (shipped as ``jobs.templates``)."""
