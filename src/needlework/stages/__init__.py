"""One function per workflow step: read inputs, call the pure logic, write outputs, track the run.

Snakemake scripts call these and nothing else; they never import snakemake themselves.
"""
