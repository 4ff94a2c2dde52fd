"""Scripts that rerun the paper's experiments (the library side of ``bin/``)."""
