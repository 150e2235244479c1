"""Takedown and dispute workflow: notices, counter-notices, statutory timers, evidence reports.

Empty until the disputes issue lands.
"""
