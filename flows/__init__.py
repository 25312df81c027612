"""Prefect flows: thin compositions of tasks into the lifecycle of a programme round."""
