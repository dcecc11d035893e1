"""needlework: long-context fine-tuning and needle-in-a-haystack evaluation."""
__version__ = "0.1.0"
