"""Kesu inspection: a library that turns a recorded session into findings.

It never imports ``server``: callers pass plain inputs (paths, a template, policy data)
and get a :class:`inspection.report.Report` back.
"""
