"""The fault suite (marker ``faults``): hostile input and heavy load against real local servers.

Each test turns one attack or failure into an assertion: nothing lost, nothing doubled, a clear
message, bounded memory, and termination within a configured deadline plus a margin.
"""
