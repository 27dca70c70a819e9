"""The registry helper: register, promote, resolve and retrieve model versions kept in git + DVC.

`api` is the Python interface (one function per command, typed results from `results`); `cli`
is the `registry` command over it. docs/architecture.md in the template describes the layers.
"""

__version__ = "0.1.0"
