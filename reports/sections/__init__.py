"""The sections of the report, each a pure function of the rows ``reports.queries`` returns.

A section never reads the database: ``reports.model.build_report`` fetches its
rows and hands them in, so every figure can be checked against hand-built rows.
"""
