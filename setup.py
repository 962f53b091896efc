"""The three top-level folders install as one import namespace, `alice`.

pyproject.toml cannot say "folder X is package alice.X, with all its subpackages"
declaratively, so the package list is computed here; everything else lives in
pyproject.toml.
"""
from setuptools import find_packages, setup

TOP = ("daemon", "pipeline", "providers")

packages = []
for top in TOP:
    packages.append(f"alice.{top}")
    packages.extend(f"alice.{top}.{sub}" for sub in find_packages(top))

setup(packages=packages, package_dir={f"alice.{top}": top for top in TOP})
