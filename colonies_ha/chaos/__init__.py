"""Fault injection: local clusters of real replica processes and the chaos checker."""
