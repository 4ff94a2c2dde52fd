"""Packaging for dat_tf.  ``pip install -e .`` (library) or ``pip install -e ".[test]"``."""

from setuptools import find_packages, setup

setup(
    name="dat_tf",
    version="0.1.0",
    description="Direct Adversarial Training for GANs in TensorFlow 2 / Keras 3",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["dat_tf", "dat_tf.*", "dat_study", "dat_study.*"]),
    package_data={"dat_tf.metrics": ["assets/*.keras", "assets/*.json"]},
    python_requires=">=3.10",
    install_requires=[
        "tensorflow>=2.16,<2.22",
        "keras>=3.3,<4",
        # TensorFlow >= 2.20 no longer pulls TensorBoard in; the logging callbacks need it.
        "tensorboard>=2.16,<2.22",
        "tensorflow-datasets>=4.9.4,<5",
        # Imported only through dat_tf's loader: its root package needs tf.estimator (gone in TF 2.16).
        "tensorflow-gan>=2.1,<3",
        # tensorflow-datasets imports it on download without declaring it.
        "importlib_resources>=5",
        "numpy>=1.26,<3",
        "absl-py>=1.4",
        # The offline image dataset (8x8 digits ships inside the wheel) and 2D sample plots.
        "scikit-learn>=1.3",
        "matplotlib>=3.7",
        # The results page's paired t tests (dat_study/stats.py); scikit-learn needs it anyway.
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
