"""Prefect tasks: each wraps one core step or one side effect, with retries where it helps.

Tasks hold no SQL and no business rules: they call :mod:`qcycle` and open a session.
"""
