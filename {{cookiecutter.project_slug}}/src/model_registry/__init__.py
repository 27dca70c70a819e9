"""The registry helper: register, promote, resolve and retrieve model versions kept in git + DVC.

Modules, one concern each: `tags` (grammar and resolution), `cards` (model cards), `storage`
(DVC), `gitrepo` (git), `config` (registry.yaml), `operations` (what the commands do), `cli`.
"""

__version__ = "0.1.0"
