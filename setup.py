"""Packaging for dat_tf.  ``pip install -e .`` (library) or ``pip install -e ".[test]"``."""

from setuptools import find_packages, setup

setup(
    name="dat_tf",
    version="0.1.0",
    description="Direct Adversarial Training for GANs in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["dat_tf", "dat_tf.*"]),
    package_data={"dat_tf.metrics": ["assets/*.keras", "assets/*.json"]},
    python_requires=">=3.10",
    install_requires=[
        # The floors are the oldest pair the tests pass on (CI runs the fast tests there; docs/design.md,
        # "Supported versions"): TensorFlow 2.16/2.17 pin protobuf < 5, which tensorflow-datasets'
        # tensorflow-metadata 1.21 and tensorflow-probability 0.25 cannot import with; Keras 3.15 is the
        # first whose learning-rate and logging callbacks act on each optimizer of GAN.optimizer.
        "tensorflow>=2.18,<2.22",
        "keras>=3.15,<4",
        # TensorFlow >= 2.20 no longer pulls TensorBoard in; the logging callbacks need it.
        "tensorboard>=2.18,<2.22",
        "tensorflow-datasets>=4.9.4,<5",
        # tensorflow-metadata 1.21 (tensorflow-datasets') imports protobuf's runtime_version (protobuf >= 5.26)
        # but declares protobuf >= 4.25.2.
        "protobuf>=5.26",
        # Imported only through dat_tf's loader: its root package needs tf.estimator (gone in TF 2.16).
        "tensorflow-gan>=2.1,<3",
        # TF-GAN's classifier_metrics imports it; each release refuses TensorFlow older than its own floor at
        # import (0.25: TF >= 2.18) without declaring it, so the range is the one tested.
        "tensorflow-probability>=0.25,<0.26",
        # tensorflow-datasets imports it on download without declaring it.
        "importlib_resources>=5",
        "numpy>=1.26,<3",
        "absl-py>=1.4",
        # The offline image dataset (8x8 digits ships inside the wheel) and 2D sample plots.
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
        # The results page's paired t tests (dat_tf/experiments/stats.py); scikit-learn needs it anyway.
        "scipy>=1.11",
    ],
    extras_require={
        "test": ["pytest>=7.4", "scipy>=1.11"],
    },
    scripts=["bin/train.py", "bin/figure3.py", "bin/eval.py", "bin/attack.py", "bin/sample.py", "bin/train_digits_classifier.py"],
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
