"""The summary report: context (``context``), page (``html``), charts, tables (``xlsx``), rendering evidence (``screenshot``)."""
