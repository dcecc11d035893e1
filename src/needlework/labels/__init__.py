"""Needle labels: the schema, the infobox parser and LLM labeling."""
