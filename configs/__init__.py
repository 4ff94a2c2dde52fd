"""The flagfiles, one per experiment; installed with the package as ``dat_tf.configs`` (setup.py), where
``--flagfile=<bare name>`` finds them (dat_tf/flagfiles.py)."""
